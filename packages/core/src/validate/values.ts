/**
 * Safe readers for parsed, untrusted data. Validators run on whatever the YAML said, so every
 * read checks the type and never consults the prototype chain (`constructor`, `__proto__`).
 */

export type JsonObject = Readonly<Record<string, unknown>>;

/** A plain mapping (not an array, Buffer, Map or class instance). */
export function isObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** `null` and `undefined` both mean "not set", as in the Kubernetes and Calico decoders. */
export function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** An own property of a mapping, or `undefined`. */
export function field(obj: unknown, key: string): unknown {
  return isObject(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

export function str(obj: unknown, key: string): string | undefined {
  const v = field(obj, key);
  return typeof v === 'string' ? v : undefined;
}

export function num(obj: unknown, key: string): number | undefined {
  const v = field(obj, key);
  return typeof v === 'number' ? v : undefined;
}

export function bool(obj: unknown, key: string): boolean | undefined {
  const v = field(obj, key);
  return typeof v === 'boolean' ? v : undefined;
}

export function obj(parent: unknown, key: string): JsonObject | undefined {
  const v = field(parent, key);
  return isObject(v) ? v : undefined;
}

export function list(parent: unknown, key: string): readonly unknown[] {
  const v = field(parent, key);
  return Array.isArray(v) ? v : [];
}

/** True when a value is "zero" in the Go sense: unset, empty string, 0, false, empty list or map. */
export function isZero(value: unknown): boolean {
  if (!isSet(value)) return true;
  if (value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isObject(value)) return Object.keys(value).every((k) => isZero(value[k]));
  return false;
}

/** UTF-8 byte length, as Go's `len(string)` counts. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Quotes a user value for a message, cut to a readable length. */
export function show(value: unknown, max = 80): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (Array.isArray(value)) text = '[…]';
  else if (typeof value === 'object' && value !== null) text = '{…}';
  else text = String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
