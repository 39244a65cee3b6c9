import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '@gingham/core';
import { snapshotFromFiles } from './snapshot-from-files.js';
import { ginghamMatchers } from './vitest.js';

const quickstart = fileURLToPath(new URL('../../../examples/quickstart/', import.meta.url));
let snapshot: Snapshot;
beforeAll(async () => {
  snapshot = await snapshotFromFiles(quickstart);
});

describe('vitest matchers', () => {
  it('toAllow / toDeny, and their negations', () => {
    expect(snapshot).toAllow({ from: 'shop/backend-0', to: 'shop/db-0', port: 5432 });
    expect(snapshot).toDeny({ from: 'shop/frontend-0', to: 'shop/db-0', port: 5432 });
    expect(snapshot).not.toAllow({ from: 'shop/frontend-0', to: 'shop/db-0', port: 5432 });
  });

  it('a failure prints explain()’s trace of the flow', () => {
    expect(() => expect(snapshot).toAllow({ from: 'shop/frontend-0', to: 'shop/db-0', port: 5432 })).toThrow(
      /expected shop\/frontend-0 -> shop\/db-0 TCP 5432 to be allowed, but it is DENIED:\n {2}DENIED: egress denied by end of tier default/,
    );
    expect(() => expect(snapshot).not.toDeny({ from: 'shop/frontend-0', to: 'shop/db-0', port: 5432 })).toThrow(/not to be denied, but it is DENIED/);
  });

  it('toIsolate and toHaveNoPath are exact, and list the counterexamples', () => {
    expect(snapshot).toIsolate("app == 'db'", { from: "app == 'frontend'" });
    expect(snapshot).toHaveNoPath({ from: { namespace: 'shop' }, to: { outside: ['169.254.169.254/32'] } });
    expect(() => expect(snapshot).toIsolate("app == 'db'", { from: { namespace: 'monitoring' } })).toThrow(/first counterexample: 10\.65\.0\.40 -> 10\.65\.0\.30 TCP 9090/);
  });

  it('toOpenNothing compares two snapshots exactly', () => {
    const closing = { ...snapshot, policies: snapshot.policies.filter((p) => p.id !== 'knp/shop/allow-dns') };
    expect(snapshot).toOpenNothing(closing);
    expect(() => expect(closing).toOpenNothing(snapshot)).toThrow(/opens \d+ sets of flows/);
  });

  it('rejects what is not a snapshot', () => {
    expect(() => expect({}).toAllow({ from: 'a', to: 'b' })).toThrow(/needs a Snapshot/);
    expect(Object.keys(ginghamMatchers).sort()).toEqual(['toAllow', 'toDeny', 'toHaveNoPath', 'toIsolate', 'toOpenNothing']);
  });
});
