/**
 * Reading flow records back (JSON lines written by the agent or by Calico-compatible tools):
 * each line is checked field by field, and a bad line is an issue naming file:line and the
 * field, never an exception. Pure: the caller reads the file and hands over the lines.
 */
import type { Issue } from '../model/issues.js';
import { parsePolicyHit } from './policy-hit.js';
import type { FlowEndpointType, FlowRecord, PolicyHit } from './types.js';

export type ParsedFlowRecord = { readonly ok: true; readonly record: FlowRecord } | { readonly ok: false; readonly issue: Issue };

const TYPES = new Set<FlowEndpointType>(['wep', 'hep', 'ns', 'net']);
const COUNTERS = ['packets_in', 'packets_out', 'bytes_in', 'bytes_out', 'num_connections_started', 'num_connections_completed', 'num_connections_live'] as const;
const HIT_KINDS = new Set([
  'CalicoNetworkPolicy', 'GlobalNetworkPolicy', 'StagedNetworkPolicy', 'StagedGlobalNetworkPolicy', 'StagedKubernetesNetworkPolicy',
  'NetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy', 'ClusterNetworkPolicy', 'Profile', 'EndOfTier',
]);

class Bad extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string, path = key): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Bad(path, v === undefined ? 'is required' : 'must be a string');
  return v;
}

function int(o: Record<string, unknown>, key: string, min: number, path = key): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Bad(path, v === undefined ? 'is required' : `must be an integer ≥ ${min}`);
  return v;
}

function labels(o: Record<string, unknown>, key: string): string[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Bad(key, 'must be a list of "k=v" strings');
  return v as string[];
}

/** A hit as an object (Whisker's JSON) or as a hit string. */
function hit(v: unknown, path: string): PolicyHit {
  if (typeof v === 'string') {
    const p = parsePolicyHit(v);
    if (!p.ok) throw new Bad(path, p.error);
    return p.hit;
  }
  if (!isObject(v)) throw new Bad(path, 'must be a policy hit object or string');
  const kind = str(v, 'kind', `${path}.kind`);
  if (!HIT_KINDS.has(kind)) throw new Bad(`${path}.kind`, `unknown policy kind "${kind}"`);
  const action = str(v, 'action', `${path}.action`);
  if (action !== 'allow' && action !== 'deny' && action !== 'pass') throw new Bad(`${path}.action`, 'must be allow, deny or pass');
  const out = {
    kind: kind as PolicyHit['kind'],
    name: typeof v.name === 'string' ? v.name : '',
    namespace: typeof v.namespace === 'string' ? v.namespace : '',
    tier: typeof v.tier === 'string' ? v.tier : '',
    action,
    policy_index: int(v, 'policy_index', 0, `${path}.policy_index`),
    rule_index: int(v, 'rule_index', -2, `${path}.rule_index`),
  } as PolicyHit;
  if (isObject(v.trigger)) {
    const t = v.trigger;
    const tk = str(t, 'kind', `${path}.trigger.kind`);
    if (!HIT_KINDS.has(tk) || tk === 'EndOfTier') throw new Bad(`${path}.trigger.kind`, `unknown trigger kind "${tk}"`);
    return { ...out, trigger: { kind: tk as Exclude<PolicyHit['kind'], 'EndOfTier'>, name: str(t, 'name', `${path}.trigger.name`), namespace: typeof t.namespace === 'string' ? t.namespace : '', tier: typeof t.tier === 'string' ? t.tier : '' } };
  }
  return out;
}

function hits(o: Record<string, unknown>, key: string, path: string): PolicyHit[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Bad(path, 'must be a list');
  return v.map((h, i) => hit(h, `${path}[${i}]`));
}

function toFlowRecord(v: unknown): FlowRecord {
  if (!isObject(v)) throw new Bad('', 'a flow record must be a JSON object');
  const type = (key: string): FlowEndpointType => {
    const t = str(v, key);
    if (!TYPES.has(t as FlowEndpointType)) throw new Bad(key, 'must be wep, hep, ns or net');
    return t as FlowEndpointType;
  };
  const reporter = str(v, 'reporter');
  if (reporter !== 'src' && reporter !== 'dst') throw new Bad('reporter', 'must be src or dst');
  const action = str(v, 'action');
  if (action !== 'allow' && action !== 'deny') throw new Bad('action', 'must be allow or deny');
  const policies = v.policies === undefined ? {} : v.policies;
  if (!isObject(policies)) throw new Bad('policies', 'must be an object with enforced and pending lists');
  const enforced = hits(policies, 'enforced', 'policies.enforced');
  const pending = policies.pending === undefined ? enforced : hits(policies, 'pending', 'policies.pending');
  const start = int(v, 'start_time', 0);
  const end = int(v, 'end_time', 0);
  if (end < start) throw new Bad('end_time', 'is before start_time');
  const counters = Object.fromEntries(COUNTERS.map((k) => [k, v[k] === undefined ? 0 : int(v, k, 0)])) as Record<(typeof COUNTERS)[number], number>;
  return {
    source_name: str(v, 'source_name'),
    source_namespace: typeof v.source_namespace === 'string' && v.source_namespace !== '' ? v.source_namespace : '-',
    source_type: type('source_type'),
    dest_name: str(v, 'dest_name'),
    dest_namespace: typeof v.dest_namespace === 'string' && v.dest_namespace !== '' ? v.dest_namespace : '-',
    dest_type: type('dest_type'),
    dest_port: v.dest_port === undefined ? 0 : int(v, 'dest_port', 0),
    proto: str(v, 'proto').toLowerCase(),
    reporter,
    action,
    policies: { enforced, pending },
    start_time: start,
    end_time: end,
    source_labels: labels(v, 'source_labels'),
    dest_labels: labels(v, 'dest_labels'),
    ...counters,
    ...optionalAddresses(v),
  };
}

/** `source_ip`, `dest_ip` (text) and `source_port`, when present and not null. */
function optionalAddresses(v: Record<string, unknown>): Pick<FlowRecord, 'source_ip' | 'dest_ip' | 'source_port'> {
  const out: { source_ip?: string; dest_ip?: string; source_port?: number } = {};
  for (const key of ['source_ip', 'dest_ip'] as const) {
    if (v[key] === undefined || v[key] === null) continue;
    out[key] = str(v, key);
  }
  if (v.source_port !== undefined && v.source_port !== null) out.source_port = int(v, 'source_port', 0);
  return out;
}

/** Checks one decoded JSON value as a flow record (defaults: namespaces `-`, counters 0, pending = enforced). */
export function validateFlowRecord(value: unknown): { readonly ok: true; readonly record: FlowRecord } | { readonly ok: false; readonly path: string; readonly message: string } {
  try {
    return { ok: true, record: toFlowRecord(value) };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, path: e.path, message: e.message };
    throw e;
  }
}

/** Parses one JSON line of a flow log. `line` is 1-based, for the issue. */
export function parseFlowRecordLine(text: string, file: string, line: number): ParsedFlowRecord {
  const issue = (path: string, message: string): ParsedFlowRecord => ({
    ok: false,
    issue: { severity: 'error', code: 'invalid-flow-record', message, file, line, col: 1, kind: 'FlowRecord', name: '-', path },
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return issue('', `not valid JSON: ${(e as Error).message}`);
  }
  const r = validateFlowRecord(value);
  return r.ok ? r : issue(r.path, `${r.path ? `${r.path} ` : ''}${r.message}`);
}
