import { createHash } from 'node:crypto';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { base64UrlNoPad, makeUniqueId, sha1, sha224, sha256, toHex, utf8 } from './sha.js';

describe('pure hashes agree with node:crypto', () => {
  test.prop([fc.string({ unit: 'grapheme', maxLength: 300 })])('sha1/sha224/sha256 of any UTF-8 string', (s) => {
    expect(toHex(sha1(s))).toBe(createHash('sha1').update(s).digest('hex'));
    expect(toHex(sha224(s))).toBe(createHash('sha224').update(s).digest('hex'));
    expect(toHex(sha256(s))).toBe(createHash('sha256').update(s).digest('hex'));
  });

  test.prop([fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 })])('sha1/sha256 of bytes, one after another (the scratch buffer is reused and regrown)', (inputs) => {
    for (const bytes of inputs) {
      expect(toHex(sha1(bytes))).toBe(createHash('sha1').update(bytes).digest('hex'));
      expect(toHex(sha256(bytes))).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  test.prop([fc.uint8Array({ maxLength: 200 })])('base64url without padding', (bytes) => {
    expect(base64UrlNoPad(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
  });

  it("reproduces Calico's documented id of all()", () => {
    expect(makeUniqueId('s', 'all()')).toBe('s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
  });
});

test.prop([fc.string({ unit: 'binary', maxLength: 100 })])('utf8 matches Buffer for any string, lone surrogates included', (s) => {
  expect(Buffer.from(utf8(s)).equals(Buffer.from(s, 'utf8'))).toBe(true);
});
