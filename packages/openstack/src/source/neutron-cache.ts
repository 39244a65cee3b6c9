/**
 * What the source knows of the cloud: every Neutron collection by id, as last listed, plus the
 * Keystone projects. Full listings replace a collection; `changed_since` listings merge into it.
 * In agent mode ports come from two listings (this host's in full, everyone's slim) and the
 * newer `revision_number` of the two wins, so a port that moves away is seen to move. Knows
 * nothing of Calico: `inputs()` hands the converter plain lists.
 */
import type { KeystoneProject, NeutronFloatingIp, NeutronInputs, NeutronNetwork, NeutronPort, NeutronQosPolicy, NeutronSecurityGroup, NeutronSubnet } from '../neutron-types.js';

type WithId = { readonly id: string; readonly revision_number?: number };

class Collection<T extends WithId> {
  readonly byId = new Map<string, T>();

  replace(items: readonly T[]): void {
    this.byId.clear();
    this.merge(items);
  }

  /** Returns whether anything changed. */
  merge(items: readonly T[]): boolean {
    let changed = false;
    for (const item of items) {
      if (typeof item?.id !== 'string') continue;
      const had = this.byId.get(item.id);
      if (had !== undefined && JSON.stringify(had) === JSON.stringify(item)) continue;
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

  portIds(): Set<string> {
    return new Set([...this.ports.byId.keys(), ...this.localPorts.byId.keys()]);
  }

  deletePort(id: string): void {
    this.ports.delete(id);
    this.localPorts.delete(id);
  }

  inputs(): NeutronInputs {
    const ports: NeutronPort[] = [];
    for (const id of this.portIds()) ports.push(this.port(id)!);
    return {
      ports,
      securityGroups: [...this.securityGroups.byId.values()],
      networks: [...this.networks.byId.values()],
      subnets: [...this.subnets.byId.values()],
      floatingIps: [...this.floatingIps.byId.values()],
      qosPolicies: [...this.qosPolicies.byId.values()],
      ...(this.projects ? { projects: this.projects } : {}),
    };
  }
}
