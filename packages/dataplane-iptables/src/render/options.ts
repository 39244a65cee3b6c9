/**
 * Render options: what callers may set (`RenderOptions`) and the checked, defaulted form every
 * part of the renderer reads (`ResolvedRenderOptions`, mark bits picked from the mask). Pure.
 */
import { IptablesError } from '../errors.js';
import { assertInterfaceName, assertLogPrefix, assertPrefix } from './names.js';

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
  /**
   * How a workload endpoint chain reaches the policy-group chain of each of its tiers: `chain`
   * (default) names the group in the endpoint chain, as Felix does; `ipset` jumps to a shared
   * per-tier dispatch chain that picks the group by IP set membership of the interface, so a
   * label change that moves an endpoint between existing groups is a few `ipset` lines and no
   * iptables commit (docs/dataplane-iptables.md, "Group dispatch by IP set").
   */
  readonly groupDispatch?: GroupDispatch;
}

export type GroupDispatch = 'chain' | 'ipset';

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
  readonly groupDispatch: GroupDispatch;
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
    groupDispatch: groupDispatch(o.groupDispatch),
    ...(flowLogs ? { flowLogs } : {}),
  };
}


function groupDispatch(v: GroupDispatch | undefined): GroupDispatch {
  if (v === undefined || v === 'chain' || v === 'ipset') return v ?? 'chain';
  throw new IptablesError('IPTABLES_INVALID_ARGUMENT', `invalid groupDispatch ${String(v)} (chain or ipset)`);
}
