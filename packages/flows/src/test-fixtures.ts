/** Manifests and helpers shared by the collector's unit tests (not part of the package). */
import { buildSnapshot, loadManifests, type Decision, type FlowDecision, type Snapshot } from '@gingham/core';

export const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-7f9c4d5b6-x2x7q, namespace: shop, labels: {app: web, version: v1, pod-template-hash: 7f9c4d5b6}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.65.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-7f9c4d5b6-zzv8q, namespace: shop, labels: {app: web, version: v2}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.65.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.65.0.3}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {kind: partner}}
spec: {nets: [203.0.113.0/24]}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.guard}
spec: {tier: security, selector: all(), ingress: [{action: Deny, protocol: TCP, destination: {ports: [23]}}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]}
`;

export const STAGED = `
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: web-lockdown, namespace: shop}
spec: {stagedAction: Set, selector: app == 'web', types: [Egress], egress: [{action: Allow, protocol: UDP, destination: {ports: [53]}}]}
`;

export function snapshotOf(text: string): Snapshot {
  const loaded = loadManifests([{ file: 'm.yaml', text }]);
  if (!loaded.ok) throw new Error(loaded.issues.map((i) => i.message).join('; '));
  return buildSnapshot(loaded.resources.map((r) => r.resource)).snapshot;
}

/** The dataplane's decision for a direction's verdict, or undefined where no dataplane reports one. */
export function kernelDecision(d: Decision): FlowDecision | undefined {
  switch (d.stage) {
    case 'tier':
      return { kind: 'rule', policyId: d.policyId!, ruleIndex: d.ruleIndex! };
    case 'end-of-tier':
      return { kind: 'end-of-tier', ...(d.tier ? { tier: d.tier } : {}) };
    case 'profile':
      return { kind: 'profile', profile: d.profile!, ruleIndex: d.ruleIndex! };
    case 'no-profile-matched':
    case 'no-profiles':
      return { kind: 'no-profile' };
    default:
      return undefined;
  }
}
