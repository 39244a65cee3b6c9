/**
 * A persistent Map for the compiler's large maps (regions, region atoms, the desired kernel
 * maps): `LayeredMap.over(m)` is an editable map equal to `m` that never modifies `m`, in O(1),
 * and every later change costs O(1) too: no copy, no fold, however large the map.
 *
 * How (a "rerooting" persistent map, after Baker's shallow binding). All the versions derived
 * from one another share one Map holding the contents of one of them, the root. Every other
 * version is a diff against a neighbour closer to the root: the keys where it differs, with its
 * own values. Deriving from the root makes the old root a diff (empty at first) against the new
 * one; a change of the new root first records the old value in that diff. Reading a version near
 * the root walks its few diffs; changing or iterating a version, or reading one far from the
 * root, first makes it the root by applying the diffs on its path and reversing them (O(the
 * changes between the two)). The compiler always derives from and edits the newest version, so
 * it never pays for rerooting; an older version stays exact for whoever still holds it.
 *
 * A version that something was derived from is frozen: changing it throws (it would change its
 * descendants). Behaves as a Map through the Map API (get/has/set/delete/clear/size/iteration);
 * its entries are not in the Map's internal storage, so `structuredClone` would lose them: copy
 * with `new Map(x)`. Iteration walks a snapshot. Values must not be `undefined`.
 */
const GONE: unique symbol = Symbol('gone');

/** A read walks at most this many diffs before it reroots instead. */
const MAX_WALK = 8;

interface Store<K, V> {
  readonly map: Map<K, V>;
}

export class LayeredMap<K, V> extends Map<K, V> {
  #store: Store<K, V>;
  /** Undefined at the root; else this version's values where it differs from `#next`. */
  #diff: Map<K, V | typeof GONE> | undefined;
  #next: LayeredMap<K, V> | undefined;
  /** The version this one was derived from, while this one may still change. */
  #parent: LayeredMap<K, V> | undefined;
  #frozen = false;
  #size: number;

  private constructor(store: Store<K, V>, size: number, parent: LayeredMap<K, V> | undefined) {
    super();
    this.#store = store;
    this.#diff = undefined;
    this.#next = undefined;
    this.#parent = parent;
    this.#size = size;
  }

  /** An editable map with `m`'s entries; `m` is never modified (a plain `m` is copied once). */
  static over<K, V>(m: ReadonlyMap<K, V>): LayeredMap<K, V> {
    if (!(m instanceof LayeredMap)) return new LayeredMap<K, V>({ map: new Map(m) }, m.size, undefined);
    const p = m as LayeredMap<K, V>;
    p.#reroot();
    p.#frozen = true;
    p.#parent = undefined;
    const n = new LayeredMap<K, V>(p.#store, p.#size, p);
    p.#diff = new Map();
    p.#next = n;
    return n;
  }

  /** Makes this version the root: applies the diffs on its path, reversing each. */
  #reroot(): void {
    if (this.#diff === undefined) return;
    const path: LayeredMap<K, V>[] = [];
    for (let x: LayeredMap<K, V> = this; x.#diff !== undefined; x = x.#next!) path.push(x);
    const map = this.#store.map;
    for (let i = path.length - 1; i >= 0; i--) {
      const x = path[i]!;
      const root = x.#next!;
      const inverse = new Map<K, V | typeof GONE>();
      for (const [k, v] of x.#diff!) {
        const cur = map.get(k);
        inverse.set(k, cur === undefined ? GONE : cur);
        if (v === GONE) map.delete(k);
        else map.set(k, v);
      }
      root.#diff = inverse;
      root.#next = x;
      x.#diff = undefined;
      x.#next = undefined;
    }
  }

  /** Makes this version the root before a change, remembering the old value for its parent. */
  #editing(k: K): Map<K, V> {
    if (this.#frozen) throw new Error('LayeredMap: a map another was derived from cannot change');
    this.#reroot();
    const map = this.#store.map;
    const p = this.#parent;
    if (p !== undefined && p.#next === this && !p.#diff!.has(k)) {
      const cur = map.get(k);
      p.#diff!.set(k, cur === undefined ? GONE : cur);
    }
    return map;
  }

  override get size(): number {
    return this.#size;
  }

  override get(k: K): V | undefined {
    let x: LayeredMap<K, V> = this;
    for (let walked = 0; x.#diff !== undefined; walked++) {
      if (walked === MAX_WALK) {
        this.#reroot();
        return this.#store.map.get(k);
      }
      const v = x.#diff.get(k);
      if (v !== undefined) return v === GONE ? undefined : v;
      x = x.#next!;
    }
    return this.#store.map.get(k);
  }

  override has(k: K): boolean {
    return this.get(k) !== undefined;
  }

  override set(k: K, v: V): this {
    const map = this.#editing(k);
    if (!map.has(k)) this.#size++;
    map.set(k, v);
    return this;
  }

  override delete(k: K): boolean {
    if (!this.has(k)) return false;
    this.#editing(k).delete(k);
    this.#size--;
    return true;
  }

  override clear(): void {
    for (const k of [...this.keys()]) this.delete(k);
  }

  override entries(): MapIterator<[K, V]> {
    this.#reroot();
    return [...this.#store.map][Symbol.iterator]();
  }

  override keys(): MapIterator<K> {
    this.#reroot();
    return [...this.#store.map.keys()][Symbol.iterator]();
  }

  override values(): MapIterator<V> {
    this.#reroot();
    return [...this.#store.map.values()][Symbol.iterator]();
  }

  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  override forEach(f: (v: V, k: K, m: Map<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) f.call(thisArg, v, k, this);
  }
}
