/**
 * The renderer: accumulated state → the chains and IP sets one address family needs, in
 * Felix's layout (see docs/dataplane-iptables.md). Pure: no I/O, deterministic output for equal
 * state. Owns only names under its prefixes; the only lines touching built-in chains are the
 * hook rules, one per built-in chain.
 *
 *   FORWARD ─▶ <p>FORWARD ─ accept clear ─▶ <p>from-hep-fwd ─ -i IF ─▶ <p>fhfw-IF (applyOnForward ingress)
 *                         ─ -i cali+ ─▶ <p>from-wl-dispatch ─ -i IF ─▶ <p>fw-IF (egress tiers, profiles)
 *                         ─ -o cali+ ─▶ <p>to-wl-dispatch   ─ -o IF ─▶ <p>tw-IF (ingress tiers, profiles)
 *                         ─▶ <p>to-hep-fwd ─ -o IF ─▶ <p>thfw-IF (applyOnForward egress)
 *                         ─ accept mark ─▶ ACCEPT          (the `*` endpoint's chains catch every other
 *                                                          interface, workload veths included)
 *   INPUT   ─▶ <p>INPUT   ─ -i cali+ ─▶ <p>wl-to-host (egress policy, DefaultEndpointToHostAction)
 *                         ─ accepted in raw/mangle ─▶ ACCEPT ; ─▶ <p>from-host-ep ─▶ <p>fh-IF (failsafe-in first)
 *   OUTPUT  ─▶ <p>OUTPUT  ─ -o cali+ ─▶ RETURN (host → own workload is not policed, as in Felix)
 *                         ─▶ <p>to-host-ep ─▶ <p>th-IF (failsafe-out first)
 *   raw/mangle PREROUTING: untracked (named endpoints) and pre-DNAT policy by arrival interface;
 *   their failsafes only admit packets for the host itself that do not come from a workload.
 *   With host endpoints raw stamps each packet's generation and mangle and filter drop new
 *   packets of another generation first (generation.ts: batches over several tables).
 *   endpoint chain: ct ESTABLISHED,RELATED accept, INVALID drop, clear marks, per tier: clear pass,
 *   per policy "pass clear → jump <p>pi-/<p>po-ID", "accept set → RETURN", end of tier drop
 *   (unless Pass); per profile "jump <p>pri-/<p>pro-ID", "accept set → RETURN"; drop. A forward
 *   chain has no profiles and ends in "set accept, RETURN": forwarded traffic no tier decided is
 *   allowed. */
import { bindHostEndpoints, type CompiledRule, type DataplaneState, type FailsafeEntry, type HostEndpointState, type IpSetType, type TierRef, type WorkloadEndpointState } from '@gingham/core';
import { IptablesError } from '../errors.js';
import { assertStampBits, checkRule, type GenerationStamp, stampRule } from './generation.js';
import { assertInterfaceName, assertLogPrefix, assertPrefix, chainName, hashText, setName } from './names.js';
import { matchVariants, type RuleContext } from './rules.js';

export type Table = 'filter' | 'mangle' | 'raw';
export type DenyAction = 'DROP' | 'REJECT';
export type EndpointToHostAction = 'ACCEPT' | 'DROP' | 'RETURN';

export interface RenderOptions {
  /** Prefix of every chain (default `gh-`). */
  readonly chainPrefix?: string;
  /** Prefix of every IP set (default `gh`; names are `<prefix><4|6><0|t><id>`). */
  readonly setPrefix?: string;
  /** Interface name prefixes of workload veths (default `['cali']`). */
  readonly workloadInterfacePrefixes?: readonly string[];
  /**
   * Mark bits Gingham may use (default `0xffff0000`); accept and pass are the two lowest, the
   * generation stamp (host endpoints only) the next three.
   */
  readonly markMask?: number;
  /** Deny rules: `DROP` (default) or `REJECT`. */
  readonly denyAction?: DenyAction;
  /** NFLOG prefix of Log rules (default `gingham-packet`). */
  readonly logPrefix?: string;
  /** NFLOG group (default 1). */
  readonly nflogGroup?: number;
  /** What happens to workload → host traffic after the workload's egress policy allowed it (default `ACCEPT`). */
  readonly endpointToHostAction?: EndpointToHostAction;
  /**
   * Flow logs (default off): NFLOG the packet that decides a new connection at each endpoint
   * policy decision (an Allow or Deny rule of a policy or profile, a tier's end, no profile), with
   * Calico-style prefixes naming what decided (`nflogPrefix`), to `ingressGroup` (default 1) or
   * `egressGroup` (default 2) as Felix uses them, for `createIptablesFlowSource`.
   */
  readonly flowLogs?: boolean | { readonly ingressGroup?: number; readonly egressGroup?: number };
}

export interface RenderedRule {
  /** Hash id carried in the rule comment (`<tag><id>`); chained, so it also pins the position. */
  readonly id: string;
  /** Everything after `-A <chain>` except the comment. */
  readonly args: readonly string[];
}

export interface RenderedChain {
  readonly table: Table;
  readonly name: string;
  readonly rules: readonly RenderedRule[];
}

export interface RenderedSet {
  readonly name: string;
  readonly type: 'hash:net' | 'hash:net,port';
  readonly family: 4 | 6;
  readonly members: readonly string[];
}

export interface HookRule {
  readonly table: Table;
  readonly chain: string;
  readonly target: string;
  /** The rule as `-I`/`-D` arguments after the chain name. */
  readonly args: readonly string[];
}

export interface Rendered {
  readonly family: 4 | 6;
  readonly chainPrefix: string;
  readonly setPrefix: string;
  readonly commentTag: string;
  readonly chains: readonly RenderedChain[];
  readonly sets: readonly RenderedSet[];
  readonly hooks: readonly HookRule[];
  /** Flow logs: names too long for an NFLOG prefix, by the hashed token (`~…`) the prefix carries. */
  readonly nflogNames: ReadonlyMap<string, string>;
  /** With host endpoints: the generation stamp raw sets and mangle and filter check (see generation.ts). */
  readonly stamp?: GenerationStamp;
}

export interface ResolvedRenderOptions {
  readonly chainPrefix: string;
  readonly setPrefix: string;
  readonly commentTag: string;
  readonly workloadInterfacePrefixes: readonly string[];
  readonly acceptMark: number;
  readonly passMark: number;
  /** The three mark bits of the generation stamp (empty when the mask has fewer than 5 bits). */
  readonly stampBits: readonly number[];
  readonly denyAction: DenyAction;
  readonly logPrefix: string;
  readonly nflogGroup: number;
  readonly endpointToHostAction: EndpointToHostAction;
  readonly flowLogs?: { readonly ingressGroup: number; readonly egressGroup: number };
}

function lowestBits(mask: number, n: number): number[] {
  const bits: number[] = [];
  for (let i = 0; i < 32 && bits.length < n; i++) if (((mask >>> i) & 1) === 1) bits.push((1 << i) >>> 0);
  return bits;
}

export function resolveRenderOptions(o: RenderOptions = {}): ResolvedRenderOptions {
  const chainPrefix = o.chainPrefix ?? 'gh-';
  const setPrefix = o.setPrefix ?? 'gh';
  assertPrefix('chain prefix', chainPrefix, 8);
  assertPrefix('set prefix', setPrefix, 8);
  const prefixes = o.workloadInterfacePrefixes ?? ['cali'];
  for (const p of prefixes) assertInterfaceName(p);
  const mask = (o.markMask ?? 0xffff0000) >>> 0;
  const [acceptMark, passMark, ...stampBits] = lowestBits(mask, 5);
  if (acceptMark === undefined || passMark === undefined) {
    throw new IptablesError('IPTABLES_INVALID_ARGUMENT', `mark mask 0x${mask.toString(16)} needs at least 2 bits`);
  }
  const logPrefix = o.logPrefix ?? 'gingham-packet';
  assertLogPrefix(logPrefix);
  const group = (g: number, what: string): number => {
    if (!Number.isInteger(g) || g < 0 || g > 65535) throw new IptablesError('IPTABLES_INVALID_ARGUMENT', `invalid ${what} ${g}`);
    return g;
  };
  const nflogGroup = group(o.nflogGroup ?? 1, 'NFLOG group');
  const fl = o.flowLogs === true ? {} : o.flowLogs || undefined;
  const flowLogs = fl ? { ingressGroup: group(fl.ingressGroup ?? 1, 'flow log ingress group'), egressGroup: group(fl.egressGroup ?? 2, 'flow log egress group') } : undefined;
  return {
    chainPrefix,
    setPrefix,
    commentTag: `${chainPrefix.replace(/-+$/, '')}:`,
    workloadInterfacePrefixes: prefixes,
    acceptMark,
    passMark,
    stampBits: stampBits.length === 3 ? stampBits : [],
    denyAction: o.denyAction ?? 'DROP',
    logPrefix,
    nflogGroup,
    endpointToHostAction: o.endpointToHostAction ?? 'ACCEPT',
    ...(flowLogs ? { flowLogs } : {}),
  };
}

/** What an NFLOG prefix of flow logs says decided. */
export interface NflogDecision {
  readonly action: 'allow' | 'deny';
  readonly direction: 'ingress' | 'egress';
  /** `policy`: a policy rule; `profile`: a profile rule; `end-of-tier`: the tier's default; `no-profile`: nothing allowed. */
  readonly kind: 'policy' | 'profile' | 'end-of-tier' | 'no-profile';
  /** Policy id, profile id or tier name ('' for no-profile; a `~hash` token when too long, see `nflogNames`). */
  readonly name: string;
  readonly rule: number;
}

const PREFIX_NAME_MAX = 48;

/**
 * The flow-log NFLOG prefix, Calico's shape `<A|D><P|R|T|N><I|E><rule>|<name>`: action, owner
 * (policy, profile, tier end, no profile), direction, rule index, then the policy/profile id or
 * tier (hashed as `~<hash>` past 48 characters: NFLOG prefixes hold 63).
 */
export function nflogPrefix(d: NflogDecision): { prefix: string; hashed?: string } {
  const owner = d.kind === 'policy' ? 'P' : d.kind === 'profile' ? 'R' : d.kind === 'end-of-tier' ? 'T' : 'N';
  const head = `${d.action === 'allow' ? 'A' : 'D'}${owner}${d.direction === 'ingress' ? 'I' : 'E'}${d.kind === 'policy' || d.kind === 'profile' ? d.rule : ''}|`;
  const plain = d.name.length <= PREFIX_NAME_MAX && /^[A-Za-z0-9_.:/-]*$/.test(d.name);
  if (plain) return { prefix: head + d.name };
  const token = `~${hashText(d.name, 20)}`;
  return { prefix: head + token, hashed: token };
}

const PREFIX = /^([AD])([PRTN])([IE])(\d*)\|(.*)$/;

/** Parses a flow-log NFLOG prefix (`names` resolves hashed tokens); undefined for other prefixes (Log rules). */
export function parseNflogPrefix(prefix: string, names?: ReadonlyMap<string, string>): NflogDecision | undefined {
  const m = PREFIX.exec(prefix);
  if (!m) return undefined;
  const [, a, owner, dir, rule, rawName] = m as unknown as [string, string, string, string, string, string];
  const kind = owner === 'P' ? 'policy' : owner === 'R' ? 'profile' : owner === 'T' ? 'end-of-tier' : 'no-profile';
  const name = rawName.startsWith('~') ? (names?.get(rawName) ?? rawName) : rawName;
  return { action: a === 'A' ? 'allow' : 'deny', direction: dir === 'I' ? 'ingress' : 'egress', kind, name, rule: rule === '' ? -1 : Number(rule) };
}

const hex = (n: number): string => `0x${n.toString(16)}`;

class ChainBuilder {
  private readonly rules: RenderedRule[] = [];
  private prev = '';
  constructor(
    readonly table: Table,
    readonly name: string,
  ) {}
  add(...args: string[]): void {
    const id = hashText(`${this.table}|${this.name}|${this.prev}|${args.join(' ')}`, 16);
    this.prev = id;
    this.rules.push({ id, args });
  }
  build(): RenderedChain {
    return { table: this.table, name: this.name, rules: this.rules };
  }
}

function familyOfMember(member: string): 4 | 6 {
  return member.split(',')[0]!.includes(':') ? 6 : 4;
}

/** `/0` cannot be stored in hash:net sets: split it into its two halves (same coverage). */
function expandAny(member: string): string[] {
  const [net, rest] = member.split(/,(.*)/s, 2) as [string, string | undefined];
  const tail = rest === undefined ? '' : `,${rest}`;
  if (net === '0.0.0.0/0') return [`0.0.0.0/1${tail}`, `128.0.0.0/1${tail}`];
  if (net === '::/0') return [`::/1${tail}`, `8000::/1${tail}`];
  return [member];
}

/** The kernel members of an Engine set for one family (sorted; `/0` split; unsupported protocols dropped). */
export function setMembers(type: IpSetType, members: Iterable<string>, family: 4 | 6): string[] {
  return [...members]
    .filter((m) => familyOfMember(m) === family)
    .filter((m) => type === 'nets' || /,(tcp|udp|sctp):\d+$/.test(m))
    .flatMap(expandAny)
    .sort();
}

/**
 * Chains of earlier renderings, reused when what they are built from is unchanged (a policy's
 * rules; an endpoint chain's tiers, resolved policy and profile chains and options), so that a
 * rendering after a small change hashes only the rules that changed. Keys are content, not object
 * identity: the output equals an uncached rendering. Holds only the chains of the last rendering
 * per family; one cache per set of render options (the dataplane keeps one).
 */
export interface RenderCache {
  /** @internal family → content key → the chain and what rendering it registered. */
  readonly entries: Map<4 | 6, Map<string, CachedChain>>;
}

interface CachedChain {
  readonly chain: RenderedChain;
  readonly setIds: readonly string[];
  readonly netSets: readonly (readonly [string, readonly string[]])[];
  readonly nflog: readonly (readonly [string, string])[];
}

export function createRenderCache(): RenderCache {
  return { entries: new Map() };
}

/** Facts about the host the rendering depends on (read by the apply side; rendering stays pure). */
export interface HostFacts {
  /**
   * Addresses of each host interface (canonical text, any family). Host endpoints bound by
   * `expectedIPs` only (no `interfaceName`) are bound to every non-workload interface carrying one
   * of their expected IPs, as Felix does; without this map they bind nowhere.
   */
  readonly interfaceAddresses?: ReadonlyMap<string, readonly string[]>;
}

/** Renders the state for one address family (`cache`: reuse unchanged chains of the last rendering, same output). */
export function renderState(state: DataplaneState, family: 4 | 6, options: RenderOptions | ResolvedRenderOptions = {}, host: HostFacts = {}, cache?: RenderCache): Rendered {
  const o = 'acceptMark' in options ? options : resolveRenderOptions(options);
  const cached = cache?.entries.get(family);
  const used = new Map<string, CachedChain>();
  /** While a cacheable chain is built: what it registers (sets, NFLOG names), to replay on reuse. */
  let rec: { setIds: string[]; netSets: [string, readonly string[]][]; nflog: [string, string][] } | undefined;
  const p = o.chainPrefix;
  const marks = o.acceptMark | o.passMark;
  const chains: RenderedChain[] = [];
  const sets = new Map<string, RenderedSet>();
  const name = (kind: string, id: string): string => chainName(p, kind, id);

  // IP sets: every Engine set of this family's members; referenced-but-missing sets render empty.
  const setRef = (id: string): string => {
    rec?.setIds.push(id);
    const n = setName(o.setPrefix, family, false, id);
    if (!sets.has(n)) {
      const s = state.ipSets.get(id);
      const type = s?.type === 'net-port-proto' ? 'hash:net,port' : 'hash:net';
      const members = setMembers(s?.type ?? 'nets', s?.members ?? [], family);
      sets.set(n, { name: n, type, family, members });
    }
    return n;
  };
  for (const id of [...state.ipSets.keys()].sort()) setRef(id);
  const ctx: RuleContext = {
    family,
    setRef,
    netSet: (cidrs) => {
      const members = [...new Set(cidrs)].sort();
      const n = setName(o.setPrefix, family, false, `d:${hashText(members.join(','), 22)}`);
      rec?.netSets.push([n, members]);
      if (!sets.has(n)) sets.set(n, { name: n, type: 'hash:net', family, members });
      return n;
    },
  };

  const setMark = (m: number): string[] => ['-j', 'MARK', '--set-xmark', `${hex(m)}/${hex(m)}`];
  const ifMark = (m: number): string[] => ['-m', 'mark', '--mark', `${hex(m)}/${hex(m)}`];
  const ifNotMark = (m: number): string[] => ['-m', 'mark', '--mark', `0x0/${hex(m)}`];
  const deny = (): string[] =>
    o.denyAction === 'DROP' ? ['-j', 'DROP'] : ['-j', 'REJECT', '--reject-with', family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'];

  const nflogNames = new Map<string, string>();
  /** The NFLOG rule of a flow-log decision (`[]` without flow logs). */
  const flowLog = (d: NflogDecision): string[] => {
    if (!o.flowLogs) return [];
    const { prefix, hashed } = nflogPrefix(d);
    if (hashed) {
      nflogNames.set(hashed, d.name);
      rec?.nflog.push([hashed, d.name]);
    }
    const groupOf = d.direction === 'ingress' ? o.flowLogs.ingressGroup : o.flowLogs.egressGroup;
    return ['-j', 'NFLOG', '--nflog-group', String(groupOf), '--nflog-prefix', prefix, '--nflog-size', '80'];
  };
  /** `log`: the owner of the rules, for flow logs (policy and profile chains of the filter table). */
  const ruleChain = (c: ChainBuilder, rules: readonly CompiledRule[], log?: { kind: 'policy' | 'profile'; name: string; direction: 'ingress' | 'egress' }): void => {
    rules.forEach((r, index) => {
      for (const v of matchVariants(r, ctx)) {
        switch (r.action) {
          case 'Allow':
            c.add(...v, ...setMark(o.acceptMark));
            if (log && o.flowLogs) c.add(...ifMark(o.acceptMark), ...flowLog({ ...log, action: 'allow', rule: index }));
            c.add(...ifMark(o.acceptMark), '-j', 'RETURN');
            break;
          case 'Pass':
            c.add(...v, ...setMark(o.passMark));
            c.add(...ifMark(o.passMark), '-j', 'RETURN');
            break;
          case 'Deny':
            if (log && o.flowLogs) c.add(...v, ...flowLog({ ...log, action: 'deny', rule: index }));
            c.add(...v, ...deny());
            break;
          case 'Log':
            c.add(...v, '-j', 'NFLOG', '--nflog-group', String(o.nflogGroup), '--nflog-prefix', o.logPrefix);
            break;
        }
      }
    });
  };

  /** The chain built by `build`, or the cached one of equal `key` (its registrations replayed). */
  const reuse = (key: string, build: () => RenderedChain): RenderedChain => {
    const hit = used.get(key) ?? cached?.get(key);
    if (hit) {
      for (const id of hit.setIds) setRef(id);
      for (const [n, members] of hit.netSets) if (!sets.has(n)) sets.set(n, { name: n, type: 'hash:net', family, members });
      for (const [h, n] of hit.nflog) nflogNames.set(h, n);
      used.set(key, hit);
      return hit.chain;
    }
    const outer = rec;
    rec = { setIds: [], netSets: [], nflog: [] };
    try {
      const chain = build();
      used.set(key, { chain, ...rec });
      return chain;
    } finally {
      // A chain built inside another (a policy chain within an endpoint chain) registers for both.
      if (outer) {
        outer.setIds.push(...rec.setIds);
        outer.netSets.push(...rec.netSets);
        outer.nflog.push(...rec.nflog);
      }
      rec = outer;
    }
  };

  // Policy and profile chains, only those some endpoint references.
  const policyChains = new Map<string, string>();
  const profileChains = new Map<string, string>();
  const policyChain = (id: string, dir: 'ingress' | 'egress', table: Table = 'filter'): string | undefined => {
    const pol = state.policies.get(id);
    if (!pol || pol.staged) return undefined;
    const key = `${table}|${dir}|${id}`;
    let n = policyChains.get(key);
    if (n === undefined) {
      const chain = name(dir === 'ingress' ? 'pi' : 'po', id);
      n = chain;
      policyChains.set(key, n);
      const rules = dir === 'ingress' ? pol.ingress : pol.egress;
      chains.push(
        reuse(`pol|${key}|${JSON.stringify(rules)}`, () => {
          const c = new ChainBuilder(table, chain);
          ruleChain(c, rules, table === 'filter' ? { kind: 'policy', name: id, direction: dir } : undefined);
          return c.build();
        }),
      );
    }
    return n;
  };
  const profileChain = (id: string, dir: 'ingress' | 'egress'): string | undefined => {
    const prof = state.profiles.get(id);
    if (!prof) return undefined;
    const key = `${dir}|${id}`;
    let n = profileChains.get(key);
    if (n === undefined) {
      const chain = name(dir === 'ingress' ? 'pri' : 'pro', id);
      n = chain;
      profileChains.set(key, n);
      const rules = dir === 'ingress' ? prof.ingress : prof.egress;
      chains.push(
        reuse(`prof|${key}|${JSON.stringify(rules)}`, () => {
          const c = new ChainBuilder('filter', chain);
          ruleChain(c, rules, { kind: 'profile', name: id, direction: dir });
          return c.build();
        }),
      );
    }
    return n;
  };

  interface EndpointChainSpec {
    readonly tiers: readonly TierRef[];
    readonly dir: 'ingress' | 'egress';
    readonly profiles?: readonly string[];
    readonly failsafe?: string;
    /** Forward chains: allow when no tier applies. */
    readonly forward?: boolean;
    /** `raw`: untracked policy (NOTRACK + ACCEPT on allow); `mangle`: pre-DNAT policy (ACCEPT on allow). Both end in Pass. */
    readonly table?: Table;
  }
  const endpointChain = (n: string, spec: EndpointChainSpec): void => {
    const table = spec.table ?? 'filter';
    // The policy and profile chains it jumps to (rendered or reused first): with the spec, all
    // the chain is built from.
    const tiers = spec.tiers.map((tier) => ({ tier, pols: tier.policyIds.map((id) => policyChain(id, spec.dir, table)).filter((x): x is string => x !== undefined) }));
    const profiles = table === 'filter' && !spec.forward ? (spec.profiles ?? []).map((id) => profileChain(id, spec.dir)).filter((x): x is string => x !== undefined) : [];
    const key = JSON.stringify(['ep', table, n, spec.dir, spec.failsafe ?? '', spec.forward === true, tiers.map((t) => [t.tier.name, t.tier.defaultAction, t.pols]), profiles]);
    chains.push(reuse(key, () => buildEndpointChain(table, n, spec, tiers, profiles)));
  };
  const buildEndpointChain = (table: Table, n: string, spec: EndpointChainSpec, tiers: readonly { tier: TierRef; pols: readonly string[] }[], profiles: readonly string[]): RenderedChain => {
    const c = new ChainBuilder(table, n);
    if (table === 'filter') {
      c.add('-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');
      c.add('-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP');
    }
    if (spec.failsafe) c.add('-j', spec.failsafe);
    c.add('-j', 'MARK', '--set-xmark', `0x0/${hex(marks)}`);
    for (const { tier, pols } of tiers) {
      if (pols.length === 0) continue;
      c.add('-j', 'MARK', '--set-xmark', `0x0/${hex(o.passMark)}`);
      for (const pc of pols) {
        c.add(...ifNotMark(o.passMark), '-j', pc);
        if (table === 'raw') c.add(...ifMark(o.acceptMark), '-j', 'NOTRACK');
        c.add(...ifMark(o.acceptMark), '-j', table === 'filter' ? 'RETURN' : 'ACCEPT');
      }
      if (tier.defaultAction !== 'Pass' && table === 'filter') {
        if (o.flowLogs && !spec.forward) c.add(...ifNotMark(o.passMark), ...flowLog({ kind: 'end-of-tier', name: tier.name, direction: spec.dir, action: 'deny', rule: -1 }));
        c.add(...ifNotMark(o.passMark), ...deny());
      }
    }
    if (table !== 'filter') {
      // Untracked and pre-DNAT tiers always end in Pass: normal policy still runs.
    } else if (spec.forward) {
      // Reached when no tier applies or every tier passed: forwarded traffic is allowed.
      c.add(...setMark(o.acceptMark));
      c.add('-j', 'RETURN');
    } else {
      for (const pc of profiles) {
        c.add('-j', pc);
        c.add(...ifMark(o.acceptMark), '-j', 'RETURN');
      }
      if (o.flowLogs) c.add(...flowLog({ kind: 'no-profile', name: '', direction: spec.dir, action: 'deny', rule: -1 }));
      c.add(...deny());
    }
    return c.build();
  };

  // Workload endpoints.
  // Every endpoint in both families (a v4-only pod still gets its v6 chains: its link-local
  // traffic is policed like everything else rather than dropped as "unknown interface").
  const weps = [...state.workloadEndpoints.values()].sort((a, b) => (a.interfaceName < b.interfaceName ? -1 : a.interfaceName > b.interfaceName ? 1 : 0));
  const fromWl = new ChainBuilder('filter', `${p}from-wl-dispatch`);
  const toWl = new ChainBuilder('filter', `${p}to-wl-dispatch`);
  const seen = new Set<string>();
  for (const e of weps as WorkloadEndpointState[]) {
    assertInterfaceName(e.interfaceName);
    if (seen.has(e.interfaceName)) continue;
    seen.add(e.interfaceName);
    const tw = name('tw', e.interfaceName);
    const fw = name('fw', e.interfaceName);
    endpointChain(tw, { tiers: e.ingressTiers, dir: 'ingress', profiles: e.profileIds });
    endpointChain(fw, { tiers: e.egressTiers, dir: 'egress', profiles: e.profileIds });
    fromWl.add('-i', e.interfaceName, '-g', fw);
    toWl.add('-o', e.interfaceName, '-g', tw);
  }
  fromWl.add(...deny());
  toWl.add(...deny());
  chains.push(fromWl.build(), toWl.build());

  // Host endpoints: core's binding rule (a name, else an expected IP on a current interface, the
  // lowest id among equals; never a workload interface). The all-interfaces endpoint is rendered
  // as the catch-all after the named ones, so it also covers interfaces that appear later.
  const isWorkloadInterface = (iface: string): boolean => o.workloadInterfacePrefixes.some((x) => iface.startsWith(x));
  const bindings = bindHostEndpoints(
    state.hostEndpoints.values(),
    () => [...(host.interfaceAddresses ?? new Map<string, readonly string[]>())].map(([ifname, addresses]) => ({ ifname, addresses })),
    { isWorkloadInterface },
  );
  const named = bindings.interfaces;
  const star = bindings.allInterfaces;
  for (const iface of named.keys()) assertInterfaceName(iface);
  const haveHeps = named.size > 0 || star !== undefined;
  if (haveHeps) assertStampBits(o.stampBits, o.acceptMark | o.passMark | o.stampBits.reduce((a, b) => a | b, 0));
  // Rendered at generation 1; the planner moves it (generation.ts withGeneration).
  const stamp: GenerationStamp | undefined = haveHeps ? { generation: 1, bits: o.stampBits, clearMask: marks } : undefined;
  if (haveHeps) {
    /**
     * Failsafe chain: `entries` match the destination port (inbound: source net; outbound:
     * destination net). In raw, where conntrack does not yet help, `replies` (the other list)
     * also match on the source port, so replies to failsafe connections pass untracked policy.
     */
    const failsafe = (table: Table, n: string, entries: readonly FailsafeEntry[], dir: 'in' | 'out', replies: readonly FailsafeEntry[] = []): string => {
      const c = new ChainBuilder(table, n);
      if (table !== 'filter' && dir === 'in') {
        // Before routing (raw, mangle) a failsafe must not let forwarded packets or packets from
        // workloads skip untracked or pre-DNAT policy: it guards the host itself.
        for (const w of o.workloadInterfacePrefixes) c.add('-i', `${w}+`, '-j', 'RETURN');
        c.add('-m', 'addrtype', '!', '--dst-type', 'LOCAL', '-j', 'RETURN');
      }
      const emit = (f: FailsafeEntry, portOpt: '--dport' | '--sport', netFlag: '-s' | '-d'): void => {
        const t: string[] = ['-p', f.protocol === 'tcp' ? '6' : '17', '-m', f.protocol, portOpt, String(f.port)];
        if (f.net !== undefined) {
          if ((f.net.includes(':') ? 6 : 4) !== family) return;
          t.push(netFlag, f.net);
        }
        c.add(...t, '-j', 'ACCEPT');
      };
      for (const f of entries) emit(f, '--dport', dir === 'in' ? '-s' : '-d');
      for (const f of replies) emit(f, '--sport', dir === 'in' ? '-s' : '-d');
      chains.push(c.build());
      return n;
    };
    const fromHep = new ChainBuilder('filter', `${p}from-host-ep`);
    const toHep = new ChainBuilder('filter', `${p}to-host-ep`);
    const fromHepFwd = new ChainBuilder('filter', `${p}from-hep-fwd`);
    const toHepFwd = new ChainBuilder('filter', `${p}to-hep-fwd`);
    const mangleFromHep = new ChainBuilder('mangle', `${p}from-host-ep`);
    const rawFromHep = new ChainBuilder('raw', `${p}from-host-ep`);
    const rawToHep = new ChainBuilder('raw', `${p}to-host-ep`);
    const bind = (h: HostEndpointState, iface: string | undefined): void => {
      const suffix = (kind: string): string => (iface === undefined ? `${p}${kind}all` : name(kind, iface));
      const fsIn = failsafe('filter', suffix('fsi'), h.failsafeInbound, 'in');
      const fsOut = failsafe('filter', suffix('fso'), h.failsafeOutbound, 'out');
      endpointChain(suffix('fh'), { tiers: h.ingressTiers, dir: 'ingress', profiles: h.profileIds, failsafe: fsIn });
      endpointChain(suffix('th'), { tiers: h.egressTiers, dir: 'egress', profiles: h.profileIds, failsafe: fsOut });
      endpointChain(suffix('fhfw'), { tiers: h.forwardIngressTiers, dir: 'ingress', forward: true });
      endpointChain(suffix('thfw'), { tiers: h.forwardEgressTiers, dir: 'egress', forward: true });
      const inMatch = iface === undefined ? [] : ['-i', iface];
      const outMatch = iface === undefined ? [] : ['-o', iface];
      fromHep.add(...inMatch, '-g', suffix('fh'));
      toHep.add(...outMatch, '-g', suffix('th'));
      fromHepFwd.add(...inMatch, '-g', suffix('fhfw'));
      toHepFwd.add(...outMatch, '-g', suffix('thfw'));
      // Pre-DNAT (mangle, ingress only) and untracked (raw; not for the all-interfaces endpoint,
      // as in Felix) chains.
      failsafe('mangle', suffix('fsi'), h.failsafeInbound, 'in');
      endpointChain(suffix('fh'), { tiers: h.preDnatIngressTiers, dir: 'ingress', failsafe: suffix('fsi'), table: 'mangle' });
      mangleFromHep.add(...inMatch, '-g', suffix('fh'));
      if (iface !== undefined) {
        failsafe('raw', suffix('fsi'), h.failsafeInbound, 'in', h.failsafeOutbound);
        failsafe('raw', suffix('fso'), h.failsafeOutbound, 'out', h.failsafeInbound);
        endpointChain(suffix('fh'), { tiers: h.untrackedIngressTiers, dir: 'ingress', failsafe: suffix('fsi'), table: 'raw' });
        endpointChain(suffix('th'), { tiers: h.untrackedEgressTiers, dir: 'egress', failsafe: suffix('fso'), table: 'raw' });
        rawFromHep.add(...inMatch, '-g', suffix('fh'));
        rawToHep.add(...outMatch, '-g', suffix('th'));
      }
    };
    for (const [iface, h] of [...named.entries()].sort()) bind(h, iface);
    if (star) bind(star, undefined);
    chains.push(fromHep.build(), toHep.build(), fromHepFwd.build(), toHepFwd.build(), mangleFromHep.build(), rawFromHep.build(), rawToHep.build());
    // raw: clear marks and stamp the generation, untracked policy; mangle: established packets
    // pass, other generations' packets drop, raw-accepted packets pass, then pre-DNAT policy. A
    // packet accepted there carries the accept mark into filter.
    const rawPre = new ChainBuilder('raw', `${p}PREROUTING`);
    rawPre.add(...stampRule(stamp!));
    rawPre.add('-j', `${p}from-host-ep`);
    const rawOut = new ChainBuilder('raw', `${p}OUTPUT`);
    rawOut.add(...stampRule(stamp!));
    rawOut.add('-j', `${p}to-host-ep`);
    const manglePre = new ChainBuilder('mangle', `${p}PREROUTING`);
    manglePre.add('-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');
    manglePre.add(...checkRule(stamp!));
    manglePre.add(...ifMark(o.acceptMark), '-j', 'ACCEPT');
    manglePre.add('-j', `${p}from-host-ep`);
    chains.push(rawPre.build(), rawOut.build(), manglePre.build());
  }

  // Top-level chains.
  const clear = ['-j', 'MARK', '--set-xmark', `0x0/${hex(marks)}`];
  const wlIfaces = o.workloadInterfacePrefixes.map((x) => `${x}+`);
  const forward = new ChainBuilder('filter', `${p}FORWARD`);
  const input = new ChainBuilder('filter', `${p}INPUT`);
  const output = new ChainBuilder('filter', `${p}OUTPUT`);
  // Before any decision of filter's own: a new packet raw stamped for another generation drops.
  if (stamp) for (const c of [forward, input, output]) c.add(...checkRule(stamp));
  if (haveHeps) {
    // Keep the accept mark of a packet raw (untracked) or mangle (pre-DNAT) policy accepted: it
    // skips the arrival endpoint's forward policy, not the workload or departure checks.
    forward.add('-j', 'MARK', '--set-xmark', `0x0/${hex(o.passMark)}`);
    forward.add(...ifNotMark(o.acceptMark), '-j', `${p}from-hep-fwd`);
  } else forward.add(...clear);
  for (const w of wlIfaces) forward.add('-i', w, '-j', `${p}from-wl-dispatch`);
  for (const w of wlIfaces) forward.add('-o', w, '-j', `${p}to-wl-dispatch`);
  if (haveHeps) forward.add('-j', `${p}to-hep-fwd`);
  forward.add(...ifMark(o.acceptMark), '-j', 'ACCEPT');
  const wlToHost = new ChainBuilder('filter', `${p}wl-to-host`);
  for (const w of wlIfaces) input.add('-i', w, '-g', `${p}wl-to-host`);
  if (haveHeps) input.add(...ifMark(o.acceptMark), '-j', 'ACCEPT');
  input.add(...clear);
  wlToHost.add('-j', `${p}from-wl-dispatch`);
  wlToHost.add('-j', o.endpointToHostAction);
  if (haveHeps) input.add('-j', `${p}from-host-ep`);
  input.add(...ifMark(o.acceptMark), '-j', 'ACCEPT');
  if (haveHeps) output.add(...ifMark(o.acceptMark), '-j', 'ACCEPT');
  // Host → own workload: never policed (Felix: "we don't police host -> endpoint"), and the
  // `*` endpoint's egress policy is skipped towards local workloads.
  for (const w of wlIfaces) output.add('-o', w, '-j', 'RETURN');
  output.add(...clear);
  if (haveHeps) output.add('-j', `${p}to-host-ep`);
  output.add(...ifMark(o.acceptMark), '-j', 'ACCEPT');
  chains.push(forward.build(), input.build(), wlToHost.build(), output.build());

  const hookList: [Table, string][] = [
    ['filter', 'FORWARD'],
    ['filter', 'INPUT'],
    ['filter', 'OUTPUT'],
  ];
  if (haveHeps) hookList.push(['mangle', 'PREROUTING'], ['raw', 'OUTPUT'], ['raw', 'PREROUTING']);
  const hooks: HookRule[] = hookList.map(([table, chain]) => ({
    table,
    chain,
    target: `${p}${chain}`,
    args: ['-m', 'comment', '--comment', `${o.commentTag}hook`, '-j', `${p}${chain}`],
  }));

  cache?.entries.set(family, used);
  const key = (c: RenderedChain): string => `${c.table}:${c.name}`;
  chains.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const setList = [...sets.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return { family, chainPrefix: p, setPrefix: o.setPrefix, commentTag: o.commentTag, chains, sets: setList, hooks, nflogNames, ...(stamp ? { stamp } : {}) };
}

/** One `-A` line of a rendered rule (comment first, as Felix writes it). */
export function formatRule(chain: string, rule: RenderedRule, commentTag: string): string {
  return ['-A', chain, '-m', 'comment', '--comment', `"${commentTag}${rule.id}"`, ...rule.args].join(' ');
}

/**
 * Full `iptables-restore --noflush` input for a rendering: declares (and so flushes) every
 * chain of ours, appends every rule. Hook rules are not included (see the applier).
 */
export function formatIptablesRestore(r: Rendered): string {
  const out: string[] = [];
  for (const table of ['raw', 'mangle', 'filter'] as const) {
    const cs = r.chains.filter((c) => c.table === table);
    if (cs.length === 0) continue;
    out.push(`*${table}`);
    for (const c of cs) out.push(`:${c.name} - [0:0]`);
    for (const c of cs) for (const rule of c.rules) out.push(formatRule(c.name, rule, r.commentTag));
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

/** `ipset restore` input creating every set of a rendering (for a first apply; see the applier for deltas). */
export function formatIpsetRestore(r: Rendered): string {
  const out: string[] = [];
  for (const s of r.sets) {
    out.push(`create ${s.name} ${s.type} family ${s.family === 4 ? 'inet' : 'inet6'} maxelem 1048576`);
    for (const m of s.members) out.push(`add ${s.name} ${m}`);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
