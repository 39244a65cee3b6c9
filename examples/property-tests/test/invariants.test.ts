// Invariants of the shop's network policy, checked on every change. Point POLICY_MANIFESTS at
// your own manifests (files or directories, comma-separated) and write your own invariants.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '@gingham/core';
import { applyPolicyChange, arbFlowIn, arbPolicyChange, assertNoPath, peerMatches, snapshotFromFiles } from '@gingham/testkit';
import '@gingham/testkit/vitest'; // expect(snapshot).toAllow / toDeny / toIsolate / toHaveNoPath / toOpenNothing

const manifests = process.env.POLICY_MANIFESTS?.split(',') ?? [new URL('../manifests/', import.meta.url).pathname];
let policy: Snapshot;

beforeAll(async () => {
  policy = await snapshotFromFiles(manifests); // fails with file:line:col for broken manifests
});

describe('shop network policy', () => {
  // 1. Sampled, with flows biased to every port and peer the rules mention: uniform ports would
  //    almost never try 5432, and this property would pass even when it is false.
  it('the database accepts only the backend on 5432, and Prometheus scraping 9090', () => {
    fc.assert(
      fc.property(arbFlowIn(policy, { to: "app == 'db'" }), (flow) => {
        const expected =
          flow.protocol === 'TCP' &&
          ((peerMatches(policy, flow.src, "app == 'backend'") && flow.dstPort === 5432) ||
            (peerMatches(policy, flow.src, "app == 'prometheus'") && flow.dstPort === 9090));
        if (!expected) expect(policy).toDeny(flow); // a failure prints the trace of the flow
      }),
      { numRuns: 500 },
    );
  });

  // 2. Examples: one assertion per pod.
  it('Prometheus scrapes the metrics port of every shop pod', () => {
    for (const pod of policy.workloadEndpoints.filter((w) => w.namespace === 'shop')) {
      expect(policy).toAllow({ from: 'monitoring/prometheus-0', to: pod.id, port: 9090 });
    }
  });

  // 3. Sampled: any pod, any protocol and port, to the cloud metadata service.
  it('no pod reaches the cloud metadata service', () => {
    fc.assert(
      fc.property(arbFlowIn(policy, { from: 'has(projectcalico.org/namespace)', to: { outside: ['169.254.169.254/32'] } }), (flow) => {
        expect(policy).toDeny(flow);
      }),
      { numRuns: 300 },
    );
  });

  // 4. Exact: every address, protocol and port is considered; a failure lists every allowed flow.
  it('nothing reaches the database from the frontend', () => {
    expect(policy).toIsolate("app == 'db'", { from: "app == 'frontend'" });
  });

  // 5. Robustness: whatever the shop team edits in its own NetworkPolicies, the security tier
  //    keeps other namespaces off the database port (exact for each drawn edit).
  it('no edit of the shop NetworkPolicies opens the database port to other namespaces', () => {
    fc.assert(
      fc.property(arbPolicyChange(policy, { policies: (p) => p.kind === 'KubernetesNetworkPolicy' }), (change) => {
        assertNoPath(applyPolicyChange(policy, change), {
          from: "projectcalico.org/namespace != 'shop'",
          to: "app == 'db'",
          ports: [{ protocol: 'TCP', port: 5432 }],
        });
      }),
      { numRuns: 50 },
    );
  });
});
