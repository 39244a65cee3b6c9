/**
 * Typed-array columns that grow in place, for the collector's tables. A column lives on a
 * resizable ArrayBuffer reserved up to the table's cap: growing commits more of the reservation
 * (the new part reads zero) instead of allocating a larger array and copying into it, so a table
 * that grows to N entries touches the memory of N entries once, not about 2N, and never holds two
 * copies at the same time. Memory beyond what the table reached is address space only. Where the
 * reservation is refused (a cap too large for the engine or the address space), the column is a
 * plain array that grows by copying, as before.
 */

type Column = Int32Array | Float64Array | Uint8Array;

interface ColumnType<T extends Column> {
  new (length: number): T;
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** ES2024 resizable ArrayBuffer (Node ≥ 20); the project's lib is ES2022. */
interface Resizable extends ArrayBuffer {
  readonly resizable: boolean;
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}
const ResizableBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => Resizable;

/** A zeroed column of `length` elements that can grow in place to `maxLength`. */
export function reserveColumn<T extends Column>(type: ColumnType<T>, length: number, maxLength: number): T {
  try {
    return new type(new ResizableBuffer(length * type.BYTES_PER_ELEMENT, { maxByteLength: Math.max(length, maxLength) * type.BYTES_PER_ELEMENT }), 0, length);
  } catch {
    return new type(length);
  }
}

/** `column` grown to `length` elements (the same memory when it was reserved that far; the new part zero). */
export function growColumn<T extends Column>(type: ColumnType<T>, column: T, length: number): T {
  const buffer = column.buffer as Resizable;
  const bytes = length * type.BYTES_PER_ELEMENT;
  if (buffer.resizable && bytes <= buffer.maxByteLength) {
    buffer.resize(bytes);
    return new type(buffer, 0, length);
  }
  const grown = new type(length);
  grown.set(column);
  return grown;
}
