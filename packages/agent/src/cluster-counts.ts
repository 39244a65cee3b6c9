/**
 * Cluster-wide counts for Felix's `cluster_num_*` gauges, kept from the source's stream (the
 * Engine keeps only this host's view): one set of keys per kind, so an update of a known
 * resource does not count twice and a relist's deletes are honoured.
 */
import { formatResourceKey, resourceKey, type SourceMessage } from '@gingham/core';

export interface ClusterCountsSnapshot {
  readonly hosts: number;
  readonly workloadEndpoints: number;
  readonly hostEndpoints: number;
  readonly policies: number;
  readonly profiles: number;
  readonly tiers: number;
  /** Every resource the source has delivered and not deleted. */
  readonly resources: number;
}

const POLICY_KINDS = new Set(['NetworkPolicy', 'GlobalNetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy', 'ClusterNetworkPolicy']);

function bucket(kind: string, apiVersion: string): keyof Omit<ClusterCountsSnapshot, 'resources'> | undefined {
  if (kind === 'Node') return 'hosts';
  if (kind === 'WorkloadEndpoint' || (kind === 'Pod' && apiVersion === 'v1')) return 'workloadEndpoints';
  if (kind === 'HostEndpoint') return 'hostEndpoints';
  if (POLICY_KINDS.has(kind)) return 'policies';
  if (kind === 'Profile' || kind === 'Namespace' || kind === 'ServiceAccount') return 'profiles';
  if (kind === 'Tier') return 'tiers';
  return undefined;
}

export class ClusterCounts {
  private readonly sets = new Map<string, Set<string>>();
  private readonly all = new Set<string>();
  /** Node names (a Calico Node and a Kubernetes Node of one name are one host). */
  private readonly hosts = new Map<string, number>();

  onMessages(messages: readonly SourceMessage[]): void {
    for (const m of messages) {
      if (m.kind !== 'upsert' && m.kind !== 'delete') continue;
      const key = m.kind === 'upsert' ? resourceKey(m.resource) : m.key;
      const id = formatResourceKey(key);
      const b = bucket(key.kind, key.apiVersion);
      if (m.kind === 'upsert') {
        if (this.all.has(id)) continue;
        this.all.add(id);
        if (!b) continue;
        if (b === 'hosts') this.hosts.set(key.name, (this.hosts.get(key.name) ?? 0) + 1);
        let s = this.sets.get(b);
        if (!s) this.sets.set(b, (s = new Set()));
        s.add(id);
      } else {
        if (!this.all.delete(id)) continue;
        if (!b) continue;
        this.sets.get(b)?.delete(id);
        if (b === 'hosts') {
          const n = (this.hosts.get(key.name) ?? 1) - 1;
          if (n <= 0) this.hosts.delete(key.name);
          else this.hosts.set(key.name, n);
        }
      }
    }
  }

  snapshot(): ClusterCountsSnapshot {
    const n = (b: string): number => this.sets.get(b)?.size ?? 0;
    return {
      hosts: this.hosts.size,
      workloadEndpoints: n('workloadEndpoints'),
      hostEndpoints: n('hostEndpoints'),
      policies: n('policies'),
      profiles: n('profiles'),
      tiers: n('tiers'),
      resources: this.all.size,
    };
  }
}
