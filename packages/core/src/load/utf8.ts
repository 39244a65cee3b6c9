/**
 * Strict UTF-8 decoding: bytes in, the text or the offset of the first byte that is not
 * well-formed UTF-8 out. Overlong forms, surrogates (CESU-8) and code points above U+10FFFF are
 * refused, as the WHATWG decoder in fatal mode refuses them. A leading byte order mark is
 * dropped. The host's `TextDecoder` does the work where there is one (it is a pure function,
 * only faster); core's own decoder runs where there is none, and to find the offset.
 */

export type Utf8Result =
  | { readonly ok: true; readonly text: string }
  /** `offset`: the first byte of the ill-formed sequence; `utf16`: the input starts with a UTF-16 byte order mark. */
  | { readonly ok: false; readonly offset: number; readonly utf16: boolean };

const CHUNK = 8192;

interface NativeDecoder {
  decode(bytes: Uint8Array): string;
}

/** The host's WHATWG decoder in fatal mode, when there is one: the same answers, natively fast. */
const native: NativeDecoder | undefined = (() => {
  const Decoder = (globalThis as { TextDecoder?: new (label: string, options: { fatal: boolean }) => NativeDecoder }).TextDecoder;
  return Decoder ? new Decoder('utf-8', { fatal: true }) : undefined;
})();

/** Decodes `bytes` as UTF-8, refusing (never replacing) ill-formed input. */
export function decodeUtf8(bytes: Uint8Array): Utf8Result {
  const n = bytes.length;
  if (n >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    return { ok: false, offset: 0, utf16: true };
  }
  if (native) {
    try {
      return { ok: true, text: native.decode(bytes) };
    } catch {
      // ill-formed: the decoder below finds where
    }
  }
  return decodeSlowly(bytes);
}

/** The same in plain TypeScript, which also knows the offset of the first ill-formed byte. */
export function decodeSlowly(bytes: Uint8Array): Utf8Result {
  const n = bytes.length;
  let i = n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  if (n >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    return { ok: false, offset: 0, utf16: true };
  }
  const parts: string[] = [];
  const units = new Uint16Array(Math.min(CHUNK, n) + 2);
  let u = 0;
  const flush = (): void => {
    parts.push(String.fromCharCode.apply(null, units.subarray(0, u) as unknown as number[]));
    u = 0;
  };
  while (i < n) {
    if (u >= units.length - 2) flush();
    const b = bytes[i]!;
    if (b < 0x80) {
      units[u++] = b;
      i++;
      continue;
    }
    let need: number;
    let cp: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, cp, min] = [1, b & 0x1f, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, cp, min] = [2, b & 0x0f, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, cp, min] = [3, b & 0x07, 0x10000];
    else return { ok: false, offset: i, utf16: false };
    if (i + need >= n) return { ok: false, offset: i, utf16: false };
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return { ok: false, offset: i, utf16: false };
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return { ok: false, offset: i, utf16: false };
    if (cp >= 0x10000) {
      const v = cp - 0x10000;
      units[u++] = 0xd800 + (v >> 10);
      units[u++] = 0xdc00 + (v & 0x3ff);
    } else units[u++] = cp;
    i += need + 1;
  }
  flush();
  return { ok: true, text: parts.join('') };
}
