/**
 * The generation stamp: how a batch that changes rules in more than one table stays fail closed
 * although iptables-restore commits one table at a time (docs/dataplane-iptables.md, "Several
 * tables").
 *
 * When host endpoints exist, raw's `<p>PREROUTING` and `<p>OUTPUT` stamp every packet with the
 * generation of the raw rules in force (three bits of the mark mask above accept and pass), and
 * mangle's `<p>PREROUTING` and filter's `<p>FORWARD`, `<p>INPUT` and `<p>OUTPUT` drop every new
 * (not ESTABLISHED/RELATED) packet whose stamp is not their own generation before any decision
 * of theirs. A packet is then decided by raw, mangle and filter rules of one rendering, or
 * dropped. Generation 0 is "unstamped" and matches no table. Pure: it only rewrites renderings.
 */
import { IptablesError } from '../errors.js';
import type { Table } from './options.js';
import type { Rendered, RenderedChain, RenderedRule } from './rendered.js';
import { hashText } from './names.js';

/** Generation values 1-7 (0 = unstamped). At most three are in force at once (raw, mangle, filter). */
export const MAX_GENERATION = 7;

/** The mark bits of the stamp, lowest first, and the bits the stamp rule clears. */
export interface GenerationStamp {
  readonly generation: number;
  readonly bits: readonly number[];
  /** Accept and pass: cleared by the stamp rule together with the generation bits. */
  readonly clearMask: number;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export function generationMask(bits: readonly number[]): number {
  return bits.reduce((a, b) => (a | b) >>> 0, 0);
}

/** The mark value of generation `g` spread over `bits`. */
export function generationValue(bits: readonly number[], g: number): number {
  let v = 0;
  bits.forEach((b, i) => {
    if (((g >>> i) & 1) === 1) v = (v | b) >>> 0;
  });
  return v;
}

/** The generation a mark value carries (`value` already masked). */
export function decodeGeneration(bits: readonly number[], value: number): number {
  let g = 0;
  bits.forEach((b, i) => {
    if ((value & b) !== 0) g |= 1 << i;
  });
  return g;
}

export function assertStampBits(bits: readonly number[], mask: number): void {
  if (bits.length < 3) {
    throw new IptablesError('IPTABLES_INVALID_ARGUMENT', `mark mask 0x${mask.toString(16)} needs at least 5 bits when host endpoints exist (accept, pass and a 3-bit generation stamp)`);
  }
}

/** raw: clear accept, pass and the old stamp; set this generation. */
export function stampRule(s: GenerationStamp): string[] {
  const m = generationMask(s.bits);
  return ['-j', 'MARK', '--set-xmark', `${hex(generationValue(s.bits, s.generation))}/${hex((m | s.clearMask) >>> 0)}`];
}

/** mangle, filter: drop a new packet stamped by another generation's raw rules. */
export function checkRule(s: GenerationStamp): string[] {
  return ['-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED', '-m', 'mark', '!', '--mark', `${hex(generationValue(s.bits, s.generation))}/${hex(generationMask(s.bits))}`, '-j', 'DROP'];
}

/** Rule ids exactly as the renderer chains them: each id hashes table, chain, previous id and the rule text. */
export function chainRuleIds(table: string, name: string, rules: readonly (readonly string[])[]): string[] {
  let prev = '';
  return rules.map((args) => (prev = hashText(`${table}|${name}|${prev}|${args.join(' ')}`, 16)));
}

/** The rendering with its stamp and checks moved to generation `g` (ids of the chains holding them recomputed). */
export function withGeneration(r: Rendered, g: number): Rendered {
  const s = r.stamp;
  if (!s || s.generation === g) return r;
  if (!Number.isInteger(g) || g < 1 || g > MAX_GENERATION) throw new IptablesError('IPTABLES_INVALID_ARGUMENT', `generation ${g} is not in 1-${MAX_GENERATION}`);
  const next: GenerationStamp = { ...s, generation: g };
  const from = [stampRule(s), checkRule(s)].map((a) => a.join(' '));
  const to = [stampRule(next), checkRule(next)];
  const chains = r.chains.map((c): RenderedChain => {
    let touched = false;
    const argsList = c.rules.map((rule: RenderedRule) => {
      const i = from.indexOf(rule.args.join(' '));
      if (i < 0) return rule.args;
      touched = true;
      return to[i]!;
    });
    if (!touched) return c;
    const ids = chainRuleIds(c.table, c.name, argsList);
    return { ...c, rules: argsList.map((args, i) => ({ id: ids[i]!, args })) };
  });
  return { ...r, chains, stamp: next };
}

/**
 * The generation one saved rule carries, when it is a stamp or a check of ours (`args` as
 * iptables-save prints them, comment included or not).
 */
export function generationOfRule(bits: readonly number[], clearMask: number, args: string): number | undefined {
  if (bits.length < 3) return undefined;
  const m = generationMask(bits);
  const re = /--(set-xmark|mark)\s+(0x[0-9a-fA-F]+)\/(0x[0-9a-fA-F]+)/g;
  for (const x of args.matchAll(re)) {
    const value = Number(x[2]);
    const mask = Number(x[3]) >>> 0;
    if ((x[1] === 'set-xmark' && mask === ((m | clearMask) >>> 0)) || (x[1] === 'mark' && mask === m)) return decodeGeneration(bits, value & m);
  }
  return undefined;
}

/** The lowest generation not in force in any table. */
export function freshGeneration(inForce: Iterable<number>): number {
  const used = new Set(inForce);
  for (let g = 1; g <= MAX_GENERATION; g++) if (!used.has(g)) return g;
  throw new IptablesError('IPTABLES_INVALID_ARGUMENT', 'no free generation (more tables than stamp values)');
}

export type TableGenerations = Map<Table, number>;
