/**
 * The resources the agent was given, as the Engine was given them (upserts and deletes from the
 * source, keyed with `apiVersion` so the Calico and Kubernetes kinds of one name stay apart),
 * and a core `Snapshot` of them for the flow collector, which
 * evaluates each flow on it. The snapshot is rebuilt only when it is asked for after the
 * resources changed (once per change, never per flow event); between changes the same object is
 * returned, so the collector keeps its indexes. Never touches the dataplane.
 */
import { buildSnapshot, type Resource, type Snapshot, type SourceMessage } from '@gingham/core';

export class ResourceMirror {
  /** `kind\0namespace\0name` → apiVersion → resource. */
  readonly #resources = new Map<string, Map<string, Resource>>();
  #snapshot: Snapshot | undefined;
  #changed = true;
  #builds = 0;
  #issues = 0;

  /** Takes a source batch (the same batch the Engine gets). */
  onMessages(messages: readonly SourceMessage[]): void {
    for (const m of messages) {
      if (m.kind === 'upsert') {
        const { kind, metadata } = m.resource;
        const key = `${kind}\0${metadata.namespace ?? ''}\0${metadata.name}`;
        let byVersion = this.#resources.get(key);
        if (!byVersion) this.#resources.set(key, (byVersion = new Map()));
        byVersion.set(m.resource.apiVersion, m.resource);
        this.#changed = true;
      } else if (m.kind === 'delete') {
        const key = `${m.key.kind}\0${m.key.namespace ?? ''}\0${m.key.name}`;
        const byVersion = this.#resources.get(key);
        if (!byVersion?.delete(m.key.apiVersion)) continue;
        if (byVersion.size === 0) this.#resources.delete(key);
        this.#changed = true;
      }
    }
  }

  /** Resources held now. */
  get size(): number {
    let n = 0;
    for (const v of this.#resources.values()) n += v.size;
    return n;
  }

  /** How many times the snapshot was built; how many conversion issues the last build had. */
  stats(): { builds: number; resources: number; issues: number } {
    return { builds: this.#builds, resources: this.size, issues: this.#issues };
  }

  /** The snapshot of the resources now: the same object until they change. */
  snapshot(): Snapshot {
    if (this.#changed || this.#snapshot === undefined) {
      const all: Resource[] = [];
      for (const v of this.#resources.values()) all.push(...v.values());
      const built = buildSnapshot(all);
      this.#snapshot = built.snapshot;
      this.#issues = built.issues.length;
      this.#changed = false;
      this.#builds++;
    }
    return this.#snapshot;
  }
}
