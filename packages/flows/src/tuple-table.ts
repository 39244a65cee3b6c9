/**
 * An open-addressing hash table over connection tuples — two address texts and two integer
 * words (protocol and flags, packed ports) — with typed-array payload columns: the collector's
 * live connections, its denied-connection set and the trace cache. Lookups build no key
 * string and allocate nothing: the caller hashes the address pair once per event
 * (`pairHash`), the table mixes in the words, compares the stored texts (the same string
 * objects when the source caches its texts) and answers an entry index. Entries keep their
 * index until deleted (freed indices are reused); deletion shifts the probe run back, so no
 * tombstones accumulate. Linear probing, power-of-two slots, load ≤ 1/2; storage grows on
 * demand up to `cap` entries, where `insert` answers -1 (the caller counts what it could not keep).
 */
import { mix } from './flow-table.js';

const EMPTY = -1;

function hashText(h: number, t: string): number {
  for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 0x01000193);
  return h;
}

/** The hash of an ordered address pair, shared by every table keyed by it. */
export function pairHash(src: string, dst: string): number {
  return hashText(hashText(0x811c9dc5, src) ^ 0x2f, dst) | 0;
}

export class TupleTable {
  /** Live entries. */
  size = 0;
  readonly cap: number;
  /** One past the highest entry index ever used (iterate 0 … end-1, skipping `!live(i)`). */
  end = 0;
  src: string[] = [];
  dst: string[] = [];
  words: Int32Array;
  ints: Int32Array;
  floats: Float64Array;
  readonly intColumns: number;
  readonly floatColumns: number;
  #live: Uint8Array;
  /** Each entry's full hash (deletion finds its slot by it). */
  #entryHash: Int32Array;
  #free: Int32Array;
  #freeCount = 0;
  #slots: Int32Array;
  #slotHash: Int32Array;
  #mask: number;

  constructor(cap: number, intColumns: number, floatColumns: number, initial = 1024) {
    this.cap = cap;
    this.intColumns = intColumns;
    this.floatColumns = floatColumns;
    const n = Math.max(1, Math.min(Math.ceil(cap), initial));
    this.words = new Int32Array(n * 2);
    this.ints = new Int32Array(n * intColumns);
    this.floats = new Float64Array(n * floatColumns);
    this.#live = new Uint8Array(n);
    this.#entryHash = new Int32Array(n);
    this.#free = new Int32Array(n);
    let slots = 2;
    while (slots < n * 2) slots <<= 1;
    this.#slots = new Int32Array(slots).fill(EMPTY);
    this.#slotHash = new Int32Array(slots);
    this.#mask = slots - 1;
  }

  /** Bytes of the typed arrays and the text columns' references (8 B each). */
  get bytes(): number {
    return this.words.byteLength + this.ints.byteLength + this.floats.byteLength + this.#live.byteLength + this.#entryHash.byteLength + this.#free.byteLength + this.#slots.byteLength + this.#slotHash.byteLength + 16 * this.#live.length;
  }

  live(i: number): boolean {
    return this.#live[i] === 1;
  }

  #hash(pair: number, w0: number, w1: number): number {
    return mix(mix(pair, w0), w1);
  }

  #slotOf(h: number, src: string, dst: string, w0: number, w1: number): number {
    let s = h & this.#mask;
    for (;;) {
      const idx = this.#slots[s]!;
      if (idx === EMPTY) return ~s;
      if (this.#slotHash[s] === h && this.words[idx * 2] === w0 && this.words[idx * 2 + 1] === w1 && this.src[idx] === src && this.dst[idx] === dst) return s;
      s = (s + 1) & this.#mask;
    }
  }

  /** Entry index of the tuple, or -1. `pair` is `pairHash(src, dst)`. */
  find(pair: number, src: string, dst: string, w0: number, w1: number): number {
    const s = this.#slotOf(this.#hash(pair, w0, w1), src, dst, w0, w1);
    return s < 0 ? -1 : this.#slots[s]!;
  }

  /**
   * Entry index of a new tuple (its payload zeroed); the caller has checked `find` first. -1
   * when the table holds `cap` entries.
   */
  insert(pair: number, src: string, dst: string, w0: number, w1: number): number {
    if (this.size >= this.cap) return -1;
    let idx: number;
    if (this.#freeCount > 0) idx = this.#free[--this.#freeCount]!;
    else {
      if (this.end >= this.#live.length) this.#grow();
      idx = this.end++;
    }
    const h = this.#hash(pair, w0, w1);
    let s = h & this.#mask;
    while (this.#slots[s] !== EMPTY) s = (s + 1) & this.#mask;
    this.#slots[s] = idx;
    this.#slotHash[s] = h;
    this.#entryHash[idx] = h;
    this.src[idx] = src;
    this.dst[idx] = dst;
    this.words[idx * 2] = w0;
    this.words[idx * 2 + 1] = w1;
    this.ints.fill(0, idx * this.intColumns, (idx + 1) * this.intColumns);
    this.floats.fill(0, idx * this.floatColumns, (idx + 1) * this.floatColumns);
    this.#live[idx] = 1;
    this.size++;
    return idx;
  }

  /** Deletes entry `idx` (a live index; others are left alone). */
  delete(idx: number): void {
    if (this.#live[idx] !== 1) return;
    let s = this.#entryHash[idx]! & this.#mask;
    while (this.#slots[s] !== idx) s = (s + 1) & this.#mask;
    // Backward-shift deletion: pull later members of the probe run into the hole.
    const mask = this.#mask;
    let hole = s;
    let j = s;
    for (;;) {
      j = (j + 1) & mask;
      const moving = this.#slots[j]!;
      if (moving === EMPTY) break;
      const home = this.#slotHash[j]! & mask;
      // Moves when its home is not cyclically within (hole, j].
      const within = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (within) continue;
      this.#slots[hole] = moving;
      this.#slotHash[hole] = this.#slotHash[j]!;
      hole = j;
    }
    this.#slots[hole] = EMPTY;
    this.#live[idx] = 0;
    this.src[idx] = '';
    this.dst[idx] = '';
    this.#free[this.#freeCount++] = idx;
    this.size--;
  }

  /** Empties the table, keeping its storage. */
  clear(): void {
    this.#slots.fill(EMPTY);
    this.#live.fill(0);
    this.src.length = 0;
    this.dst.length = 0;
    this.size = 0;
    this.end = 0;
    this.#freeCount = 0;
  }

  #grow(): void {
    const n = Math.min(Math.ceil(this.cap), this.#live.length * 2);
    const grown = <T extends Int32Array | Float64Array | Uint8Array>(a: T, per: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n * per);
      b.set(a);
      return b;
    };
    this.words = grown(this.words, 2);
    this.ints = grown(this.ints, this.intColumns);
    this.floats = grown(this.floats, this.floatColumns);
    this.#live = grown(this.#live, 1);
    this.#entryHash = grown(this.#entryHash, 1);
    this.#free = grown(this.#free, 1);
    let slots = this.#slots.length;
    while (slots < n * 2) slots <<= 1;
    if (slots === this.#slots.length) return;
    const old = this.#slots;
    const oldHash = this.#slotHash;
    this.#slots = new Int32Array(slots).fill(EMPTY);
    this.#slotHash = new Int32Array(slots);
    this.#mask = slots - 1;
    for (let s = 0; s < old.length; s++) {
      const idx = old[s]!;
      if (idx === EMPTY) continue;
      let t = oldHash[s]! & this.#mask;
      while (this.#slots[t] !== EMPTY) t = (t + 1) & this.#mask;
      this.#slots[t] = idx;
      this.#slotHash[t] = oldHash[s]!;
    }
  }

  int(idx: number, column: number): number {
    return this.ints[idx * this.intColumns + column]!;
  }

  setInt(idx: number, column: number, value: number): void {
    this.ints[idx * this.intColumns + column] = value;
  }

  float(idx: number, column: number): number {
    return this.floats[idx * this.floatColumns + column]!;
  }

  setFloat(idx: number, column: number, value: number): void {
    this.floats[idx * this.floatColumns + column] = value;
  }
}
