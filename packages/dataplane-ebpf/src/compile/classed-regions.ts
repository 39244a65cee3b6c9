/**
 * The compiler memory's regions with their class ids, as a read-only view over the region
 * index's regions and the class ids by signature (a live signature keeps its id, so a region's
 * class is a function of its signature) instead of a third map of 100k objects beside the
 * index's atoms and regions (~9 MiB at 100k remote addresses). `get` and iteration make a small
 * object per call; the compiler reads only the regions that changed, and tests read them all.
 * Both maps it reads must never change afterwards (the compiler derives new versions of them).
 */
import type { Region } from './classes.js';

export type ClassedRegion = Region & { readonly classId: number };

export class ClassedRegions implements ReadonlyMap<string, ClassedRegion> {
  readonly #regions: ReadonlyMap<string, Region>;
  readonly #classIds: ReadonlyMap<string, number>;

  constructor(regions: ReadonlyMap<string, Region>, classIds: ReadonlyMap<string, number>) {
    this.#regions = regions;
    this.#classIds = classIds;
  }

  #classed(r: Region): ClassedRegion {
    const classId = this.#classIds.get(r.sig);
    if (classId === undefined) throw new Error(`compiler: no class for the live signature ${r.sig}`);
    return { addr: r.addr, prefix: r.prefix, sig: r.sig, classId };
  }

  get size(): number {
    return this.#regions.size;
  }

  has(id: string): boolean {
    return this.#regions.has(id);
  }

  get(id: string): ClassedRegion | undefined {
    const r = this.#regions.get(id);
    return r === undefined ? undefined : this.#classed(r);
  }

  *entries(): MapIterator<[string, ClassedRegion]> {
    for (const [id, r] of this.#regions) yield [id, this.#classed(r)];
  }

  keys(): MapIterator<string> {
    return this.#regions.keys();
  }

  *values(): MapIterator<ClassedRegion> {
    for (const r of this.#regions.values()) yield this.#classed(r);
  }

  [Symbol.iterator](): MapIterator<[string, ClassedRegion]> {
    return this.entries();
  }

  forEach(fn: (value: ClassedRegion, key: string, map: ReadonlyMap<string, ClassedRegion>) => void, thisArg?: unknown): void {
    for (const [id, r] of this.entries()) fn.call(thisArg, r, id, this);
  }
}
