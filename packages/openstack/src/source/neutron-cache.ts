/**
 * What the source knows of the cloud: every Neutron collection by id, as last listed, plus the
 * Keystone projects. Full listings replace a collection; `changed_since` listings merge into it.
 * In agent mode ports come from two listings (this host's in full, everyone's slim) and the
 * newer `revision_number` of the two wins, so a port that moves away is seen to move. Knows
 * nothing of Calico: `inputs()` hands the converter plain lists.
 */
import type { KeystoneProject, NeutronFloatingIp, NeutronInputs, NeutronNetwork, NeutronPort, NeutronQosPolicy, NeutronSecurityGroup, NeutronSubnet } from '../neutron-types.js';

type WithId = { readonly id: string; readonly revision_number?: number; readonly updated_at?: string };

/**
 * The same version of an object: Neutron bumps `revision_number` (and `updated_at`) on every
 * change, a group's on every change of its rules; without them, compare the bodies.
 */
function same(a: WithId, b: WithId): boolean {
  if (a.revision_number !== undefined && b.revision_number !== undefined && a.updated_at !== undefined && b.updated_at !== undefined) {
    return a.revision_number === b.revision_number && a.updated_at === b.updated_at && Object.keys(a).length === Object.keys(b).length;
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

class Collection<T extends WithId> {
  readonly byId = new Map<string, T>();

  /** Replaces the whole collection; objects that did not change keep their identity (so conversions of them are reused). */
  replace(items: readonly T[]): void {
    const old = new Map(this.byId);
    this.byId.clear();
    for (const item of items) {
      if (typeof item?.id !== 'string') continue;
      const had = old.get(item.id);
      this.byId.set(item.id, had !== undefined && same(had, item) ? had : item);
    }
  }

  /** Returns whether anything changed. */
  merge(items: readonly T[]): boolean {
    let changed = false;
    for (const item of items) {
      if (typeof item?.id !== 'string') continue;
      const had = this.byId.get(item.id);
      if (had !== undefined && same(had, item)) continue;
      this.byId.set(item.id, item);
      changed = true;
    }
    return changed;
  }

  delete(id: string): boolean {
    return this.byId.delete(id);
  }
}

export class NeutronCache {
  readonly securityGroups = new Collection<NeutronSecurityGroup>();
  readonly networks = new Collection<NeutronNetwork>();
  readonly subnets = new Collection<NeutronSubnet>();
  readonly floatingIps = new Collection<NeutronFloatingIp>();
  readonly qosPolicies = new Collection<NeutronQosPolicy>();
  /** All ports (full bodies, or slim ones in agent mode). */
  readonly ports = new Collection<NeutronPort>();
  /** Agent mode: this host's ports in full. */
  readonly localPorts = new Collection<NeutronPort>();
  projects: readonly KeystoneProject[] | undefined;

  /** The port as the converter should see it: the newer of the full and slim versions. */
  port(id: string): NeutronPort | undefined {
    const local = this.localPorts.byId.get(id);
    const any = this.ports.byId.get(id);
    if (!local) return any;
    if (!any) return local;
    return (any.revision_number ?? 0) > (local.revision_number ?? 0) ? any : local;
  }

  /** Every port as the converter should see it. */
  *allPorts(): IterableIterator<NeutronPort> {
    for (const [id, p] of this.ports.byId) yield this.localPorts.byId.has(id) ? this.port(id)! : p;
    for (const [id, p] of this.localPorts.byId) if (!this.ports.byId.has(id)) yield p;
  }

  deletePort(id: string): void {
    this.ports.delete(id);
    this.localPorts.delete(id);
  }

  inputs(): NeutronInputs {
    return {
      ports: [...this.allPorts()],
      securityGroups: [...this.securityGroups.byId.values()],
      networks: [...this.networks.byId.values()],
      subnets: [...this.subnets.byId.values()],
      floatingIps: [...this.floatingIps.byId.values()],
      qosPolicies: [...this.qosPolicies.byId.values()],
      ...(this.projects ? { projects: this.projects } : {}),
    };
  }
}
