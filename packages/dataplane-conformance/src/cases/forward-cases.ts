/**
 * Conformance cases for traffic the node forwards and for traffic between the node and its own
 * pods (issue 15): host endpoints on the node's `eth0` (outside 192.168.99.2) and `eth1` (outside
 * 192.168.98.2), `applyOnForward`, pre-DNAT and untracked policy, the all-interfaces endpoint.
 * Every probe names where it crosses the node (`via`), its verdict comes from `evaluate()`, and
 * `expect` pins the intended answer so no case passes vacuously.
 */
import type { FlowVia } from '@gingham/core';
import { NODE } from './cases.js';

/** A peer of a forwarding probe: a pod (`ns/name`), the node itself, or one of the two outside namespaces. */
export type ForwardPeer = `${string}/${string}` | 'node' | 'ext' | 'ext2';

export interface ForwardProbe {
  readonly from: ForwardPeer;
  readonly to: ForwardPeer;
  readonly port: number;
  /** Where the flow crosses the node, as `evaluate()` takes it (absent: both ends are on the node). */
  readonly via?: string | FlowVia;
  readonly expect: boolean;
}

export interface ForwardCase {
  readonly name: string;
  readonly manifests: string;
  readonly probes: readonly ForwardProbe[];
}

/** TCP ports the outside namespaces listen on. */
export const OUTSIDE_TCP_PORTS = [80, 443, 8080] as const;

/** The node's addresses, so that `evaluate()` knows the node itself from an outside address. */
export const FORWARD_WORLD = `
apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: ${NODE}}
spec: {addresses: [{address: 192.168.99.1}, {address: 192.168.98.1}]}
`;

/** Kubernetes-style automatic host endpoint (all interfaces) without a profile. */
const STAR = `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-all, labels: {hep: all}}
spec: {node: ${NODE}, interfaceName: '*', expectedIPs: [192.168.99.1, 192.168.98.1]}
`;
const ETH0 = `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-eth0, labels: {hep: eth0}}
spec: {node: ${NODE}, interfaceName: eth0, expectedIPs: [192.168.99.1]}
`;
const ETH1 = `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-eth1, labels: {hep: eth1}}
spec: {node: ${NODE}, interfaceName: eth1, expectedIPs: [192.168.98.1]}
`;

const p = (from: ForwardPeer, to: ForwardPeer, port: number, expect: boolean, via?: string | FlowVia): ForwardProbe => ({ from, to, port, expect, ...(via !== undefined ? { via } : {}) });
const viaEth0 = { node: NODE, in: 'node-eth0' };

export const FORWARD_CASES: readonly ForwardCase[] = [
  {
    name: 'a `*` host endpoint without policy: the node reaches its pods, pods reach the node, forwarded traffic passes',
    manifests: STAR,
    probes: [
      p('node', 'a/web', 80, true),
      p('node', 'b/client', 443, true),
      p('a/web', 'node', 8080, true),
      p('ext', 'a/web', 80, true, NODE),
      p('ext', 'ext2', 443, true, NODE),
      p('ext', 'node', 80, false),
    ],
  },
  {
    name: 'the node reaches its pods whatever their ingress policy says',
    manifests: `${STAR}---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pods-closed}
spec: {selector: has(app), types: [Ingress]}
`,
    probes: [p('node', 'a/web', 80, true), p('node', 'a/db', 8080, true), p('b/client', 'a/web', 80, false), p('ext', 'a/web', 80, false, NODE)],
  },
  {
    name: 'applyOnForward ingress policy of the `*` endpoint: outside → pod and pod → pod',
    manifests: `${STAR}---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: fwd-web}
spec:
  selector: hep == 'all'
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]
`,
    probes: [
      p('ext', 'a/web', 80, true, NODE),
      p('ext', 'a/web', 443, false, NODE),
      p('a/db', 'a/web', 80, true),
      p('a/db', 'a/web', 443, false),
      p('node', 'a/web', 443, true),
      p('ext', 'ext2', 443, false, NODE),
    ],
  },
  {
    name: 'normal host policy does not apply to forwarded traffic; applyOnForward egress of the `*` endpoint does',
    manifests: `${STAR}---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-closed}
spec: {selector: hep == 'all', types: [Ingress, Egress]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: fwd-out}
spec:
  selector: hep == 'all'
  applyOnForward: true
  types: [Egress]
  egress: [{action: Deny, protocol: TCP, destination: {ports: [8080]}}, {action: Allow}]
`,
    probes: [p('ext', 'a/web', 80, true, NODE), p('ext', 'a/web', 8080, false, NODE), p('ext', 'node', 80, false), p('a/web', 'ext', 8080, false, NODE), p('a/web', 'ext', 443, true, NODE)],
  },
  {
    name: 'pre-DNAT before applyOnForward on a named endpoint: Allow skips it, Deny drops',
    manifests: `${ETH0}---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: fwd-closed}
spec: {selector: hep == 'eth0', applyOnForward: true, types: [Ingress], ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pre}
spec:
  selector: hep == 'eth0'
  preDNAT: true
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [8080]}}, {action: Deny, protocol: TCP, destination: {ports: [80]}}]
`,
    probes: [
      p('ext', 'a/web', 8080, true, viaEth0),
      p('ext', 'a/web', 80, false, viaEth0),
      p('ext', 'a/web', 443, false, viaEth0),
      // The pods' own interfaces have no host endpoint here: pod → outside is not policed by eth0's ingress.
      p('a/web', 'ext', 443, true, { node: NODE, out: 'node-eth0' }),
    ],
  },
  {
    name: 'untracked ingress policy of the arrival endpoint drops forwarded traffic',
    manifests: `${ETH0}---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: raw}
spec: {selector: hep == 'eth0', doNotTrack: true, applyOnForward: true, types: [Ingress], ingress: [{action: Deny, protocol: TCP, destination: {ports: [9005]}}]}
`,
    probes: [p('ext', 'a/web', 9005, false, viaEth0), p('ext', 'a/web', 80, true, viaEth0)],
  },
  {
    name: 'routed between two host endpoints: ingress tiers of the arrival one, egress tiers of the departure one',
    manifests: `${ETH0}---
${ETH1}---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: eth0-in}
spec: {selector: hep == 'eth0', applyOnForward: true, types: [Ingress], ingress: [{action: Allow, protocol: TCP, destination: {ports: [443, 8080]}}]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: eth1-out}
spec: {selector: hep == 'eth1', applyOnForward: true, types: [Egress], egress: [{action: Deny, protocol: TCP, destination: {ports: [8080]}}, {action: Allow}]}
`,
    probes: [
      p('ext', 'ext2', 443, true, { node: NODE, in: 'node-eth0', out: 'node-eth1' }),
      p('ext', 'ext2', 80, false, { node: NODE, in: 'node-eth0', out: 'node-eth1' }),
      p('ext', 'ext2', 8080, false, { node: NODE, in: 'node-eth0', out: 'node-eth1' }),
      p('ext2', 'ext', 80, true, { node: NODE, in: 'node-eth1', out: 'node-eth0' }),
    ],
  },
];

/** The `evaluate()` reference of a probe peer: pods by id, the node and the outside namespaces by address. */
export function forwardPeerRef(peer: ForwardPeer): string {
  return peer === 'node' ? '192.168.99.1' : peer === 'ext' ? '192.168.99.2' : peer === 'ext2' ? '192.168.98.2' : peer;
}
