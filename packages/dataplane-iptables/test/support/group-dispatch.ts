/**
 * Hand-built renderings of the `groupDispatch: 'ipset'` layout (docs: design "workload policy
 * groups dispatched by IP set membership"), for the planner's and the scope index's tests while
 * the renderer does not make them yet: the names, set types and dispatch rules are the design's
 * (per-interface `hash:net,iface` sets `<p><f>0if:IF`, group `list:set`s `<p><f>0gi:`/`go:`+hash,
 * tier dispatch chains `<p>tdi-`/`tdo-<tier>` with one `--match-set G dst,dst|src,src -g X` rule
 * per group, sorted by set name). The rest is reduced to what paths need: FORWARD reaches the
 * `-i`/`-o` workload dispatch chains, endpoint chains jump to their tiers' dispatch chains and
 * drop what no policy of the tier allowed, group chains jump to policy chains, and a policy
 * allows (sets the accept mark) a source (ingress) or destination (egress) in its selector sets.
 * `createGdKernel` runs plans on a small model of the kernel that enforces ipset's rules for
 * lists and decides packets, so each prefix of a plan can be checked against old-or-new. Pure.
 */
import { chainRuleIds } from '../../src/render/generation.js';
import { chainName, hashText, setName } from '../../src/render/names.js';
import fc from 'fast-check';
import type { PlanStep } from '../../src/apply/plan.js';
import type { Rendered, RenderedChain, RenderedSet } from '../../src/render/rendered.js';

export interface GdEndpoint {
  readonly iface: string;
  /** Tier name → the policy chains of the endpoint in that tier, ingress. */
  readonly ingress?: Readonly<Record<string, readonly string[]>>;
  readonly egress?: Readonly<Record<string, readonly string[]>>;
}

export interface GdWorld {
  readonly endpoints: readonly GdEndpoint[];
  /** Policy chain → the selector sets (canonical ids) its rules name. */
  readonly policies: Readonly<Record<string, readonly string[]>>;
  /** Selector set id → members. */
  readonly selectors: Readonly<Record<string, readonly string[]>>;
}

export const P = 'gh';

export const ifSet = (family: 4 | 6, iface: string): string => setName(P, family, false, `if:${iface}`);
export const groupSet = (family: 4 | 6, dir: 'ingress' | 'egress', tier: string, pols: readonly string[]): string =>
  setName(P, family, false, (dir === 'ingress' ? 'gi:' : 'go:') + hashText(`${tier}|${dir}|${pols.join(' ')}`, 22));
export const selectorSet = (family: 4 | 6, id: string): string => setName(P, family, false, id);
export const dispatchChain = (dir: 'ingress' | 'egress', tier: string): string => chainName(P, dir === 'ingress' ? 'tdi' : 'tdo', tier);
const groupChain = (dir: 'ingress' | 'egress', pols: readonly string[]): string => chainName(P, dir === 'ingress' ? 'gi' : 'go', hashText(`${dir}|${pols.join(' ')}`, 16));

function chain(name: string, rules: readonly (readonly string[])[]): RenderedChain {
  const ids = chainRuleIds('filter', name, rules);
  return { table: 'filter', name, rules: rules.map((args, i) => ({ id: ids[i]!, args })) };
}

/** The rendering of `w` in one family (chains and sets sorted by name). */
export function gdRender(w: GdWorld, family: 4 | 6 = 4): Rendered {
  const chains = new Map<string, RenderedChain>();
  const sets = new Map<string, RenderedSet>();
  const put = (name: string, rules: readonly (readonly string[])[]): void => void chains.set(name, chain(name, rules));
  const any = family === 4 ? '0.0.0.0/0' : '::/0';
  // Groups per (direction, tier): group set → [target, member interface sets].
  const groups = new Map<string, Map<string, { target: string; members: string[] }>>();
  const toWl: string[][] = [];
  const fromWl: string[][] = [];
  const usedSelectors = new Set<string>();
  for (const e of w.endpoints) {
    const own = ifSet(family, e.iface);
    sets.set(own, { name: own, type: 'hash:net,iface', family, members: [`${any},${e.iface}`] });
    for (const dir of ['ingress', 'egress'] as const) {
      const tiers = (dir === 'ingress' ? e.ingress : e.egress) ?? {};
      const rules: string[][] = [];
      for (const [tier, pols] of Object.entries(tiers).sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (pols.length === 0) continue;
        const g = groupSet(family, dir, tier, pols);
        const key = `${dir}|${tier}`;
        let byGroup = groups.get(key);
        if (!byGroup) groups.set(key, (byGroup = new Map()));
        let entry = byGroup.get(g);
        if (!entry) {
          const target = pols.length === 1 ? pols[0]! : groupChain(dir, pols);
          if (pols.length > 1) put(target, pols.map((p) => ['-j', p]));
          byGroup.set(g, (entry = { target, members: [] }));
        }
        entry.members.push(own);
        for (const p of pols) {
          put(p, (w.policies[p] ?? []).map((id) => ['-m', 'set', '--match-set', selectorSet(family, id), dir === 'ingress' ? 'src' : 'dst', '-j', 'MARK', '--set-xmark', '0x1/0x1']));
          for (const id of w.policies[p] ?? []) usedSelectors.add(id);
        }
        // Each tier: clear the accept mark, dispatch, deny when no policy of the group allowed.
        rules.push(['-j', 'MARK', '--set-xmark', '0x0/0x1'], ['-j', dispatchChain(dir, tier)], ['-m', 'mark', '--mark', '0x0/0x1', '-j', 'DROP']);
      }
      const name = chainName(P, dir === 'ingress' ? 'tw' : 'fw', e.iface);
      put(name, rules);
      (dir === 'ingress' ? toWl : fromWl).push([dir === 'ingress' ? '-o' : '-i', e.iface, '-g', name]);
    }
  }
  for (const [key, byGroup] of groups) {
    const [dir, tier] = key.split('|') as ['ingress' | 'egress', string];
    const flags = dir === 'ingress' ? 'dst,dst' : 'src,src';
    const names = [...byGroup.keys()].sort();
    put(dispatchChain(dir, tier), names.map((g) => ['-m', 'set', '--match-set', g, flags, '-g', byGroup.get(g)!.target]));
    for (const g of names) sets.set(g, { name: g, type: 'list:set', family, members: [...byGroup.get(g)!.members].sort() });
  }
  for (const id of usedSelectors) {
    const n = selectorSet(family, id);
    sets.set(n, { name: n, type: 'hash:net', family, members: [...(w.selectors[id] ?? [])] });
  }
  put(`${P}to-wl`, toWl);
  put(`${P}from-wl`, fromWl);
  put(`${P}FORWARD`, [['-j', `${P}from-wl`], ['-j', `${P}to-wl`], ['-j', 'ACCEPT']]);
  const byName = <T extends { name: string }>(m: Map<string, T>): T[] => [...m.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    family,
    chainPrefix: P,
    setPrefix: P,
    commentTag: `${P}:`,
    chains: byName(chains),
    sets: byName(sets),
    hooks: [{ table: 'filter', chain: 'FORWARD', target: `${P}FORWARD`, args: ['-j', `${P}FORWARD`] }],
    nflogNames: new Map(),
  };
}

export interface GdPacket {
  readonly in: string;
  readonly out: string;
  readonly src: string;
  readonly dst: string;
}

/** The model of one family's kernel: chains in force (by name), sets (by name). */
export interface GdKernel {
  chains: Map<string, readonly (readonly string[])[]>;
  readonly sets: Map<string, { type: string; members: Set<string> }>;
  /** Runs one atomic step: one ipset line, or (`restore`) the chains of `to` in one commit. Throws where ipset or iptables would refuse. */
  step(line: string | { restore: Rendered }): void;
  verdict(p: GdPacket): 'ACCEPT' | 'DROP';
}

export function createGdKernel(): GdKernel {
  const k: GdKernel = {
    chains: new Map(),
    sets: new Map(),
    step(line) {
      const fail = (why: string): never => {
        throw new Error(`${typeof line === 'string' ? line : 'restore'}: ${why}`);
      };
      if (typeof line !== 'string') {
        const chains = new Map(line.restore.chains.map((c) => [c.name, c.rules.map((x) => x.args)] as const));
        for (const rules of chains.values()) for (const a of rules) a.forEach((x, j) => a[j - 1] === '--match-set' && !k.sets.has(x) && fail(`set ${x} does not exist`));
        k.chains = chains;
        return;
      }
      const [op, name, ...rest] = line.split(' ');
      const have = k.sets.get(name!);
      if (op === 'create') {
        if (have && have.type !== rest[0]) fail('exists with another type');
        if (!have) k.sets.set(name!, { type: rest[0]!, members: new Set() });
        return;
      }
      if (!have) fail('no such set');
      if (op === 'flush') have!.members.clear();
      else if (op === 'add') {
        if (have!.type === 'list:set') {
          const m = k.sets.get(rest[0]!);
          if (!m || m.type === 'list:set') fail('member is no set of another type');
        }
        have!.members.add(rest[0]!);
      } else if (op === 'del') have!.members.delete(rest[0]!);
      else if (op === 'swap') {
        const other = k.sets.get(rest[0]!);
        if (!other || other.type !== have!.type) fail('swap: missing or other type');
        k.sets.set(name!, other!);
        k.sets.set(rest[0]!, have!);
      } else if (op === 'destroy') {
        for (const rules of k.chains.values()) for (const a of rules) if (a.includes(name!)) fail('in use by a rule');
        for (const s of k.sets.values()) if (s.type === 'list:set' && s.members.has(name!)) fail('in use by a kernel component');
        k.sets.delete(name!);
      } else fail('unknown line');
    },
    verdict(p) {
      let mark = 0;
      const inSet = (name: string, flags: string): boolean => {
        const s = k.sets.get(name)!;
        if (s.type === 'list:set') return [...s.members].some((m) => inSet(m, flags));
        const f = flags.split(',');
        if (s.type === 'hash:net,iface') {
          const iface = f[1] === 'src' ? p.in : p.out;
          return [...s.members].some((m) => m.endsWith(`,${iface}`));
        }
        return s.members.has(f[0] === 'src' ? p.src : p.dst);
      };
      /** 'ACCEPT' | 'DROP' | 'return' (fell off or RETURN). */
      const run = (chain: string, depth: number): 'ACCEPT' | 'DROP' | 'return' => {
        if (depth > 20) throw new Error('loop');
        for (const a of k.chains.get(chain) ?? []) {
          let ok = true;
          for (let j = 0; j < a.length && ok; j++) {
            if (a[j] === '-i') ok = a[j + 1] === p.in;
            else if (a[j] === '-o') ok = a[j + 1] === p.out;
            else if (a[j] === '--match-set') ok = inSet(a[j + 1]!, a[j + 2]!) !== (a[j - 1] === '!');
            else if (a[j] === '--mark') {
              const [v, m] = a[j + 1]!.split('/').map((x) => Number(x));
              ok = (mark & m!) === v;
            }
          }
          if (!ok) continue;
          const at = Math.max(a.indexOf('-j'), a.indexOf('-g'));
          const target = a[at + 1]!;
          if (target === 'ACCEPT' || target === 'DROP') return target;
          if (target === 'RETURN') return 'return';
          if (target === 'MARK') {
            const [v, m] = a[a.indexOf('--set-xmark') + 1]!.split('/').map((x) => Number(x));
            mark = (mark & ~m!) ^ v!;
            continue;
          }
          const r = run(target, depth + 1);
          if (r !== 'return') return r;
          if (a[at] === '-g') return 'return';
        }
        return 'return';
      };
      const r = run(`${P}FORWARD`, 0);
      return r === 'return' ? 'ACCEPT' : r;
    },
  };
  return k;
}

/** Every packet between the interfaces (each carrying `addr(iface)`), in and out different. */
export function gdPackets(ifaces: readonly string[], addr: (iface: string) => string): GdPacket[] {
  return ifaces.flatMap((i) => ifaces.filter((o) => o !== i).map((o) => ({ in: i, out: o, src: addr(i), dst: addr(o) })));
}

/** A plan's atomic steps, in order: each ipset line, each restore step (with the plan's rendering, written in it). */
export function atomicSteps(steps: readonly PlanStep[], rendered: Rendered): (string | { restore: Rendered })[] {
  return steps.flatMap((s): (string | { restore: Rendered })[] => (s.kind === 'ipset' ? [...s.lines] : [{ restore: rendered }]));
}

const POLS = ['pa', 'pb', 'pc'];
/** Few groups, so that endpoints share them and moves between existing groups are common. */
const GROUPS: readonly (readonly string[])[] = [['pa'], ['pb', 'pc'], ['pc']];
const gdEndpoint = (n: number): fc.Arbitrary<GdEndpoint> => {
  const tiers = fc.record({ t1: fc.constantFrom(...GROUPS), t2: fc.subarray(POLS) }, { requiredKeys: ['t1'] });
  return fc.record({ ingress: tiers, egress: tiers }).map((x) => ({ iface: `cali${n}`, ...x }));
};
/** Worlds of up to four endpoints (`cali0`–`cali3`), policies `pa`–`pc` naming some of `sets`, whose members are some of `addrs`. */
export const gdWorld = (sets: readonly string[], addrs: readonly string[], minEndpoints = 0): fc.Arbitrary<GdWorld> =>
  fc
    .record({
      endpoints: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: minEndpoints, maxLength: 4 }).chain((ns) => fc.tuple(...ns.map(gdEndpoint))),
      policies: fc.record(Object.fromEntries(POLS.map((p) => [p, fc.subarray([...sets])]))),
      selectors: fc.record(Object.fromEntries(sets.map((id) => [id, fc.subarray([...addrs])]))),
    })
    .map((w) => ({ ...w, endpoints: [...w.endpoints] }));
/** The label change: one endpoint's policies in one tier and direction (a move between groups when both exist). */
export const gdMove = (w: GdWorld): fc.Arbitrary<GdWorld> =>
  w.endpoints.length === 0
    ? fc.constant(w)
    : fc.record({ at: fc.integer({ min: 0, max: w.endpoints.length - 1 }), dir: fc.constantFrom('ingress' as const, 'egress' as const), pols: fc.oneof(fc.constantFrom(...GROUPS), fc.subarray(POLS, { minLength: 1 })) }).map(({ at, dir, pols }) => ({
        ...w,
        endpoints: w.endpoints.map((e, i) => (i === at ? { ...e, [dir]: { ...e[dir], t1: pols } } : e)),
      }));

