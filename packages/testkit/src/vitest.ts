/**
 * `@gingham/testkit/vitest`: policy matchers for vitest. Importing this module registers them
 * with `expect.extend` (import it in a test file or a `setupFiles` entry); `ginghamMatchers` is
 * exported for runners with a jest-compatible `expect.extend`. vitest is an optional peer
 * dependency: only this entry imports it.
 *
 *   expect(snapshot).toAllow({ from: 'shop/backend-0', to: 'shop/db-0', port: 5432 });
 *   expect(snapshot).toDeny(flow);                                   // failure prints explain()
 *   expect(snapshot).toIsolate("app == 'db'", { from: "app == 'frontend'" });   // exact
 *   expect(snapshot).toHaveNoPath({ from: { namespace: 'dev' }, to: { namespace: 'payments' } });
 *   expect(before).toOpenNothing(after);                             // exact
 */
import { expect } from 'vitest';
import type { DiffOptions, PeerQuery, PortQuery, Snapshot } from '@gingham/core';
import { checkFlow, checkNoPath, checkOpensNothing, type FlowSpec, type PathQuery } from './assertions.js';

interface MatcherResult {
  pass: boolean;
  message: () => string;
}

function isSnapshot(value: unknown): value is Snapshot {
  return typeof value === 'object' && value !== null && Array.isArray((value as Snapshot).policies) && Array.isArray((value as Snapshot).workloadEndpoints);
}

function needSnapshot(received: unknown, matcher: string): Snapshot {
  if (!isSnapshot(received)) throw new TypeError(`${matcher}: expect() needs a Snapshot (from snapshotFromFiles or buildSnapshot), got ${typeof received}`);
  return received;
}

/** The matchers, for `expect.extend`. */
export const ginghamMatchers = {
  toAllow(received: unknown, flow: FlowSpec): MatcherResult {
    const c = checkFlow(needSnapshot(received, 'toAllow'), flow, 'allowed');
    return { pass: c.pass, message: () => c.message };
  },
  toDeny(received: unknown, flow: FlowSpec): MatcherResult {
    const c = checkFlow(needSnapshot(received, 'toDeny'), flow, 'denied');
    return { pass: c.pass, message: () => c.message };
  },
  toIsolate(received: unknown, selector: string, options: { from: string | PeerQuery; ports?: readonly PortQuery[] }): MatcherResult {
    const c = checkNoPath(needSnapshot(received, 'toIsolate'), { from: options.from, to: selector, ...(options.ports ? { ports: options.ports } : {}) });
    return { pass: c.pass, message: () => c.message };
  },
  toHaveNoPath(received: unknown, query: PathQuery): MatcherResult {
    const c = checkNoPath(needSnapshot(received, 'toHaveNoPath'), query);
    return { pass: c.pass, message: () => c.message };
  },
  toOpenNothing(received: unknown, after: Snapshot, options?: DiffOptions): MatcherResult {
    const c = checkOpensNothing(needSnapshot(received, 'toOpenNothing'), needSnapshot(after, 'toOpenNothing'), options);
    return { pass: c.pass, message: () => c.message };
  },
};

expect.extend(ginghamMatchers);

interface GinghamMatchers<R = void> {
  /** The flow is allowed (failure prints `explain()`'s trace). */
  toAllow(flow: FlowSpec): R;
  /** The flow is denied (failure prints `explain()`'s trace). */
  toDeny(flow: FlowSpec): R;
  /** Exact: endpoints selected by `selector` accept nothing from `from` (failure lists every allowed flow). */
  toIsolate(selector: string, options: { from: string | PeerQuery; ports?: readonly PortQuery[] }): R;
  /** Exact: no flow from `from` to `to` (within `ports`) is allowed. */
  toHaveNoPath(query: PathQuery): R;
  /** Exact: `after` allows no flow this snapshot denies. */
  toOpenNothing(after: Snapshot, options?: DiffOptions): R;
}

declare module 'vitest' {
  // Matchers<T> is vitest's extension point (since 3.2): it types expect(x).toAllow(...) and expect.extend.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/no-explicit-any
  interface Matchers<T = any> extends GinghamMatchers<void> {}
}

export type { GinghamMatchers };
