/**
 * Cluster-wide counts for Felix's `cluster_num_*` gauges, kept from the source's stream (the
 * Engine keeps only this host's view): the names delivered, so an update of a known resource
 * does not count twice and a relist's deletes are honoured, and a number per kind (a key's kind,
 * and so its count, never changes; a set per kind would hold every key twice). The names are
 * kept in one set per group/kind/namespace: the set holds the resource's own name string (no
 * id built and kept per resource: at 100k endpoints that was ~10 MiB and a string build per
 * message).
 */
import type { SourceMessage } from '@gingham/core';

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

function bucket(kind: string, apiVersion: string): Bucket | undefined {
  if (kind === 'Node') return 'hosts';
  if (kind === 'WorkloadEndpoint' || (kind === 'Pod' && apiVersion === 'v1')) return 'workloadEndpoints';
  if (kind === 'HostEndpoint') return 'hostEndpoints';
  if (POLICY_KINDS.has(kind)) return 'policies';
  if (kind === 'Profile' || kind === 'Namespace' || kind === 'ServiceAccount') return 'profiles';
  if (kind === 'Tier') return 'tiers';
  return undefined;
}

type Bucket = keyof Omit<ClusterCountsSnapshot, 'resources'>;

export class ClusterCounts {
  /** `group/Kind namespace` → the names delivered there and not deleted (a bucket follows from its kind). */
  private readonly all = new Map<string, Set<string>>();
  private total = 0;
  private readonly counts: Record<Bucket, number> = { hosts: 0, workloadEndpoints: 0, hostEndpoints: 0, policies: 0, profiles: 0, tiers: 0 };
  /** Node names (a Calico Node and a Kubernetes Node of one name are one host). */
  private readonly hosts = new Map<string, number>();

  onMessages(messages: readonly SourceMessage[]): void {
    for (const m of messages) {
      if (m.kind !== 'upsert' && m.kind !== 'delete') continue;
      const key = m.kind === 'upsert' ? { apiVersion: m.resource.apiVersion, kind: m.resource.kind, namespace: m.resource.metadata.namespace, name: m.resource.metadata.name } : m.key;
      const group = key.apiVersion.includes('/') ? key.apiVersion.slice(0, key.apiVersion.indexOf('/')) : 'core';
      const where = `${group}/${key.kind} ${key.namespace ?? ''}`;
      const b = bucket(key.kind, key.apiVersion);
      if (m.kind === 'upsert') {
        let names = this.all.get(where);
        if (names?.has(key.name)) continue;
        if (!names) this.all.set(where, (names = new Set()));
        names.add(key.name);
        this.total++;
        if (!b) continue;
        if (b === 'hosts') this.hosts.set(key.name, (this.hosts.get(key.name) ?? 0) + 1);
        this.counts[b]++;
      } else {
        const names = this.all.get(where);
        if (!names?.delete(key.name)) continue;
        this.total--;
        if (names.size === 0) this.all.delete(where);
        if (!b) continue;
        this.counts[b]--;
        if (b === 'hosts') {
          const n = (this.hosts.get(key.name) ?? 1) - 1;
          if (n <= 0) this.hosts.delete(key.name);
          else this.hosts.set(key.name, n);
        }
      }
    }
  }

  snapshot(): ClusterCountsSnapshot {
    const c = this.counts;
    return {
      hosts: this.hosts.size,
      workloadEndpoints: c.workloadEndpoints,
      hostEndpoints: c.hostEndpoints,
      policies: c.policies,
      profiles: c.profiles,
      tiers: c.tiers,
      resources: this.total,
    };
  }
}
