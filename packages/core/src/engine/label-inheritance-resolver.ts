/**
 * The label inheritance resolver: an entity's effective labels are its own labels plus, for
 * each key it lacks, the value from the first of its profiles defining it (namespace labels as
 * `pcns.*`, service-account labels as `pcsa.*`). Entities with the same own labels and profiles
 * share one interned *label shape* (replicas of a Deployment do), so label indexes work per shape
 * and memory per endpoint stays small. A profile change recomputes only the shapes that use it.
 * Never decides membership itself.
 */
import type { Labels, Profile } from '../model/types.js';
import { sameLabels } from './label-index.js';

export interface LabelShape<M = unknown> {
  /** Short internal id (label index item id). */
  readonly id: string;
  readonly key: string;
  readonly own: Labels;
  readonly profiles: readonly string[];
  labels: Labels;
  /** Entities with this shape. */
  readonly members: Set<M>;
}

export class LabelInheritanceResolver<M> {
  private readonly byKey = new Map<string, LabelShape<M>>();
  readonly byId = new Map<string, LabelShape<M>>();
  private readonly profileShapes = new Map<string, Set<LabelShape<M>>>();
  private next = 0;

  constructor(private readonly profile: (name: string) => Profile | undefined) {}

  get size(): number {
    return this.byId.size;
  }

  /** The shape for these labels and profiles (created when new), with `entity` added as a member. */
  acquire(own: Labels, profiles: readonly string[], entity: M): { shape: LabelShape<M>; created: boolean } {
    const key = `${profiles.join('\u0001')}\u0002${JSON.stringify(own)}`;
    let shape = this.byKey.get(key);
    const created = !shape;
    if (!shape) {
      shape = { id: `#${(this.next++).toString(36)}`, key, own, profiles, labels: this.effective(own, profiles), members: new Set() };
      this.byKey.set(key, shape);
      this.byId.set(shape.id, shape);
      for (const p of new Set(profiles)) {
        let s = this.profileShapes.get(p);
        if (!s) this.profileShapes.set(p, (s = new Set()));
        s.add(shape);
      }
    }
    shape.members.add(entity);
    return { shape, created };
  }

  /** Removes `entity` from its shape; returns true when the shape became empty and was dropped. */
  release(shape: LabelShape<M>, entity: M): boolean {
    shape.members.delete(entity);
    if (shape.members.size > 0) return false;
    this.byKey.delete(shape.key);
    this.byId.delete(shape.id);
    for (const p of new Set(shape.profiles)) {
      const s = this.profileShapes.get(p);
      s?.delete(shape);
      if (s && s.size === 0) this.profileShapes.delete(p);
    }
    return true;
  }

  /** Shapes that use a profile (whose effective labels may change with it). */
  shapesUsing(profile: string): Iterable<LabelShape<M>> {
    return this.profileShapes.get(profile) ?? [];
  }

  /** Recomputes a shape's effective labels; true when they changed. */
  refresh(shape: LabelShape<M>): boolean {
    const labels = this.effective(shape.own, shape.profiles);
    if (sameLabels(labels, shape.labels)) return false;
    shape.labels = labels;
    return true;
  }

  private effective(own: Labels, profiles: readonly string[]): Labels {
    let out: Record<string, string> | undefined;
    for (const name of profiles) {
      const p = this.profile(name);
      if (!p) continue;
      for (const k in p.labelsToApply) {
        if (Object.prototype.hasOwnProperty.call(own, k) || (out && Object.prototype.hasOwnProperty.call(out, k))) continue;
        out ??= { ...own };
        out[k] = p.labelsToApply[k]!;
      }
    }
    return out ?? own;
  }
}
