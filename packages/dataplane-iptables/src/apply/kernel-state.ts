/**
 * Reading our part of the kernel back: chains under our prefix with the rule ids from their
 * comments, our hook rules in the built-in chains, and our IP sets with their members. Parsing
 * ids, not rules, is what makes adoption cheap (the Felix way).
 */
import { parseIpAddrJson as parseIpAddrJsonText } from '@gingham/core';
import { IptablesError } from '../errors.js';
import { generationOfRule } from '../render/generation.js';
export interface KernelChain {
  readonly ids: readonly string[];
  /** The IP sets its rules name (`--match-set NAME`), in rule order, with repeats. */
  readonly sets: readonly string[];
}

export interface KernelSet {
  /** As `ipset save` names it: `hash:net`, `hash:net,port`, `hash:net,iface`, `list:set`, or anything an older run made. */
  readonly type: string;
  /**
   * Hash sets: members with the prefix length made explicit (`10.0.0.1,cali1` → `10.0.0.1/32,cali1`),
   * as the renderer writes them. `list:set`: the member set names, verbatim.
   */
  readonly members: Set<string>;
}

export interface KernelState {
  /** `<table>:<chain>` → our chain. */
  readonly chains: Map<string, KernelChain>;
  /** `<table>:<built-in chain>` → our hook rules there, as normalized argument strings. */
  readonly hooks: Map<string, string[]>;
  readonly sets: Map<string, KernelSet>;
  /** `<table>` → the generation its stamp (raw) or checks (mangle, filter) carry; absent without host endpoints. */
  readonly generations: Map<string, number>;
}

/** What the read-back needs to recognise generation stamps and checks (ResolvedRenderOptions has both). */
export interface StampBits {
  readonly stampBits: readonly number[];
  readonly acceptMark: number;
  readonly passMark: number;
}

const SET_REF = /--match-set\s+(\S+)/g;
const BUILTIN = new Set(['INPUT', 'OUTPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING']);

function unquote(line: string): string {
  return line.replace(/"/g, '');
}

/** Parses `iptables-save -t <table>` output (and, given `stamp`, the table's generation). */
export function parseIptablesSave(table: string, text: string, chainPrefix: string, commentTag: string, into: KernelState, stamp?: StampBits): void {
  const idRe = new RegExp(`--comment "?${commentTag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([A-Za-z0-9_-]+)"?`);
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0]!;
      if (name.startsWith(chainPrefix) && !into.chains.has(`${table}:${name}`)) into.chains.set(`${table}:${name}`, { ids: [], sets: [] });
    } else if (line.startsWith('-A ')) {
      const rest = line.slice(3);
      const sp = rest.indexOf(' ');
      const chain = sp < 0 ? rest : rest.slice(0, sp);
      const args = sp < 0 ? '' : rest.slice(sp + 1);
      const m = idRe.exec(args);
      if (chain.startsWith(chainPrefix)) {
        const c = into.chains.get(`${table}:${chain}`) ?? { ids: [], sets: [] };
        (c.ids as string[]).push(m ? m[1]! : '?');
        for (const s of args.matchAll(SET_REF)) (c.sets as string[]).push(s[1]!);
        const g = stamp && args.includes('mark') ? generationOfRule(stamp.stampBits, stamp.acceptMark | stamp.passMark, args) : undefined;
        if (g !== undefined && !into.generations.has(table)) into.generations.set(table, g);
        into.chains.set(`${table}:${chain}`, c);
      } else if (BUILTIN.has(chain) && m && m[1] === 'hook') {
        const list = into.hooks.get(`${table}:${chain}`) ?? [];
        list.push(unquote(args));
        into.hooks.set(`${table}:${chain}`, list);
      }
    }
  }
}

function normalizeMember(member: string, family: 4 | 6): string {
  const [net, rest] = member.split(/,(.*)/s, 2) as [string, string | undefined];
  const withPrefix = net.includes('/') ? net : `${net}/${family === 4 ? 32 : 128}`;
  return rest === undefined ? withPrefix : `${withPrefix},${rest}`;
}

/**
 * Parses `ipset save` output, keeping sets whose name matches `owned` (a list's members are kept
 * whoever owns them: `clean()` and the planner must see every set a list of ours holds).
 */
export function parseIpsetSave(text: string, owned: (name: string) => 4 | 6 | undefined, into: KernelState): void {
  for (const raw of text.split('\n')) {
    const parts = raw.trim().split(/\s+/);
    if (parts[0] === 'create' && parts[1] && owned(parts[1]) !== undefined) {
      into.sets.set(parts[1], { type: parts[2] ?? '', members: new Set() });
    } else if (parts[0] === 'add' && parts[1] && parts[2]) {
      const fam = owned(parts[1]);
      const s = into.sets.get(parts[1]);
      if (s && fam !== undefined) s.members.add(s.type === 'list:set' ? parts[2] : normalizeMember(parts[2], fam));
    }
  }
}

/** `^<setPrefix><family>[01t]`: set names of ours (both versions and the temporary). */
export function ownedSetMatcher(setPrefix: string): (name: string) => 4 | 6 | undefined {
  return (name) => {
    if (!name.startsWith(setPrefix)) return undefined;
    const m = /^([46])[01t]/.exec(name.slice(setPrefix.length));
    return m ? (Number(m[1]) as 4 | 6) : undefined;
  };
}

export function emptyKernelState(): KernelState {
  return { chains: new Map(), hooks: new Map(), sets: new Map(), generations: new Map() };
}

/** A deep copy sharing no object with `k`, as a fresh read of the kernel would give (the planner's reuse is tested against it). */
export function cloneKernelState(k: KernelState): KernelState {
  return {
    chains: new Map([...k.chains].map(([n, c]) => [n, { ids: [...c.ids], sets: [...c.sets] }])),
    hooks: new Map([...k.hooks].map(([n, l]) => [n, [...l]])),
    sets: new Map([...k.sets].map(([n, s]) => [n, { type: s.type, members: new Set(s.members) }])),
    generations: new Map(k.generations),
  };
}

/** `ip -j addr show` output → interface name → its addresses (core's parser; malformed output is a failed read-back). */
export function parseIpAddrJson(text: string): Map<string, string[]> {
  const out = parseIpAddrJsonText(text);
  if (!out) throw new IptablesError('IPTABLES_COMMAND_FAILED', `ip -j addr show: expected a JSON array, got: ${text.slice(0, 80)}`);
  return out;
}
