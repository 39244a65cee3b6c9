/**
 * The aggregated flows of one window, struct-of-arrays: an open-addressing hash table over
 * fixed-width integer keys (linear probing, power-of-two capacity, load ≤ 1/2) with the counters
 * and attributes of each flow in typed arrays. No object and no string per flow or per event:
 * this is what keeps an aggregated flow near 100 bytes and an event at a few hundred
 * nanoseconds. A cap on flows makes `upsert` answer -1 (the caller counts the overflow).
 */

/** Key words of a flow. */
export const KEY_WORDS = 6;
/** Counter columns. */
export const C_PACKETS_IN = 0;
export const C_PACKETS_OUT = 1;
export const C_BYTES_IN = 2;
export const C_BYTES_OUT = 3;
export const C_STARTED = 4;
export const C_COMPLETED = 5;
export const C_LIVE = 6;
const COUNTERS = 7;
/** Attribute columns (Int32). */
export const A_SRC_LABELS = 0;
export const A_DST_LABELS = 1;
export const A_PENDING = 2;
export const A_PENDING_ACTION = 3;
export const A_PENDING_GEN = 4;
export const A_REP_SRC = 5;
export const A_REP_DST = 6;
export const A_REP_SPORT = 7;
export const A_REP_DPORT = 8;
const ATTRS = 9;

const EMPTY = -1;

/** One step of the tables' integer hash (multiply, xor-shift). */
export function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  return (h ^ (h >>> 15)) | 0;
}

export class FlowTable {
  /** Flows in insertion order: 0 … size-1. */
  size = 0;
  readonly cap: number;
  keys: Int32Array;
  counters: Float64Array;
  attrs: Int32Array;
  #slots: Int32Array;
  #mask: number;

  /** `cap`: the most flows the table holds; storage grows on demand up to it. */
  constructor(cap: number, initial = 1024) {
    this.cap = cap;
    const n = Math.min(cap, initial);
    this.keys = new Int32Array(n * KEY_WORDS);
    this.counters = new Float64Array(n * COUNTERS);
    this.attrs = new Int32Array(n * ATTRS);
    let slots = 2;
    while (slots < n * 2) slots <<= 1;
    this.#slots = new Int32Array(slots).fill(EMPTY);
    this.#mask = slots - 1;
  }

  /** Bytes of the typed arrays (for the memory benchmark and metrics). */
  get bytes(): number {
    return this.keys.byteLength + this.counters.byteLength + this.attrs.byteLength + this.#slots.byteLength;
  }

  #hash(k: Int32Array | readonly number[]): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < KEY_WORDS; i++) h = mix(h, k[i]!);
    return h;
  }

  #equal(idx: number, k: Int32Array | readonly number[]): boolean {
    const o = idx * KEY_WORDS;
    const keys = this.keys;
    for (let i = 0; i < KEY_WORDS; i++) if (keys[o + i] !== k[i]) return false;
    return true;
  }

  /** Index of the flow with key `k`, or -1. */
  find(k: Int32Array | readonly number[]): number {
    let s = this.#hash(k) & this.#mask;
    for (;;) {
      const idx = this.#slots[s]!;
      if (idx === EMPTY) return -1;
      if (this.#equal(idx, k)) return idx;
      s = (s + 1) & this.#mask;
    }
  }

  /**
   * Index of the flow with key `k`, created (zeroed, `created` set) when new; -1 when the table
   * is full.
   */
  upsert(k: Int32Array | readonly number[], created: { value: boolean }): number {
    let s = this.#hash(k) & this.#mask;
    for (;;) {
      const idx = this.#slots[s]!;
      if (idx === EMPTY) break;
      if (this.#equal(idx, k)) {
        created.value = false;
        return idx;
      }
      s = (s + 1) & this.#mask;
    }
    if (this.size >= this.cap) return -1;
    if (this.size * KEY_WORDS >= this.keys.length) {
      this.#grow();
      return this.upsert(k, created);
    }
    const idx = this.size++;
    this.keys.set(k, idx * KEY_WORDS);
    this.#slots[s] = idx;
    created.value = true;
    return idx;
  }

  #grow(): void {
    const n = Math.min(this.cap, (this.keys.length / KEY_WORDS) * 2);
    const keys = new Int32Array(n * KEY_WORDS);
    keys.set(this.keys);
    const counters = new Float64Array(n * COUNTERS);
    counters.set(this.counters);
    const attrs = new Int32Array(n * ATTRS);
    attrs.set(this.attrs);
    this.keys = keys;
    this.counters = counters;
    this.attrs = attrs;
    let slots = this.#slots.length;
    while (slots < n * 2) slots <<= 1;
    if (slots !== this.#slots.length) {
      this.#slots = new Int32Array(slots).fill(EMPTY);
      this.#mask = slots - 1;
      for (let idx = 0; idx < this.size; idx++) {
        let s = this.#hash(this.keys.subarray(idx * KEY_WORDS, idx * KEY_WORDS + KEY_WORDS)) & this.#mask;
        while (this.#slots[s] !== EMPTY) s = (s + 1) & this.#mask;
        this.#slots[s] = idx;
      }
    }
  }

  /** Empties the table, keeping its storage. */
  clear(): void {
    this.counters.fill(0, 0, this.size * COUNTERS);
    this.attrs.fill(0, 0, this.size * ATTRS);
    this.#slots.fill(EMPTY);
    this.size = 0;
  }

  add(idx: number, column: number, value: number): void {
    const i = idx * COUNTERS + column;
    this.counters[i] = this.counters[i]! + value;
  }

  counter(idx: number, column: number): number {
    return this.counters[idx * COUNTERS + column]!;
  }

  attr(idx: number, column: number): number {
    return this.attrs[idx * ATTRS + column]!;
  }

  setAttr(idx: number, column: number, value: number): void {
    this.attrs[idx * ATTRS + column] = value;
  }

  key(idx: number, word: number): number {
    return this.keys[idx * KEY_WORDS + word]!;
  }
}
