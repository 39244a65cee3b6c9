/**
 * WireGuard for the agent (Felix's wireguard manager): this node's key pair (a key file, created
 * 0600 when missing), its public key published in its own Node resource so peers find it (as
 * calico-node does), and the interface's peers kept equal to what the Node resources and
 * workload endpoints of the other nodes say.
 *
 * Peers are computed only from a complete view: nothing is applied before the source's first
 * in-sync or during a relist (a partial node list would remove peers: a tunnel outage). Changes
 * are coalesced like dataplane applies; the apply is incremental (`@gingham/wireguard` diffs
 * against the interface), so a node whose key changes gets its peer replaced while every other
 * peer keeps its session. Stopping leaves the interface and its wireguard-go running (the tunnel
 * outlives a restart); only `clean()` takes it down.
 */
import { convertCalicoNode, convertKubernetesNode, convertPod, convertWorkloadEndpoint, formatResourceKey, resourceKey, type NodeInfo, type Resource, type SourceMessage } from '@gingham/core';
import { computeWireguardConfig, createWireguard, formatPeerIssue, generateKeyFile, readPrivateKeyFile, type KeyPair, type Wireguard } from '@gingham/wireguard';
import { access } from 'node:fs/promises';
import { createBackoff } from '@gingham/host';
import type { AgentConfig } from './config.js';

/** Publishes this node's public key where peers read it; returns what it did (`created`, `updated`, `unchanged`). */
export type KeyPublisher = (publicKey: string) => Promise<string>;

export interface WireguardManagerOptions {
  readonly config: AgentConfig;
  readonly publishKey?: KeyPublisher;
  readonly log: (level: 'info' | 'warn' | 'error', code: string, message: string, extra?: Record<string, unknown>) => void;
}

export interface WireguardStatus {
  readonly interface: string;
  readonly publicKey?: string;
  readonly keyPublished: boolean;
  readonly peers: number;
  readonly applies: number;
  readonly failures: number;
  readonly lastApplyAt?: string;
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: string };
  readonly issues: readonly string[];
}

const CALICO = 'projectcalico.org/v3';

export class WireguardManager {
  private readonly config: AgentConfig;
  private readonly options: WireguardManagerOptions;
  private keys: KeyPair | undefined;
  private wg: Wireguard | undefined;
  /** Node name → what each kind of Node resource says (a Calico Node wins over a Kubernetes Node). */
  private readonly nodes = new Map<string, { calico?: NodeInfo; k8s?: NodeInfo }>();
  /** Endpoint key → its node and addresses (only these matter for allowed IPs). */
  private readonly endpoints = new Map<string, { node: string; addresses: readonly string[] }>();
  private everSynced = false;
  private resyncing = false;
  private dirty = false;
  private running = false;
  private stopped = false;
  private published = false;
  private publishTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff;
  private readonly publishBackoff;
  private loggedIssues = new Set<string>();
  status: WireguardStatus;

  constructor(options: WireguardManagerOptions) {
    this.options = options;
    this.config = options.config;
    this.backoff = createBackoff({ initialMs: options.config.applyRetryInitialMs, maxMs: options.config.applyRetryMaxMs });
    this.publishBackoff = createBackoff({ initialMs: 500, maxMs: 30_000 });
    this.status = { interface: options.config.wireguardInterface, keyPublished: false, peers: 0, applies: 0, failures: 0, issues: [] };
  }

  /** Ready: the key is published and the last apply (if one was due) succeeded. */
  get ready(): boolean {
    return this.published && this.status.lastError === undefined && (!this.everSynced || this.status.applies > 0);
  }

  /** Reads (or creates) the key file and starts publishing the public key. */
  async start(): Promise<void> {
    const file = this.config.wireguardKeyFile;
    let exists = true;
    try {
      await access(file);
    } catch {
      exists = false;
    }
    if (!exists) {
      await generateKeyFile(file, { createParents: true });
      this.options.log('info', 'WIREGUARD_KEY_CREATED', `created the WireGuard private key file ${file} (mode 0600)`);
    }
    this.keys = await readPrivateKeyFile(file);
    this.status = { ...this.status, publicKey: this.keys.publicKey };
    this.wg = createWireguard({ interfaceName: this.config.wireguardInterface, mode: this.config.wireguardMode });
    this.publish();
  }

  /** Takes the source's messages (Nodes and endpoints) and applies when something relevant changed. */
  onSourceMessages(messages: readonly SourceMessage[]): void {
    let changed = false;
    for (const m of messages) {
      if (m.kind === 'resync-started') {
        this.resyncing = true;
        continue;
      }
      if (m.kind === 'in-sync') {
        this.resyncing = false;
        this.everSynced = true;
        changed = true;
        continue;
      }
      const key = m.kind === 'upsert' ? resourceKey(m.resource) : m.key;
      if (key.kind === 'Node') changed = this.onNode(key.name, key.apiVersion, m.kind === 'upsert' ? m.resource : undefined) || changed;
      else if ((key.kind === 'WorkloadEndpoint' && key.apiVersion === CALICO) || (key.kind === 'Pod' && key.apiVersion === 'v1')) {
        changed = this.onEndpoint(formatResourceKey(key), m.kind === 'upsert' ? m.resource : undefined) || changed;
      }
    }
    if (changed) this.kick();
  }

  private onNode(name: string, apiVersion: string, resource: Resource | undefined): boolean {
    const entry = this.nodes.get(name) ?? {};
    const which = apiVersion === CALICO ? 'calico' : 'k8s';
    const before = JSON.stringify(entry[which]);
    if (resource) {
      const converted = apiVersion === CALICO ? convertCalicoNode(resource as never) : convertKubernetesNode(resource as never);
      if (converted.value) entry[which] = converted.value;
    } else {
      delete entry[which];
    }
    if (!entry.calico && !entry.k8s) this.nodes.delete(name);
    else this.nodes.set(name, entry);
    return JSON.stringify(entry[which]) !== before;
  }

  private onEndpoint(id: string, resource: Resource | undefined): boolean {
    const before = this.endpoints.get(id);
    if (!resource) return this.endpoints.delete(id);
    const converted = resource.kind === 'Pod' ? convertPod(resource as never) : convertWorkloadEndpoint(resource as never);
    const wep = converted.value;
    if (!wep) return before !== undefined && this.endpoints.delete(id);
    if (before && before.node === wep.node && before.addresses.join() === wep.addresses.join()) return false;
    this.endpoints.set(id, { node: wep.node, addresses: wep.addresses });
    return true;
  }

  private publish(): void {
    const publishKey = this.options.publishKey;
    if (!publishKey || !this.keys || this.stopped) {
      this.published = !publishKey;
      this.status = { ...this.status, keyPublished: this.published };
      return;
    }
    const key = this.keys.publicKey;
    publishKey(key).then(
      (what) => {
        this.published = true;
        this.publishBackoff.reset();
        this.status = { ...this.status, keyPublished: true };
        this.options.log('info', 'WIREGUARD_KEY_PUBLISHED', `public key ${key} ${what} in Node ${this.config.node}`);
      },
      (err: Error & { code?: string }) => {
        const delay = this.publishBackoff.next();
        this.options.log('warn', err.code ?? 'WIREGUARD_KEY_PUBLISH_FAILED', `could not publish the WireGuard public key in Node ${this.config.node}: ${err.message}; retrying in ${delay} ms`);
        if (!this.stopped) this.publishTimer = setTimeout(() => this.publish(), delay);
      },
    );
  }

  private kick(): void {
    if (!this.everSynced || this.resyncing || this.stopped || this.retryTimer || !this.wg) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = true;
    setImmediate(() => void this.run());
  }

  private nodeList(): NodeInfo[] {
    const out: NodeInfo[] = [];
    for (const e of this.nodes.values()) {
      const n = e.calico ?? e.k8s;
      if (n) out.push(e.calico && e.k8s ? { ...e.k8s, ...e.calico, podCIDRs: [...new Set([...e.k8s.podCIDRs, ...e.calico.podCIDRs])] } : n);
    }
    return out;
  }

  private async run(): Promise<void> {
    try {
      do {
        this.dirty = false;
        await this.applyOnce();
      } while (this.dirty && !this.stopped && !this.retryTimer);
    } finally {
      this.running = false;
    }
  }

  private async applyOnce(): Promise<void> {
    const keys = this.keys!;
    const computed = computeWireguardConfig({
      nodes: this.nodeList(),
      workloadEndpoints: [...this.endpoints.values()],
      localNode: this.config.node,
      localPublicKey: keys.publicKey,
      listenPort: this.config.wireguardListenPort,
    });
    const issues = computed.issues.map(formatPeerIssue);
    for (const line of issues) {
      if (!this.loggedIssues.has(line)) this.options.log('warn', 'WIREGUARD_PEER_ISSUE', line);
    }
    this.loggedIssues = new Set(issues);
    this.status = { ...this.status, issues };
    if (computed.issues.some((i) => i.code === 'local-node-not-found')) {
      this.status = { ...this.status, lastError: { code: 'WIREGUARD_NO_NODE', message: `Node ${this.config.node} is not in the datastore yet (create it with its address; see docs/agent.md)`, at: new Date().toISOString() } };
      return;
    }
    try {
      const result = await this.wg!.apply({ privateKey: keys.privateKey, interface: computed.interface, peers: computed.peers });
      this.backoff.reset();
      const { lastError: _dropped, ...rest } = this.status;
      this.status = { ...rest, peers: computed.peers.length, applies: this.status.applies + 1, lastApplyAt: new Date().toISOString() };
      if (result.commands > 0) {
        this.options.log('info', 'WIREGUARD_APPLIED', `${result.interfaceName}: ${computed.peers.length} peer(s); added ${result.peers.added}, updated ${result.peers.updated}, removed ${result.peers.removed}`, { durationMs: Math.round(result.durationMs.total) });
      }
    } catch (err) {
      const e = err as Error & { code?: string };
      const delay = this.backoff.next();
      this.status = { ...this.status, failures: this.status.failures + 1, lastError: { code: e.code ?? 'WIREGUARD_APPLY_FAILED', message: e.message, at: new Date().toISOString() } };
      this.options.log('error', e.code ?? 'WIREGUARD_APPLY_FAILED', `WireGuard apply failed: ${e.message}; retrying in ${delay} ms`);
      if (!this.stopped) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, delay);
      }
    }
  }

  /** Stops applying and publishing; the interface and its peers stay. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.publishTimer);
    clearTimeout(this.retryTimer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    await this.wg?.close();
  }

  /** Takes the interface down (its routes, rule and wireguard-go too); says what it removed. */
  async clean(): Promise<string> {
    const wg = this.wg ?? createWireguard({ interfaceName: this.config.wireguardInterface, mode: this.config.wireguardMode });
    try {
      const r = await wg.down();
      return `removed WireGuard interface ${r.interfaceName} (${r.removedRoutes} route(s), ${r.removedRules} rule(s)${r.stoppedPid !== undefined ? `, stopped wireguard-go ${r.stoppedPid}` : ''})`;
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'WG_INTERFACE_NOT_FOUND') return `no WireGuard interface ${this.config.wireguardInterface} to remove`;
      throw err;
    }
  }
}
