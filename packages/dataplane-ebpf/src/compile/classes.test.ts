import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { propRuns } from '@gingham/testkit';
import { encodeClassKey, type WireAddr } from '../wire.js';
import { classKeyOfId, IdRegion, idAddr, memberPrefix, parsedPrefix, prefixId } from './classes.js';

/** `addr` with every bit past `prefix` cleared. */
function masked(addr: WireAddr, prefix: number): WireAddr {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < prefix; i++) bytes[i >> 3]! |= addr.bytes[i >> 3]! & (0x80 >> (i & 7));
  return { family: addr.family, bytes };
}

const arbPrefix = fc.oneof(
  fc.record({ family: fc.constant(4 as const), bytes: fc.uint8Array({ minLength: 4, maxLength: 4 }), prefix: fc.integer({ min: 0, max: 32 }) }),
  fc.record({ family: fc.constant(6 as const), bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }), prefix: fc.integer({ min: 0, max: 128 }) }),
).map(({ family, bytes, prefix }) => {
  const full = new Uint8Array(16);
  full.set(bytes);
  return { addr: { family, bytes: full } as WireAddr, prefix };
});

describe('prefix ids', () => {
  test.prop([arbPrefix, arbPrefix], { numRuns: propRuns(500) })(
    "a prefix id gives back its address (host bits zero) and family, an IdRegion reads it so, its classes key is the address's, and one prefix's id starts with another's exactly when the second covers the first",
    (a, b) => {
      const id = prefixId(a.addr, a.prefix);
      expect(id).toHaveLength(2 + a.prefix);
      expect(idAddr(id)).toEqual(masked(a.addr, a.prefix));
      expect(new IdRegion(id, a.prefix, 'sig').addr).toEqual(masked(a.addr, a.prefix));
      expect(classKeyOfId(id, a.prefix)).toEqual(encodeClassKey(a.addr, a.prefix));
      const other = prefixId(b.addr, b.prefix);
      const covers = b.addr.family === a.addr.family && b.prefix <= a.prefix && prefixId(a.addr, b.prefix) === other;
      expect(id.startsWith(other)).toBe(covers);
    },
  );

  test.prop([fc.oneof(fc.ipV4(), fc.ipV6(), fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`), fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, n]) => `${a}/${n}`), fc.string())], { numRuns: propRuns(500) })(
    "a member text's prefix id and length are the parse cache's, whether the text is cached or not",
    (text) => {
      const fresh = memberPrefix(text);
      const cached = parsedPrefix(text);
      const want = cached === null ? null : { id: cached.id, prefix: cached.prefix };
      expect(fresh === null ? null : { id: fresh.id, prefix: fresh.prefix }).toEqual(want);
      const again = memberPrefix(text);
      expect(again === null ? null : { id: again.id, prefix: again.prefix }).toEqual(want);
    },
  );
});
