/**
 * One informer's cache: for each Kubernetes object (by namespace and name) its resourceVersion
 * and the reduced, validated resources it stands for, and the bookkeeping that turns list
 * results and watch events into Source messages (core's `ResyncTracker` law, kept per resource
 * type because a 410 relists one type, not the world):
 *   - an event at a resourceVersion already held is dropped;
 *   - a change whose reduced resources are equal to what was delivered emits nothing (a pod's
 *     status conditions changing costs the Engine nothing);
 *   - a relist marks what it sees and ends with deletes for what vanished;
 *   - an object whose new version does not validate is reported, and its last good version
 *     stays in force (relisting it again emits nothing).
 * Nested maps keyed by the objects' own strings keep 100k pods cheap.
 */
import { resourceKey, validateResource, type Resource, type SourceMessage, type SourceProblem } from '@gingham/core';
import type { Reducer } from '../reduce/reduce.js';

/** A resourceVersion as kept: a number when it is a decimal that fits (they all are, on etcd), else the string. */
type Rv = number | string;
const rvOf = (rv: string): Rv => (rv.length > 0 && rv.length < 16 && /^\d+$/.test(rv) ? Number(rv) : rv);

class Entry {
  constructor(
    public rv: Rv,
    /** What was delivered: one resource (the common case, no array), several, or none. */
    public out: Resource | readonly Resource[] | undefined,
    public epoch: number,
  ) {}
}

const NONE: readonly Resource[] = [];
const asList = (out: Resource | readonly Resource[] | undefined): readonly Resource[] => (out === undefined ? NONE : Array.isArray(out) ? out : [out as Resource]);

export class ObjectStore {
  private readonly byNamespace = new Map<string, Map<string, Entry>>();
  private epoch = 0;
  private delivered = 0;
  private objectCount = 0;

  constructor(
    /** `Pod`, `NetworkPolicy.crd.projectcalico.org`…: for problem messages. */
    private readonly label: string,
    private readonly reduce: Reducer,
    private readonly problem: (p: SourceProblem) => void,
  ) {}

  /** Kubernetes objects held. */
  get objects(): number {
    return this.objectCount;
  }

  /** Resources delivered (upserted and not deleted). */
  get resources(): number {
    return this.delivered;
  }

  /** Starts a relist; pass the returned epoch to `upsert` and `endList`. */
  beginList(): number {
    return ++this.epoch;
  }

  /** An object from a list page (with the list's epoch) or an ADDED/MODIFIED event. */
  upsert(object: Record<string, unknown>, out: SourceMessage[], epoch?: number): void {
    const meta = (object['metadata'] ?? {}) as { name?: unknown; namespace?: unknown; resourceVersion?: unknown };
    if (typeof meta.name !== 'string' || meta.name === '') {
      this.problem({ where: `${this.label} (unnamed)`, message: 'an object without metadata.name was ignored' });
      return;
    }
    const ns = typeof meta.namespace === 'string' ? meta.namespace : '';
    const rv = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
    const entry = this.byNamespace.get(ns)?.get(meta.name);
    if (entry && epoch !== undefined) entry.epoch = epoch;
    const kept = rvOf(rv);
    if (entry && rv !== '' && entry.rv === kept) return;
    const where = `${this.label} ${ns ? `${ns}/` : ''}${meta.name}`;
    let next: readonly Resource[];
    try {
      const reduced = this.reduce(object);
      if (reduced.skipped) this.problem({ where, message: reduced.skipped });
      next = reduced.outputs;
    } catch (e) {
      this.problem({ where, message: `cannot read: ${(e as Error).message}` });
      next = entry ? asList(entry.out) : NONE;
    }
    for (const r of next) {
      const errors = validateResource(r, { file: where }).filter((i) => i.severity === 'error');
      if (errors.length > 0) {
        this.problem({
          where,
          message: `${errors.map((i) => `${i.path}: ${i.message}`).join('; ')}${entry ? ' (the previous version stays in force)' : ''}`,
          issues: errors,
        });
        if (entry) entry.rv = kept;
        else this.insert(ns, meta.name, new Entry(kept, undefined, epoch ?? this.epoch));
        return;
      }
    }
    const before = entry ? asList(entry.out) : NONE;
    this.diff(before, next, rv, out);
    const stored = next.length === 0 ? undefined : next.length === 1 ? next[0] : next;
    if (entry) {
      entry.rv = kept;
      entry.out = stored;
    } else {
      this.insert(ns, meta.name, new Entry(kept, stored, epoch ?? this.epoch));
    }
  }

  /** A DELETED event. */
  remove(object: Record<string, unknown>, out: SourceMessage[]): void {
    const meta = (object['metadata'] ?? {}) as { name?: unknown; namespace?: unknown; resourceVersion?: unknown };
    if (typeof meta.name !== 'string') return;
    const ns = typeof meta.namespace === 'string' ? meta.namespace : '';
    const byName = this.byNamespace.get(ns);
    const entry = byName?.get(meta.name);
    if (!entry || !byName) return;
    this.diff(asList(entry.out), NONE, typeof meta.resourceVersion === 'string' ? meta.resourceVersion : undefined, out);
    byName.delete(meta.name);
    this.objectCount--;
    if (byName.size === 0) this.byNamespace.delete(ns);
  }

  /** Ends a relist: deletes for every object not seen since `beginList` returned `epoch`. */
  endList(epoch: number, out: SourceMessage[]): void {
    for (const [ns, byName] of this.byNamespace) {
      for (const [name, entry] of byName) {
        if (entry.epoch === epoch) continue;
        this.diff(asList(entry.out), NONE, undefined, out);
        byName.delete(name);
        this.objectCount--;
      }
      if (byName.size === 0) this.byNamespace.delete(ns);
    }
  }

  /** Deletes for everything (the API went away); the store is empty afterwards. */
  clear(out: SourceMessage[]): void {
    this.endList(++this.epoch, out);
  }

  /** Every delivered resource. */
  *resourcesHeld(): IterableIterator<Resource> {
    for (const byName of this.byNamespace.values()) for (const e of byName.values()) yield* asList(e.out);
  }

  private insert(ns: string, name: string, entry: Entry): void {
    let byName = this.byNamespace.get(ns);
    if (!byName) this.byNamespace.set(ns, (byName = new Map()));
    byName.set(name, entry);
    this.objectCount++;
  }

  private diff(before: readonly Resource[], after: readonly Resource[], rv: string | undefined, out: SourceMessage[]): void {
    for (const r of after) {
      const old = before.find((b) => b.kind === r.kind && b.apiVersion === r.apiVersion && b.metadata.name === r.metadata.name);
      if (old && deepEqual(old, r)) continue;
      out.push(rv ? { kind: 'upsert', resource: r, revision: rv } : { kind: 'upsert', resource: r });
      if (!old) this.delivered++;
    }
    for (const b of before) {
      if (after.some((r) => r.kind === b.kind && r.apiVersion === b.apiVersion && r.metadata.name === b.metadata.name)) continue;
      out.push(rv ? { kind: 'delete', key: resourceKey(b), revision: rv } : { kind: 'delete', key: resourceKey(b) });
      this.delivered--;
    }
  }
}

/** Structural equality of JSON values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}
