/**
 * A Map that is a small layer of changes over a larger map it shares with the tables it was
 * derived from: the compiler's persistent maps (regions, region atoms, the desired kernel maps).
 * `LayeredMap.over(m)` is an editable map equal to `m` that never modifies `m` and costs
 * O(changes since the last flatten) instead of O(size); the layer is folded into a new base once
 * it outgrows a share of the base, so reads stay one or two lookups and the copying amortises.
 *
 * Behaves as a Map through the Map API (get/has/set/delete/clear/size/iteration); its entries
 * are not in the Map's internal storage, so `structuredClone` would lose them: copy with
 * `new Map(x)`. Values must not be `undefined`.
 */
const GONE: unique symbol = Symbol('gone');

/** The layer is folded into a new base when it holds more than this many entries plus 1/16 of the base. */
const LAYER_MIN = 256;

export class LayeredMap<K, V> extends Map<K, V> {
  #base: ReadonlyMap<K, V>;
  #top: Map<K, V | typeof GONE>;
  #size: number;

  private constructor(base: ReadonlyMap<K, V>, top: Map<K, V | typeof GONE>, size: number) {
    super();
    this.#base = base;
    this.#top = top;
    this.#size = size;
  }

  /** An editable map with `m`'s entries; `m` is never modified. */
  static over<K, V>(m: ReadonlyMap<K, V>): LayeredMap<K, V> {
    if (!(m instanceof LayeredMap)) return new LayeredMap<K, V>(m, new Map(), m.size);
    const l = m as LayeredMap<K, V>;
    if (l.#top.size > LAYER_MIN + l.#base.size / 16) return new LayeredMap<K, V>(new Map(l), new Map(), l.#size);
    return new LayeredMap<K, V>(l.#base, new Map(l.#top), l.#size);
  }

  override get size(): number {
    return this.#size;
  }

  override get(k: K): V | undefined {
    const t = this.#top.get(k);
    if (t !== undefined) return t === GONE ? undefined : t;
    return this.#base.get(k);
  }

  override has(k: K): boolean {
    const t = this.#top.get(k);
    if (t !== undefined) return t !== GONE;
    return this.#base.has(k);
  }

  override set(k: K, v: V): this {
    if (!this.has(k)) this.#size++;
    this.#top.set(k, v);
    return this;
  }

  override delete(k: K): boolean {
    if (!this.has(k)) return false;
    if (this.#base.has(k)) this.#top.set(k, GONE);
    else this.#top.delete(k);
    this.#size--;
    return true;
  }

  override clear(): void {
    this.#base = new Map();
    this.#top = new Map();
    this.#size = 0;
  }

  override *entries(): MapIterator<[K, V]> {
    for (const [k, v] of this.#base) if (!this.#top.has(k)) yield [k, v];
    for (const [k, v] of this.#top) if (v !== GONE) yield [k, v];
  }

  override *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  override *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  override forEach(f: (v: V, k: K, m: Map<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) f.call(thisArg, v, k, this);
  }
}
