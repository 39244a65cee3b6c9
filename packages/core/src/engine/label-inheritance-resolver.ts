/**
 * The label inheritance resolver: an entity's effective labels are its own labels plus, for
 * each key it lacks, the value from the first of its profiles defining it (namespace labels as
 * `pcns.*`, service-account labels as `pcsa.*`). Entities with the same own labels and profiles
 * share one interned *label shape* (replicas of a Deployment do), so label indexes work per shape
 * and memory per endpoint stays small. A profile change recomputes only the shapes that use it.
 * Never decides membership itself.
 *
 * Memory: shapes are found through a 32-bit hash of (profiles, own labels) with the candidates
 * compared field by field, so no per-shape key string is kept; small member lists are arrays;
 * effective label maps are built property by property (never by spread) so that shapes with the
 * same label keys share one V8 hidden class instead of one each.
 */
import type { Labels, Profile } from '../model/types.js';
import { sameLabels } from './label-index.js';

export interface LabelShape<M = unknown> {
  /** Short internal id (label index item id). */
  readonly id: string;
  /** Hash of (profiles, own labels): the interning bucket. */
  readonly hash: number;
  readonly own: Labels;
  readonly profiles: readonly string[];
  labels: Labels;
  /** Entities with this shape: an array while small, a Set beyond `SMALL`. */
  members: M[] | Set<M>;
}

/** Member lists up to this length stay arrays (removal scans them). */
const SMALL = 16;

export class LabelInheritanceResolver<M> {
  private readonly byHash = new Map<number, LabelShape<M> | LabelShape<M>[]>();
  readonly byId = new Map<string, LabelShape<M>>();
  private readonly profileShapes = new Map<string, Set<LabelShape<M>>>();
  private next = 0;

  constructor(private readonly profile: (name: string) => Profile | undefined) {}

  get size(): number {
    return this.byId.size;
  }

  /** The shape for these labels and profiles (created when new), with `entity` added as a member. */
  acquire(own: Labels, profiles: readonly string[], entity: M): { shape: LabelShape<M>; created: boolean } {
    const hash = shapeHash(own, profiles);
    let shape = this.find(hash, own, profiles);
    const created = !shape;
    if (!shape) {
      shape = { id: `#${(this.next++).toString(36)}`, hash, own, profiles, labels: this.effective(own, profiles), members: [] };
      const bucket = this.byHash.get(hash);
      if (bucket === undefined) this.byHash.set(hash, shape);
      else if (Array.isArray(bucket)) bucket.push(shape);
      else this.byHash.set(hash, [bucket, shape]);
      this.byId.set(shape.id, shape);
      for (const p of new Set(profiles)) {
        let s = this.profileShapes.get(p);
        if (!s) this.profileShapes.set(p, (s = new Set()));
        s.add(shape);
      }
    }
    const members = shape.members;
    if (!Array.isArray(members)) members.add(entity);
    else if (members.length < SMALL) members.push(entity);
    else shape.members = new Set([...members, entity]);
    return { shape, created };
  }

  /** Removes `entity` from its shape; returns true when the shape became empty and was dropped. */
  release(shape: LabelShape<M>, entity: M): boolean {
    const members = shape.members;
    if (Array.isArray(members)) {
      const i = members.indexOf(entity);
      if (i >= 0) members.splice(i, 1);
    } else {
      members.delete(entity);
      if (members.size <= SMALL / 2) shape.members = [...members];
    }
    if ((Array.isArray(shape.members) ? shape.members.length : shape.members.size) > 0) return false;
    const bucket = this.byHash.get(shape.hash);
    if (bucket === shape) this.byHash.delete(shape.hash);
    else if (Array.isArray(bucket)) {
      const rest = bucket.filter((s) => s !== shape);
      this.byHash.set(shape.hash, rest.length === 1 ? rest[0]! : rest);
    }
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

  private find(hash: number, own: Labels, profiles: readonly string[]): LabelShape<M> | undefined {
    const bucket = this.byHash.get(hash);
    if (bucket === undefined) return undefined;
    if (!Array.isArray(bucket)) return sameShape(bucket, own, profiles) ? bucket : undefined;
    return bucket.find((s) => sameShape(s, own, profiles));
  }

  private effective(own: Labels, profiles: readonly string[]): Labels {
    let out: Record<string, string> | undefined;
    for (const name of profiles) {
      const p = this.profile(name);
      if (!p) continue;
      for (const k in p.labelsToApply) {
        if (Object.prototype.hasOwnProperty.call(own, k) || (out && Object.prototype.hasOwnProperty.call(out, k))) continue;
        out ??= copyLabels(own);
        out[k] = p.labelsToApply[k]!;
      }
    }
    return out ?? own;
  }
}

/** A copy built key by key: it follows V8's shared hidden-class transitions (a spread copy does not). */
function copyLabels(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in labels) out[k] = labels[k]!;
  return out;
}

function sameShape(s: LabelShape<unknown>, own: Labels, profiles: readonly string[]): boolean {
  if (s.profiles.length !== profiles.length) return false;
  for (let i = 0; i < profiles.length; i++) if (s.profiles[i] !== profiles[i]) return false;
  return sameLabels(s.own, own);
}

/**
 * The interning hash: FNV-1a over the ordered profiles, plus an order-independent sum over the
 * own label pairs, each hashed from its key's length and its value (keys repeat across entities,
 * values tell them apart; candidates are compared exactly, so collisions only cost a compare).
 */
export function shapeHash(own: Labels, profiles: readonly string[]): number {
  let h = 0x811c9dc5;
  for (const p of profiles) h = Math.imul(fnv(h, p) ^ 1, 0x01000193);
  let pairs = 0;
  for (const k in own) pairs = (pairs + fnv(Math.imul(0x811c9dc5 ^ k.length, 0x01000193), own[k]!)) | 0;
  return (Math.imul(h ^ pairs, 0x01000193) ^ (pairs >>> 13)) >>> 0;
}

function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
}
