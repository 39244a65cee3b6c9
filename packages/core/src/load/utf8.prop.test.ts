import { fc, test } from '@fast-check/vitest';
import { propRuns } from '@gingham/testkit';
import { describe, expect, it } from 'vitest';
import { decodeSlowly, decodeUtf8 } from './utf8.js';

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

describe('decodeUtf8', () => {
  test.prop([fc.string({ unit: 'grapheme', maxLength: 200 })], { numRuns: propRuns(500) })('decodes what TextEncoder encodes', (text) => {
    const bytes = new TextEncoder().encode(text);
    expect(decodeUtf8(bytes)).toEqual({ ok: true, text: text.replace(/^\uFEFF/, '') });
    expect(decodeSlowly(bytes)).toEqual({ ok: true, text: text.replace(/^\uFEFF/, '') });
  });

  test.prop([fc.uint8Array({ maxLength: 64 })], { numRuns: propRuns(2000) })('core\'s own decoder agrees with the WHATWG decoder in fatal mode on any bytes', (bytes) => {
    const r = decodeSlowly(bytes);
    expect(decodeUtf8(bytes).ok).toBe(r.ok);
    let expected: string | undefined;
    try {
      expected = fatal.decode(bytes);
    } catch {
      expected = undefined;
    }
    const utf16Bom = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
    if (utf16Bom) expect(r).toEqual({ ok: false, offset: 0, utf16: true });
    else if (expected !== undefined) expect(r).toEqual({ ok: true, text: expected });
    else {
      expect(r.ok).toBe(false);
      if (r.ok) return;
      // Everything before the offset is well formed; the sequence at the offset is not.
      expect(() => fatal.decode(bytes.subarray(0, r.offset))).not.toThrow();
      expect(() => fatal.decode(bytes.subarray(0, r.offset + 4))).toThrow();
    }
  });

  it('refuses overlong forms, surrogates, code points above U+10FFFF and cut sequences', () => {
    for (const bad of [[0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x61, 0xe2, 0x82], [0x80]]) {
      expect(decodeUtf8(Uint8Array.from(bad))).toMatchObject({ ok: false });
    }
    expect(decodeUtf8(Uint8Array.from([0x61, 0x62, 0xff]))).toEqual({ ok: false, offset: 2, utf16: false });
    expect(decodeSlowly(Uint8Array.from([0x61, 0x62, 0xff]))).toEqual({ ok: false, offset: 2, utf16: false });
  });

  it('decodes 16 MiB in one go, natively or not', () => {
    const big = new Uint8Array(16 * 1024 * 1024).fill(0x61);
    for (const decode of [decodeUtf8, decodeSlowly]) {
      const r = decode(big);
      expect(r.ok && r.text.length).toBe(big.length);
    }
  });
});
