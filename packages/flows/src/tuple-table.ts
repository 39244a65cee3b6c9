/**
 * An open-addressing hash table over connection tuples — two interned address ids
 * (`AddressTable`) and two integer words (protocol and flags, packed ports) — with typed-array
 * payload columns: the collector's live connections, its denied-connection set and the trace
 * cache. Everything is integers: a lookup hashes four words once, `upsert` finds or claims the
 * slot in the same probe, and a slot holds its entry and the entry's hash side by side (one
 * cache line a probe). Entries keep their index until deleted (freed indices are reused);
 * deletion shifts the probe run back, so no tombstones accumulate. Linear probing, power-of-two
 * slots, load ≤ 1/2.
 *
 * Storage is sized for `cap` entries up front (up to PRESIZED entries; a larger cap grows by
 * doubling from there), so the steady state never rehashes or copies. The arrays are allocated
 * zeroed, and the engine's zeroed allocations are untouched pages until written: entry columns
 * are filled from index 0 up, so what is committed follows the most entries the table held
 * (`bytes` counts that, and the whole slot array once the table held anything). With `prefault`,
 * every page of that storage is written once at creation instead: on a VM a first-touched 4 KiB
 * page can cost ~20 µs of CPU, which a table that grows into new pages would otherwise pay on its
 * inserts; the table then holds its whole storage from the start (`bytes` counts all of it), as a
 * preallocated kernel map does. Deleted entries are reused before new ones (a free list), so a
 * table whose live count stays level writes into the same pages. An entry's payload is zeroed
 * when it is deleted or cleared, so `upsert` writes only the key. With an `AddressTable`, each
 * entry holds a reference on its two addresses until it is deleted.
 */
import type { AddressTable } from './address-table.js';
import { mix } from './flow-table.js';

/** Key words of an entry: address a, address b, w0, w1. */
const KW = 4;
/** The largest cap storage is sized for up front (beyond it the table grows by doubling). */
const PRESIZED = 1 << 22;
/** A slot is two words: entry index + 1 (0: empty) and the entry's hash. */
const EMPTY = 0;

export interface TupleTableOptions {
  /** Entries to size storage for at first (default: `cap`, up to 4,194,304). */
  readonly initial?: number;
  /** The ids' table: entries hold a reference on their two addresses. */
  readonly addresses?: AddressTable;
  /** Write every page of the storage at creation (see above): no first touch on insert. Default false. */
  readonly prefault?: boolean;
}

/** Writes a zero into every 4 KiB page of `a` from element `from` on (zeros already): commits that memory now. */
function prefault(a: Int32Array | Float64Array | Uint8Array, from = 0): void {
  const step = 4096 / a.BYTES_PER_ELEMENT;
  for (let i = from; i < a.length; i += step) a[i] = 0;
  if (a.length > from) a[a.length - 1] = 0;
}

export class TupleTable {
  /** Live entries. */
  size = 0;
  readonly cap: number;
  /** One past the highest entry index ever used (iterate 0 … end-1, skipping `!live(i)`). */
  end = 0;
  /** Whether the last `upsert` made a new entry. */
  created = false;
  /** Key words, KW per entry: address a, address b, w0, w1. */
  keys: Int32Array;
  ints: Int32Array;
  floats: Float64Array;
  readonly intColumns: number;
  readonly floatColumns: number;
  readonly #addresses: AddressTable | undefined;
  #live: Uint8Array;
  #free: Int32Array;
  #freeCount = 0;
  /** Entries the columns hold. */
  #room: number;
  /** The highest `end` so far. */
  #highWater = 0;
  #slots: Int32Array;
  #mask: number;
  readonly #prefault: boolean;

  constructor(cap: number, intColumns: number, floatColumns: number, options: TupleTableOptions = {}) {
    this.cap = cap;
    this.intColumns = intColumns;
    this.floatColumns = floatColumns;
    this.#addresses = options.addresses;
    const n = Math.max(1, Math.min(Math.ceil(cap), PRESIZED, options.initial ?? PRESIZED));
    this.#room = n;
    this.keys = new Int32Array(n * KW);
    this.ints = new Int32Array(n * intColumns);
    this.floats = new Float64Array(n * floatColumns);
    this.#live = new Uint8Array(n);
    this.#free = new Int32Array(n);
    const slots = slotsFor(n);
    this.#slots = new Int32Array(slots * 2);
    this.#mask = slots - 1;
    this.#prefault = options.prefault === true;
    if (this.#prefault) this.#commit(0, true);
  }

  /** Prefaults the entry columns from entry `from` on (what growth added to them) and the slots (new when `slots`). */
  #commit(from: number, slots: boolean): void {
    prefault(this.keys, from * KW);
    prefault(this.ints, from * this.intColumns);
    prefault(this.floats, from * this.floatColumns);
    prefault(this.#live, from);
    prefault(this.#free, from);
    if (slots) prefault(this.#slots);
  }

  /**
   * Bytes of the typed arrays the table has written into: the entry columns up to the most
   * entries it held, and the whole slot array once it held any (inserts land anywhere in it);
   * prefaulted, all of its storage.
   */
  get bytes(): number {
    const perEntry = KW * 4 + this.intColumns * 4 + this.floatColumns * 8 + 1 + 4;
    if (this.#prefault) return this.#room * perEntry + this.#slots.byteLength;
    return this.#highWater === 0 ? 0 : this.#highWater * perEntry + this.#slots.byteLength;
  }

  live(i: number): boolean {
    return this.#live[i] === 1;
  }

  /** Address a (the source) of entry `idx`. */
  a(idx: number): number {
    return this.keys[idx * KW]!;
  }

  /** Address b (the destination) of entry `idx`. */
  b(idx: number): number {
    return this.keys[idx * KW + 1]!;
  }

  w0(idx: number): number {
    return this.keys[idx * KW + 2]!;
  }

  w1(idx: number): number {
    return this.keys[idx * KW + 3]!;
  }

  /** Entry index of the tuple, or -1. */
  find(a: number, b: number, w0: number, w1: number): number {
    const h = hash(a, b, w0, w1);
    const slots = this.#slots;
    const keys = this.keys;
    const mask = this.#mask;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = slots[s * 2]!;
      if (e === EMPTY) return -1;
      if (slots[s * 2 + 1] === h) {
        const o = (e - 1) * KW;
        if (keys[o] === a && keys[o + 1] === b && keys[o + 2] === w0 && keys[o + 3] === w1) return e - 1;
      }
    }
  }

  /**
   * Entry index of the tuple, made (payload zero, `created` set) when new; -1 when it is new and
   * the table holds `cap` entries.
   */
  upsert(a: number, b: number, w0: number, w1: number): number {
    const h = hash(a, b, w0, w1);
    const slots = this.#slots;
    const keys = this.keys;
    const mask = this.#mask;
    let s = h & mask;
    for (; ; s = (s + 1) & mask) {
      const e = slots[s * 2]!;
      if (e === EMPTY) break;
      if (slots[s * 2 + 1] === h) {
        const o = (e - 1) * KW;
        if (keys[o] === a && keys[o + 1] === b && keys[o + 2] === w0 && keys[o + 3] === w1) {
          this.created = false;
          return e - 1;
        }
      }
    }
    this.created = false;
    if (this.size >= this.cap) return -1;
    let idx: number;
    if (this.#freeCount > 0) idx = this.#free[--this.#freeCount]!;
    else {
      if (this.end >= this.#room) {
        this.#grow();
        return this.upsert(a, b, w0, w1);
      }
      idx = this.end++;
      if (this.end > this.#highWater) this.#highWater = this.end;
    }
    slots[s * 2] = idx + 1;
    slots[s * 2 + 1] = h;
    const o = idx * KW;
    const k = this.keys;
    k[o] = a;
    k[o + 1] = b;
    k[o + 2] = w0;
    k[o + 3] = w1;
    this.#live[idx] = 1;
    this.size++;
    this.created = true;
    if (this.#addresses) {
      this.#addresses.ref(a);
      this.#addresses.ref(b);
    }
    return idx;
  }

  /** Deletes entry `idx` (a live index; others are left alone). */
  delete(idx: number): void {
    if (this.#live[idx] !== 1) return;
    const slots = this.#slots;
    const mask = this.#mask;
    let s = this.#hashOf(idx) & mask;
    while (slots[s * 2] !== idx + 1) s = (s + 1) & mask;
    // Backward-shift deletion: pull later members of the probe run into the hole.
    let hole = s;
    let j = s;
    for (;;) {
      j = (j + 1) & mask;
      const moving = slots[j * 2]!;
      if (moving === EMPTY) break;
      const home = slots[j * 2 + 1]! & mask;
      // Moves when its home is not cyclically within (hole, j].
      const within = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (within) continue;
      slots[hole * 2] = moving;
      slots[hole * 2 + 1] = slots[j * 2 + 1]!;
      hole = j;
    }
    slots[hole * 2] = EMPTY;
    this.#live[idx] = 0;
    this.#release(idx);
    const ints = this.ints;
    for (let i = idx * this.intColumns, e = i + this.intColumns; i < e; i++) ints[i] = 0;
    const floats = this.floats;
    for (let i = idx * this.floatColumns, e = i + this.floatColumns; i < e; i++) floats[i] = 0;
    this.#free[this.#freeCount++] = idx;
    this.size--;
  }

  /** Empties the table, keeping its storage. */
  clear(): void {
    const slots = this.#slots;
    const mask = this.#mask;
    // Few entries: empty their slots one by one (no probe run survives, so no shifting).
    const few = this.size * 16 < slots.length;
    for (let idx = 0; idx < this.end; idx++) {
      if (this.#live[idx] !== 1) continue;
      if (few) {
        let s = this.#hashOf(idx) & mask;
        while (slots[s * 2] !== idx + 1) s = (s + 1) & mask;
        slots[s * 2] = EMPTY;
      }
      this.#release(idx);
    }
    if (!few) slots.fill(EMPTY);
    this.#live.fill(0, 0, this.end);
    this.ints.fill(0, 0, this.end * this.intColumns);
    this.floats.fill(0, 0, this.end * this.floatColumns);
    this.size = 0;
    this.end = 0;
    this.#freeCount = 0;
  }

  #hashOf(idx: number): number {
    const k = this.keys;
    const o = idx * KW;
    return hash(k[o]!, k[o + 1]!, k[o + 2]!, k[o + 3]!);
  }

  #release(idx: number): void {
    if (!this.#addresses) return;
    this.#addresses.unref(this.keys[idx * KW]!);
    this.#addresses.unref(this.keys[idx * KW + 1]!);
  }

  /** Doubles the storage (only for caps beyond PRESIZED, or a smaller `initial`). */
  #grow(): void {
    const n = Math.min(Math.ceil(this.cap), this.#room * 2);
    const grown = <T extends Int32Array | Float64Array | Uint8Array>(a: T, length: number): T => {
      const b = new (a.constructor as new (n: number) => T)(length);
      b.set(a);
      return b;
    };
    this.keys = grown(this.keys, n * KW);
    this.ints = grown(this.ints, n * this.intColumns);
    this.floats = grown(this.floats, n * this.floatColumns);
    this.#live = grown(this.#live, n);
    this.#free = grown(this.#free, n);
    const from = this.#room;
    this.#room = n;
    const count = slotsFor(n);
    if (count * 2 === this.#slots.length) {
      if (this.#prefault) this.#commit(from, false);
      return;
    }
    const old = this.#slots;
    const slots = new Int32Array(count * 2);
    if (this.#prefault) prefault(slots);
    const mask = count - 1;
    for (let s = 0; s < old.length; s += 2) {
      if (old[s] === EMPTY) continue;
      let t = old[s + 1]! & mask;
      while (slots[t * 2] !== EMPTY) t = (t + 1) & mask;
      slots[t * 2] = old[s]!;
      slots[t * 2 + 1] = old[s + 1]!;
    }
    this.#slots = slots;
    this.#mask = mask;
    if (this.#prefault) this.#commit(from, false);
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

function hash(a: number, b: number, w0: number, w1: number): number {
  return mix(mix(mix(mix(0x811c9dc5, a), b), w0), w1);
}

/** Slots for n entries at load ≤ 1/2 (a power of two). */
function slotsFor(n: number): number {
  let slots = 2;
  while (slots < n * 2) slots <<= 1;
  return slots;
}
