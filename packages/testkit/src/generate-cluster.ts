/**
 * `generateCluster`: a deterministic synthetic cluster of realistic shape at any size:
 * labelled namespaces (teams, environments), pods spread over nodes as apps with tiers and
 * named ports, Kubernetes NetworkPolicies between apps of a namespace and from monitoring,
 * Calico tiers with GlobalNetworkPolicies that Deny threat feeds, Pass whole teams to the next
 * tier and Allow platform traffic, (Global)NetworkSets with CIDRs, and host endpoints. The same
 * options always give the same resources (own seeded PRNG, no clock).
 */
import type { Resource } from '@gingham/core';
import { Prng } from './prng.js';

export interface ClusterOptions {
  readonly seed: number;
  readonly namespaces: number;
  /** Total pods (default `podsPerNamespace × namespaces`). */
  readonly endpoints?: number;
  readonly podsPerNamespace?: number;
  readonly appsPerNamespace?: number;
  readonly nodes: number;
  /** Total policies: ~90 % Kubernetes NetworkPolicies, the rest Calico GlobalNetworkPolicies. */
  readonly policies: number;
  /** Calico tiers besides `default` (default 2). */
  readonly tiers?: number;
  readonly networkSets?: number;
  readonly hostEndpoints?: number;
  /** A node that gets exactly `localEndpoints` pods (the node an Engine under test runs for). */
  readonly localNode?: string;
  readonly localEndpoints?: number;
}

export interface Cluster {
  readonly resources: Resource[];
  readonly namespaces: Resource[];
  readonly pods: Resource[];
  readonly policies: Resource[];
  readonly tiers: Resource[];
  readonly networkSets: Resource[];
  readonly hostEndpoints: Resource[];
  readonly nodes: Resource[];
  readonly nodeNames: readonly string[];
}

const TEAMS = ['payments', 'search', 'identity', 'media', 'ads', 'infra', 'data', 'mobile'];
const ENVS = ['prod', 'staging', 'dev'];
const ROLES = ['frontend', 'backend', 'db', 'cache', 'worker'];

export function podIp(i: number): string {
  return `10.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

export function nodeIp(i: number): string {
  return `172.16.${(i >> 8) & 255}.${i & 255}`;
}

export function nodeName(i: number): string {
  return `node-${i}`;
}

export function generateCluster(options: ClusterOptions): Cluster {
  const rng = new Prng(options.seed);
  const nsCount = Math.max(1, options.namespaces);
  const total = options.endpoints ?? (options.podsPerNamespace ?? 10) * nsCount;
  const apps = Math.max(1, options.appsPerNamespace ?? 10);
  const tierCount = options.tiers ?? 2;

  const nodeNames: string[] = [];
  const nodes: Resource[] = [];
  for (let i = 0; i < options.nodes; i++) {
    const name = options.localNode !== undefined && i === 0 ? options.localNode : nodeName(i);
    nodeNames.push(name);
    nodes.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, zone: `zone-${i % 3}` } },
      spec: { podCIDR: `10.${16 + (i >> 8)}.${i & 255}.0/24` },
      status: { addresses: [{ type: 'InternalIP', address: nodeIp(i) }] },
    } as Resource);
  }

  const namespaces: Resource[] = [];
  for (let n = 0; n < nsCount; n++) {
    namespaces.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: `ns-${n}`, labels: { team: TEAMS[n % TEAMS.length]!, env: ENVS[n % ENVS.length]! } },
    });
  }

  // Pods: round-robin over namespaces; `localEndpoints` of them, evenly spaced, on the local node.
  const pods: Resource[] = [];
  const local = options.localNode !== undefined ? Math.min(total, options.localEndpoints ?? 0) : 0;
  const stride = local > 0 ? Math.floor(total / local) : 0;
  let localPlaced = 0;
  let remoteNext = 0;
  const others = nodeNames.length > 1 ? nodeNames.slice(options.localNode !== undefined ? 1 : 0) : nodeNames;
  for (let i = 0; i < total; i++) {
    const ns = i % nsCount;
    const app = rng.int(apps);
    let node: string;
    if (local > 0 && localPlaced < local && i % stride === 0) {
      node = options.localNode!;
      localPlaced++;
    } else node = others.length > 0 ? others[remoteNext++ % others.length]! : 'node-0';
    const role = ROLES[app % ROLES.length]!;
    pods.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `app-${app}-${i}`,
        namespace: `ns-${ns}`,
        labels: { app: `app-${app}`, role, version: `v${rng.int(3)}` },
      },
      spec: {
        nodeName: node,
        serviceAccountName: `sa-${app % 3}`,
        containers: [{ name: 'main', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090 + (app % 2), protocol: 'TCP' }] }],
      },
      status: { phase: 'Running', podIP: podIp(i), podIPs: [{ ip: podIp(i) }] },
    } as Resource);
  }

  // Tiers (Calico): security (Deny), platform (Pass), then more alternating.
  const tiers: Resource[] = [];
  const tierNames: string[] = [];
  for (let t = 0; t < tierCount; t++) {
    const name = t === 0 ? 'security' : t === 1 ? 'platform' : `tier-${t}`;
    tierNames.push(name);
    tiers.push({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name }, spec: { order: 100 * (t + 1), defaultAction: t % 2 === 0 ? 'Deny' : 'Pass' } });
  }

  // Network sets: threat feeds (global) and partners (namespaced).
  const networkSets: Resource[] = [];
  for (let s = 0; s < (options.networkSets ?? 4); s++) {
    const nets = [`198.${18 + (s % 2)}.${(s >> 1) & 255}.0/24`, `203.0.${s & 255}.${16 * (s % 4)}/28`];
    if (s % 2 === 0) {
      networkSets.push({
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkSet',
        metadata: { name: `threat-${s}`, labels: { 'threat-feed': 'true', feed: `feed-${s % 5}` } },
        spec: { nets },
      });
    } else {
      networkSets.push({
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkSet',
        metadata: { name: `partner-${s}`, namespace: `ns-${s % nsCount}`, labels: { partner: `p-${s % 7}` } },
        spec: { nets },
      });
    }
  }

  // Policies.
  const policies: Resource[] = [];
  const gnpCount = tierCount > 0 ? Math.max(tierCount > 0 ? 1 : 0, Math.round(options.policies * 0.1)) : 0;
  const knpCount = options.policies - gnpCount;
  for (let p = 0; p < knpCount; p++) {
    const ns = `ns-${p % nsCount}`;
    const target = rng.int(apps);
    const from = rng.int(apps);
    const kind = rng.int(4);
    const ingress =
      kind === 0
        ? [{ from: [{ podSelector: { matchLabels: { app: `app-${from}` } } }], ports: [{ protocol: 'TCP', port: 'http' }] }]
        : kind === 1
          ? [{ from: [{ namespaceSelector: { matchLabels: { team: rng.pick(TEAMS) } }, podSelector: { matchLabels: { role: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }]
          : kind === 2
            ? [{ from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [`app-${from}`, `app-${(from + 1) % apps}`] }] } }, { ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.1.0/24'] } }] }]
            : [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ns-0' } }, podSelector: { matchLabels: { app: 'app-0' } } }], ports: [{ protocol: 'TCP', port: 'metrics' }] }];
    const egress = rng.chance(0.3) ? [{ to: [{ podSelector: { matchLabels: { app: `app-${(target + 1) % apps}` } } }], ports: [{ protocol: 'TCP', port: 8080 }] }, { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ protocol: 'UDP', port: 53 }] }] : undefined;
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `np-${p}`, namespace: ns },
      spec: {
        podSelector: rng.chance(0.05) ? {} : { matchLabels: { app: `app-${target}` } },
        policyTypes: egress ? ['Ingress', 'Egress'] : ['Ingress'],
        ingress,
        ...(egress ? { egress } : {}),
      },
    } as Resource);
  }
  for (let g = 0; g < gnpCount; g++) {
    const tier = tierNames[g % tierNames.length]!;
    const team = TEAMS[g % TEAMS.length]!;
    const kind = g % 4;
    const spec =
      kind === 0
        ? { tier, order: 10 + g, selector: 'all()', namespaceSelector: `team == '${team}'`, types: ['Ingress', 'Egress'], ingress: [{ action: 'Deny', source: { selector: `threat-feed == 'true'` } }, { action: 'Pass' }], egress: [{ action: 'Deny', destination: { selector: `threat-feed == 'true'` } }, { action: 'Pass' }] }
        : kind === 1
          ? { tier, order: 10 + g, selector: `role == '${ROLES[g % ROLES.length]}'`, namespaceSelector: `env == '${ENVS[g % ENVS.length]}'`, types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `app == 'app-${g % apps}'`, namespaceSelector: `team == '${team}'` }, destination: { ports: ['http'] } }, { action: 'Pass', source: { selector: `partner == 'p-${g % 7}'` } }] }
          : kind === 2
            ? { tier, order: 10 + g, selector: `app == 'app-${g % apps}'`, types: ['Egress'], egress: [{ action: 'Deny', protocol: 'TCP', destination: { nets: ['169.254.0.0/16'] } }, { action: 'Pass' }] }
            : { tier, order: 10 + g, selector: `has(host-endpoint)`, types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `role == 'frontend'`, namespaceSelector: 'all()' }, destination: { ports: [10250] } }, { action: 'Deny' }] };
    policies.push({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: `${tier}.gnp-${g}` }, spec } as Resource);
  }

  // Host endpoints: the first nodes get one each (explicit interface, `*`, or expectedIPs only).
  const hostEndpoints: Resource[] = [];
  for (let h = 0; h < Math.min(options.hostEndpoints ?? 0, nodeNames.length); h++) {
    const style = h % 3;
    hostEndpoints.push({
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name: `${nodeNames[h]}-eth0`, labels: { 'host-endpoint': 'true', zone: `zone-${h % 3}` } },
      spec: {
        node: nodeNames[h]!,
        ...(style === 0 ? { interfaceName: 'eth0' } : style === 1 ? { interfaceName: '*' } : {}),
        expectedIPs: [nodeIp(h)],
        profiles: ['projectcalico-default-allow'],
      },
    } as Resource);
  }

  const resources = [...nodes, ...namespaces, ...tiers, ...networkSets, ...hostEndpoints, ...policies, ...pods];
  return { resources, namespaces, pods, policies, tiers, networkSets, hostEndpoints, nodes, nodeNames };
}
