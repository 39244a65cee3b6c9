/**
 * The conformance cases: manifests on top of a fixed three-pod world, and the flows to probe.
 * Verdicts always come from `evaluate()`; `expect` pins the intended answer so that a case can
 * never pass vacuously (e.g. because everything is allowed).
 */
import { loadManifests, type Resource } from '@gingham/core';

/** Parses the suite's own manifests (they are fixed: an error here is a bug in a case). */
export function loadResources(text: string): Resource[] {
  const r = loadManifests([{ file: 'conformance.yaml', text }]);
  if (!r.ok) throw new Error(`conformance manifests: ${r.issues.map((i) => i.message).join('; ')}`);
  return r.resources.map((x) => x.resource);
}

export interface ConformanceProbe {
  readonly from: string;
  readonly to: string;
  readonly protocol: 'TCP' | 'UDP';
  readonly port: number;
  readonly expect: boolean;
}

export interface ConformanceCase {
  readonly name: string;
  readonly manifests: string;
  readonly probes: readonly ConformanceProbe[];
}

export const NODE = 'gh-node-1';

/** Namespaces a (team=x) and b (team=y); pods a/web (app=web), a/db (app=db), b/client (app=client). */
export const WORLD_PODS = [
  { namespace: 'a', name: 'web', ip: '10.65.0.11', labels: { app: 'web' } },
  { namespace: 'a', name: 'db', ip: '10.65.0.12', labels: { app: 'db' } },
  { namespace: 'b', name: 'client', ip: '10.65.0.13', labels: { app: 'client' } },
] as const;

export const TCP_PORTS = [80, 443, 8080, 9005] as const;
export const UDP_PORTS = [53, 9005] as const;
export const ECHO_PORT = 7000;

export function podManifest(namespace: string, name: string, ip: string, labels: Record<string, string>): string {
  const lab = Object.entries(labels)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  return `---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: {${lab}}}
spec:
  nodeName: ${NODE}
  containers:
  - name: c
    image: i
    ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]
status: {podIP: ${ip}}
`;
}

export const WORLD = `
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: y}}
${WORLD_PODS.map((p) => podManifest(p.namespace, p.name, p.ip, p.labels)).join('')}`;

const tcp = (from: string, to: string, port: number, expect: boolean): ConformanceProbe => ({ from, to, protocol: 'TCP', port, expect });
const udp = (from: string, to: string, port: number, expect: boolean): ConformanceProbe => ({ from, to, protocol: 'UDP', port, expect });

export const CASES: readonly ConformanceCase[] = [
  {
    name: 'default allow via profiles',
    manifests: '',
    probes: [tcp('a/db', 'a/web', 80, true), tcp('b/client', 'a/web', 8080, true), tcp('a/web', 'b/client', 443, true), udp('a/web', 'a/db', 53, true)],
  },
  {
    name: 'default deny once selected',
    manifests: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: 8080}]}]
`,
    probes: [tcp('a/db', 'a/web', 8080, true), tcp('a/db', 'a/web', 80, false), tcp('b/client', 'a/web', 8080, false), tcp('a/web', 'a/db', 80, true)],
  },
  {
    name: 'tier Pass vs end-of-tier deny',
    manifests: `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: sec}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: sec.web}
spec:
  tier: sec
  selector: app == 'web'
  types: [Ingress]
  ingress: [{action: Pass, source: {selector: app == 'db'}}]
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: open}
spec: {order: 200, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: open.db}
spec:
  tier: open
  selector: app == 'db'
  types: [Ingress]
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [443]}}]
`,
    probes: [tcp('a/db', 'a/web', 80, true), tcp('b/client', 'a/web', 80, false), tcp('b/client', 'a/db', 80, true), tcp('b/client', 'a/db', 443, false)],
  },
  {
    name: 'policy order and tie-breaking',
    manifests: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-client}
spec:
  order: 10
  selector: app == 'web'
  ingress: [{action: Deny, source: {selector: app == 'client'}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-all}
spec:
  order: 20
  selector: app == 'web'
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: foo}
spec:
  order: 5
  selector: app == 'web'
  ingress: [{action: Allow, protocol: TCP, destination: {ports: [443]}}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: foo-bar}
spec:
  order: 5
  selector: app == 'web'
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [443]}}]
`,
    probes: [tcp('b/client', 'a/web', 80, false), tcp('a/db', 'a/web', 80, true), tcp('a/db', 'a/web', 443, false)],
  },
  {
    name: 'named ports and port ranges',
    manifests: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ports, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: http}, {port: dns, protocol: UDP}, {port: 9000, endPort: 9010}]}]
`,
    probes: [
      tcp('a/db', 'a/web', 8080, true),
      tcp('a/db', 'a/web', 9005, true),
      tcp('a/db', 'a/web', 80, false),
      udp('a/db', 'a/web', 53, true),
      udp('a/db', 'a/web', 9005, false),
    ],
  },
  {
    name: 'nets, notNets and network sets',
    manifests: `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: nets}
spec:
  selector: app == 'web'
  types: [Ingress]
  ingress:
  - {action: Allow, source: {nets: [10.65.0.12/32, 10.65.0.13/32], notNets: [10.65.0.13/32]}}
  - {action: Allow, protocol: TCP, source: {selector: role == 'trusted'}, destination: {ports: [443]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: trusted, labels: {role: trusted}}
spec: {nets: [10.65.0.13/32]}
`,
    probes: [tcp('a/db', 'a/web', 80, true), tcp('b/client', 'a/web', 80, false), tcp('b/client', 'a/web', 443, true)],
  },
  {
    name: 'namespace selectors',
    manifests: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-team-y, namespace: a}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: y}}}]}]
`,
    probes: [tcp('b/client', 'a/web', 80, true), tcp('a/db', 'a/web', 80, false), tcp('b/client', 'a/db', 443, true)],
  },
];

/** Used by the live cases: web admits only app=db pods, from any namespace. */
export const ONLY_DB_TO_WEB = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-db, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}]}]
`;

/** Ports the node itself listens on (host endpoint cases). */
export const NODE_TCP_PORTS = [22, 80, 8080] as const;

/** A host endpoint on the node's eth0 (192.168.99.1): no profile, so only failsafes and policy admit. */
export const HOST_ENDPOINT = `
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node-eth0, labels: {role: node}}
spec: {node: ${NODE}, interfaceName: eth0, expectedIPs: [192.168.99.1]}
`;

export const HOST_POLICY = `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-web}
spec:
  selector: role == 'node'
  types: [Ingress]
  ingress: [{action: Allow, protocol: TCP, source: {nets: [192.168.99.0/24]}, destination: {ports: [8080]}}, {action: Deny}]
`;

/** Pre-DNAT policy (mangle): decides before normal policy; Allow skips it, Deny drops. */
export const HOST_PREDNAT_POLICY = `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-prednat}
spec:
  selector: role == 'node'
  preDNAT: true
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [8080]}}, {action: Allow, protocol: TCP, destination: {ports: [80]}}]
`;

/** Untracked policy (raw): only Deny is probed (an untracked Allow needs its replies allowed too). */
export const HOST_UNTRACKED_POLICY = `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: host-untracked}
spec:
  selector: role == 'node'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress]
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [8080, 22]}}]
`;
