/**
 * Record filters with the habits of `hubble observe` and Whisker's filter fields: one filter
 * object for the CLI, the local stream and the HTTP endpoint. Lists are OR-ed, fields AND-ed.
 */
import { formatPolicyHit, type FlowRecord, type PolicyHit } from '@gingham/core';

export interface FlowFilter {
  /** Source: `namespace/name-prefix`, a name prefix, or an IP (records that carry `source_ip`). */
  readonly from?: readonly string[];
  /** Destination, the same forms. */
  readonly to?: readonly string[];
  /** Either side's namespace. */
  readonly namespace?: readonly string[];
  /** The enforced verdict. */
  readonly verdict?: 'allow' | 'deny';
  /** The verdict with staged policies enforced (the pending trace's last hit). */
  readonly pendingVerdict?: 'allow' | 'deny';
  /** Only records whose pending trace differs from the enforced one (a staged policy would change something). */
  readonly pendingChanges?: boolean;
  readonly port?: readonly number[];
  /** `tcp`, `udp`, … */
  readonly protocol?: readonly string[];
  readonly reporter?: 'src' | 'dst';
  /**
   * A policy in the enforced trace (or, with `pendingPolicies`, in the pending one): its name,
   * `namespace/name`, `tier.name`, or the kind-explicit form `knp:shop/db` (a trigger counts).
   */
  readonly policy?: readonly string[];
  readonly pendingPolicies?: boolean;
  /** Window end at or after (unix seconds). */
  readonly since?: number;
  /** Window start at or before (unix seconds). */
  readonly until?: number;
}

function names(h: PolicyHit): string[] {
  const out: string[] = [];
  const add = (kindShort: string, ns: string, name: string, tier: string): void => {
    if (!name) return;
    out.push(name, `${tier}.${name}`, ns ? `${ns}/${name}` : name, `${kindShort}:${ns ? `${ns}/` : ''}${name}`);
  };
  const part = formatPolicyHit(h).split('|')[2] ?? '';
  const short = part.split(':')[0] ?? '';
  if (h.kind === 'EndOfTier' && h.trigger) add(short, h.trigger.namespace, h.trigger.name, h.tier);
  else add(short, h.namespace, h.name, h.tier);
  return out;
}

function endpointMatches(want: string, name: string, namespace: string, ip: string | undefined): boolean {
  if (ip !== undefined && want === ip) return true;
  const slash = want.indexOf('/');
  if (slash < 0) return name.startsWith(want.replace(/\*$/, ''));
  return namespace === want.slice(0, slash) && name.startsWith(want.slice(slash + 1).replace(/\*$/, ''));
}

const lastAction = (hits: readonly PolicyHit[]): 'allow' | 'deny' | undefined => {
  const h = hits.at(-1);
  return h === undefined ? undefined : h.action === 'allow' ? 'allow' : 'deny';
};

const sameTrace = (a: readonly PolicyHit[], b: readonly PolicyHit[]): boolean =>
  a.length === b.length && a.every((h, i) => formatPolicyHit(h) === formatPolicyHit(b[i]!));

/** Whether `r` passes `f`. */
export function matchesFilter(r: FlowRecord, f: FlowFilter): boolean {
  if (f.verdict && r.action !== f.verdict) return false;
  if (f.reporter && r.reporter !== f.reporter) return false;
  if (f.port && f.port.length > 0 && !f.port.includes(r.dest_port)) return false;
  if (f.protocol && f.protocol.length > 0 && !f.protocol.some((p) => p.toLowerCase() === r.proto)) return false;
  if (f.namespace && f.namespace.length > 0 && !f.namespace.some((n) => n === r.source_namespace || n === r.dest_namespace)) return false;
  if (f.from && f.from.length > 0 && !f.from.some((w) => endpointMatches(w, r.source_name, r.source_namespace, r.source_ip))) return false;
  if (f.to && f.to.length > 0 && !f.to.some((w) => endpointMatches(w, r.dest_name, r.dest_namespace, r.dest_ip))) return false;
  if (f.since !== undefined && r.end_time < f.since) return false;
  if (f.until !== undefined && r.start_time > f.until) return false;
  if (f.pendingVerdict && (lastAction(r.policies.pending) ?? r.action) !== f.pendingVerdict) return false;
  if (f.pendingChanges && sameTrace(r.policies.enforced, r.policies.pending)) return false;
  if (f.policy && f.policy.length > 0) {
    const hits = f.pendingPolicies ? r.policies.pending : r.policies.enforced;
    const all = new Set(hits.flatMap(names));
    if (!f.policy.some((p) => all.has(p))) return false;
  }
  return true;
}

/** Reads a filter from URL query parameters (the HTTP endpoint and the stream's request line use the same names). */
export function filterFromParams(p: URLSearchParams): FlowFilter {
  const list = (k: string): string[] | undefined => {
    const v = p.getAll(k).flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
    return v.length > 0 ? v : undefined;
  };
  const num = (k: string): number | undefined => {
    const v = p.get(k);
    if (v === null || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new RangeError(`${k} must be a number, got "${v}"`);
    return n;
  };
  const verdict = (k: string): 'allow' | 'deny' | undefined => {
    const v = p.get(k);
    if (v === null || v === '') return undefined;
    const n = v.toLowerCase();
    if (n === 'allow' || n === 'allowed') return 'allow';
    if (n === 'deny' || n === 'denied') return 'deny';
    throw new RangeError(`${k} must be allowed or denied, got "${v}"`);
  };
  const ports = list('port')?.map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`port must be 0-65535, got "${x}"`);
    return n;
  });
  const reporter = p.get('reporter');
  if (reporter !== null && reporter !== 'src' && reporter !== 'dst') throw new RangeError(`reporter must be src or dst, got "${reporter}"`);
  const f: Record<string, unknown> = {
    from: list('from'),
    to: list('to'),
    namespace: list('namespace'),
    verdict: verdict('verdict'),
    pendingVerdict: verdict('pending_verdict'),
    pendingChanges: p.get('pending_changes') === 'true' || undefined,
    port: ports,
    protocol: list('protocol'),
    reporter: reporter ?? undefined,
    policy: list('policy'),
    pendingPolicies: p.get('pending_policies') === 'true' || undefined,
    since: num('since'),
    until: num('until'),
  };
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as FlowFilter;
}

/** The inverse of `filterFromParams`. */
export function filterToParams(f: FlowFilter): URLSearchParams {
  const p = new URLSearchParams();
  const put = (k: string, v: unknown): void => {
    if (v === undefined || v === false) return;
    p.set(k, Array.isArray(v) ? v.join(',') : String(v));
  };
  put('from', f.from);
  put('to', f.to);
  put('namespace', f.namespace);
  put('verdict', f.verdict);
  put('pending_verdict', f.pendingVerdict);
  put('pending_changes', f.pendingChanges);
  put('port', f.port);
  put('protocol', f.protocol);
  put('reporter', f.reporter);
  put('policy', f.policy);
  put('pending_policies', f.pendingPolicies);
  put('since', f.since);
  put('until', f.until);
  return p;
}
