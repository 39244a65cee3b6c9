/**
 * Address texts interned as small integer ids, so the collector's tables key connections by
 * integers (no string hashing, comparison or reference columns per event). An id is counted:
 * each table entry, window and event that holds an address holds a reference, and the id is
 * freed (and later reused) when the last one lets go, so the table never holds more addresses
 * than the collector's bounded tables reference. It must never free an id someone still holds:
 * a freed id's next address would take over that holder's entries.
 */
export class AddressTable {
  readonly #ids = new Map<string, number>();
  /** The text of each id ('' when free). */
  readonly text: string[] = [];
  #refs = new Int32Array(64);
  readonly #free: number[] = [];

  /** Addresses held now. */
  get size(): number {
    return this.#ids.size;
  }

  /** One past the highest id ever given (per-id columns of a user are this long). */
  get end(): number {
    return this.text.length;
  }

  /** The id of `text` (a new one, held by no one yet, when unknown): ref it to keep it. */
  intern(text: string): number {
    let id = this.#ids.get(text);
    if (id === undefined) {
      id = this.#free.pop();
      if (id === undefined) {
        id = this.text.length;
        this.text.push(text);
        if (id >= this.#refs.length) {
          const refs = new Int32Array(this.#refs.length * 2);
          refs.set(this.#refs);
          this.#refs = refs;
        }
      } else this.text[id] = text;
      this.#ids.set(text, id);
    }
    return id;
  }

  /**
   * `intern(text)`, trying `hint` first (the id `text` had last time): no map lookup when it
   * still holds it. A freed id's text is '' until it is given again, so a stale hint falls back.
   */
  internAt(hint: number, text: string): number {
    return text !== '' && this.text[hint] === text ? hint : this.intern(text);
  }

  /** The id of `text`, or -1 when no one holds it. */
  find(text: string): number {
    return this.#ids.get(text) ?? -1;
  }

  ref(id: number): void {
    this.#refs[id]!++;
  }

  /** Lets go of `id`; the last reference frees it. */
  unref(id: number): void {
    if (--this.#refs[id]! > 0) return;
    this.#ids.delete(this.text[id]!);
    this.text[id] = '';
    this.#free.push(id);
  }

  /** References held on `id`. */
  refs(id: number): number {
    return this.#refs[id]!;
  }
}
