/**
 * Assertions about a user's snapshot for any test runner: `assertAllows` / `assertDenies` for one
 * flow (the failure prints `explain()`'s trace), and exact ones over every flow — `assertNoPath`,
 * `assertIsolated` and `assertOpensNothing` — that fail with every counterexample (as witnesses
 * ready for `evaluate()`) and the trace of the first. The vitest matchers are built on these.
 */
import {
  diffSnapshots,
  evaluate,
  explain,
  formatDiff,
  formatReachability,
  GinghamError,
  protocolName,
  reachability,
  type DiffOptions,
  type DiffResult,
  type EvaluateOptions,
  type EvaluationResult,
  type Flow,
  type FlowChange,
  type PeerQuery,
  type PortQuery,
  type ReachabilityResult,
  type ReachablePath,
  type Snapshot,
} from '@gingham/core';

/** A flow as `evaluate()` takes it, or the shorthand `{ from, to, port?, protocol? }` (protocol defaults to TCP). */
export type FlowSpec =
  | Flow
  | {
      readonly from: string;
      readonly to: string;
      readonly port?: number;
      readonly protocol?: string | number;
      readonly srcPort?: number;
      readonly icmp?: { readonly type: number; readonly code?: number };
    };

export function toFlow(spec: FlowSpec): Flow {
  if ('src' in spec) return spec;
  return {
    src: spec.from,
    dst: spec.to,
    protocol: spec.protocol ?? 'TCP',
    ...(spec.port !== undefined ? { dstPort: spec.port } : {}),
    ...(spec.srcPort !== undefined ? { srcPort: spec.srcPort } : {}),
    ...(spec.icmp ? { icmp: spec.icmp } : {}),
  };
}

/** `shop/frontend-0 -> shop/db-0 TCP 5432`. */
export function describeFlow(flow: Flow): string {
  const proto = typeof flow.protocol === 'number' ? protocolName(flow.protocol) : flow.protocol;
  const port = flow.dstPort !== undefined ? ` ${flow.dstPort}` : '';
  const icmp = flow.icmp ? ` type ${flow.icmp.type}${flow.icmp.code !== undefined ? ` code ${flow.icmp.code}` : ''}` : '';
  const sport = flow.srcPort !== undefined ? ` (from port ${flow.srcPort})` : '';
  return `${flow.src} -> ${flow.dst} ${proto}${port}${icmp}${sport}`;
}

/** A failed policy assertion: what was expected, the counterexamples, and the answer it came from. */
export class PolicyAssertionError extends GinghamError {
  /** Concrete flows that break the assertion (ready for `evaluate()`). */
  readonly witnesses: readonly Flow[];
  /** For one-flow assertions: the evaluation (verdict and trace). */
  readonly result?: EvaluationResult;
  /** For `assertNoPath` / `assertIsolated`: every allowed path. */
  readonly paths?: readonly ReachablePath[];
  /** For `assertOpensNothing`: every opened change. */
  readonly changes?: readonly FlowChange[];

  constructor(message: string, details: { witnesses: readonly Flow[]; result?: EvaluationResult; paths?: readonly ReachablePath[]; changes?: readonly FlowChange[] }) {
    super('POLICY_ASSERTION', message);
    this.witnesses = details.witnesses;
    if (details.result) this.result = details.result;
    if (details.paths) this.paths = details.paths;
    if (details.changes) this.changes = details.changes;
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
}

/** The verdict for one flow and the message a failed expectation prints (either way round). */
export function checkFlow(snapshot: Snapshot, spec: FlowSpec, expected: 'allowed' | 'denied', options?: EvaluateOptions): { pass: boolean; result: EvaluationResult; message: string } {
  const flow = toFlow(spec);
  const result = evaluate(snapshot, flow, options);
  const actual = result.allowed ? 'allowed' : 'denied';
  const pass = actual === expected;
  const message = pass
    ? `expected ${describeFlow(flow)} not to be ${expected}, but it is ${actual.toUpperCase()}:\n${indent(explain(result))}`
    : `expected ${describeFlow(flow)} to be ${expected}, but it is ${actual.toUpperCase()}:\n${indent(explain(result))}`;
  return { pass, result, message };
}

/** Throws `PolicyAssertionError` (with `explain()`'s trace) unless the flow is allowed. */
export function assertAllows(snapshot: Snapshot, spec: FlowSpec, options?: EvaluateOptions): EvaluationResult {
  const c = checkFlow(snapshot, spec, 'allowed', options);
  if (!c.pass) throw new PolicyAssertionError(c.message, { witnesses: [toFlow(spec)], result: c.result });
  return c.result;
}

/** Throws `PolicyAssertionError` (with `explain()`'s trace) unless the flow is denied. */
export function assertDenies(snapshot: Snapshot, spec: FlowSpec, options?: EvaluateOptions): EvaluationResult {
  const c = checkFlow(snapshot, spec, 'denied', options);
  if (!c.pass) throw new PolicyAssertionError(c.message, { witnesses: [toFlow(spec)], result: c.result });
  return c.result;
}

export interface PathQuery {
  readonly from: string | PeerQuery;
  readonly to: string | PeerQuery;
  readonly ports?: readonly PortQuery[];
  readonly evaluate?: EvaluateOptions;
}

function queryText(q: string | PeerQuery): string {
  return typeof q === 'string' ? q : JSON.stringify(q);
}

/** The exact answer and the message a failed "no path" expectation prints. */
export function checkNoPath(snapshot: Snapshot, query: PathQuery): { pass: boolean; result: ReachabilityResult; message: string } {
  const result = reachability(snapshot, query);
  const ports = query.ports ? ` on ${query.ports.map((p) => `${p.protocol}${p.port !== undefined ? ` ${p.port}${p.endPort !== undefined ? `-${p.endPort}` : ''}` : ''}`).join(', ')}` : '';
  const what = `from ${queryText(query.from)} to ${queryText(query.to)}${ports}`;
  if (!result.reachable) {
    return { pass: true, result, message: `expected a path ${what}, but there is none (exact: every address, protocol and port was considered)` };
  }
  const first = result.paths[0]!;
  const trace = explain(evaluate(snapshot, first.witness, query.evaluate));
  return {
    pass: false,
    result,
    message: `expected no path ${what}, but ${result.paths.length} set${result.paths.length === 1 ? '' : 's'} of flows ${result.paths.length === 1 ? 'is' : 'are'} allowed:\n${indent(formatReachability(result, { maxPaths: 10 }))}\nfirst counterexample: ${describeFlow(first.witness)}\n${indent(trace)}`,
  };
}

/**
 * Exact: throws `PolicyAssertionError` when any flow from `from` to `to` (within `ports`) is
 * allowed, with every allowed path and a witness flow for each. Returns the (empty) answer.
 */
export function assertNoPath(snapshot: Snapshot, query: PathQuery): ReachabilityResult {
  const c = checkNoPath(snapshot, query);
  if (!c.pass) throw new PolicyAssertionError(c.message, { witnesses: c.result.paths.map((p) => p.witness), paths: c.result.paths });
  return c.result;
}

/** Exact: endpoints selected by `selector` accept nothing from `options.from`. */
export function assertIsolated(snapshot: Snapshot, selector: string, options: { readonly from: string | PeerQuery; readonly ports?: readonly PortQuery[] }): ReachabilityResult {
  return assertNoPath(snapshot, { from: options.from, to: selector, ...(options.ports ? { ports: options.ports } : {}) });
}

/** The exact diff and the message a failed "opens nothing" expectation prints. */
export function checkOpensNothing(before: Snapshot, after: Snapshot, options?: DiffOptions): { pass: boolean; result: DiffResult; message: string } {
  const result = diffSnapshots(before, after, options);
  if (result.opened === 0) return { pass: true, result, message: 'expected the change to open something, but it opens nothing' };
  const first = result.changes.find((c) => c.change === 'opened')!;
  const trace = explain(evaluate(after, first.witness, options?.evaluate));
  return {
    pass: false,
    result,
    message: `expected the change to open nothing, but it opens ${result.opened} set${result.opened === 1 ? '' : 's'} of flows:\n${indent(formatDiff(result, { maxGroups: 10 }))}\nfirst counterexample: ${describeFlow(first.witness)}\n${indent(trace)}`,
  };
}

/** Exact: throws `PolicyAssertionError` when `after` allows any flow `before` denied, with every opened change. */
export function assertOpensNothing(before: Snapshot, after: Snapshot, options?: DiffOptions): DiffResult {
  const c = checkOpensNothing(before, after, options);
  if (!c.pass) {
    const opened = c.result.changes.filter((x) => x.change === 'opened');
    throw new PolicyAssertionError(c.message, { witnesses: opened.map((x) => x.witness), changes: opened });
  }
  return c.result;
}
