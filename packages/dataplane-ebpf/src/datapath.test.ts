import { existsSync } from 'node:fs';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  conntrackKey, DATAPATH_OBJECT, type DatapathEvent, decodeConntrackKey, decodeConntrackValue, decodeCounter, decodeEvent,
  encodeConntrackValue, encodeCounterKey, encodeEvent, readCounters, writeTables, createTableWriter, type WritableMap,
} from './datapath.js';
import { emptyMaps, type MapName, type MapWrite } from './wire.js';

/**
 * Fake policy maps with keys of `keySize` bytes and 1-byte values: every call is logged (`map+k`,
 * `map-k`, `map+[k,…]` for a batch, by the key's first byte), a value 0xee fails with ENOSPC.
 * With `onBatch` the maps have `updateBatchPacked` (which calls it first).
 */
function fakeMaps(log: string[], o: { keySize: number; onBatch?: (keys: Uint8Array, count: number) => void }): Record<MapName, WritableMap & { data: Map<string, string> }> {
  const fake = (name: MapName): WritableMap & { data: Map<string, string> } => {
    const data = new Map<string, string>();
    const id = (k: Uint8Array): string => [...k].join('.');
    const update = (k: Uint8Array, v: Uint8Array): void => {
      log.push(`${name}+${k[0]}`);
      if (v[0] === 0xee) throw new Error('ENOSPC');
      data.set(id(k), String(v[0]));
    };
    const batch = (keys: Uint8Array, values: Uint8Array, count: number): void => {
      o.onBatch!(keys, count);
      const ks = Array.from({ length: count }, (_, i) => keys.subarray(i * o.keySize, (i + 1) * o.keySize));
      log.push(`${name}+[${ks.map((k) => k[0]).join(',')}]`);
      ks.forEach((k, i) => {
        if (values[i] === 0xee) throw new Error('ENOSPC');
        data.set(id(k), String(values[i]));
      });
    };
    return {
      data,
      update,
      delete(k) {
        log.push(`${name}-${k[0]}`);
        return data.delete(id(k));
      },
      ...(o.onBatch ? { updateBatchPacked: batch } : {}),
    };
  };
  return Object.fromEntries(Object.keys(emptyMaps()).map((n) => [n, fake(n as MapName)])) as Record<MapName, ReturnType<typeof fake>>;
}

describe('datapath records', () => {
  it('the object path points at bpf/gingham.bpf.o in this package', () => {
    expect(DATAPATH_OBJECT).toMatch(/dataplane-ebpf\/bpf\/gingham\.bpf\.o$/);
    expect(existsSync(DATAPATH_OBJECT)).toBe(true);
  });

  it('an event decodes from the byte offsets of struct event', () => {
    const b = new Uint8Array(64);
    const d = new DataView(b.buffer);
    d.setBigUint64(0, 123456789n, true);
    d.setUint32(8, 7, true);
    d.setUint32(12, 42, true);
    d.setUint16(16, 3, true);
    d.setUint16(18, 5, true);
    b.set([1, 1 | 2, 1, 4, 6], 20);
    d.setUint16(26, 1500, true);
    d.setUint16(28, 40000, true);
    d.setUint16(30, 443, true);
    b.set([10, 0, 0, 1], 32);
    b.set([10, 0, 0, 2], 48);
    expect(decodeEvent(b)).toEqual({
      tsNs: 123456789n, slot: 7, policy: 42, tier: 3, rule: 5, action: 1, flags: 3, direction: 'egress', family: 4,
      protocol: 6, srcPort: 40000, dstPort: 443, src: '10.0.0.1', dst: '10.0.0.2', len: 1500,
    });
    b[22] = 0;
    b[23] = 6;
    expect(decodeEvent(b)).toMatchObject({ direction: 'ingress', family: 6, src: 'a00:1::', dst: 'a00:2::' });
  });

  test.prop([
    fc.record({
      tsNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      slot: fc.nat({ max: 0xffffffff }),
      policy: fc.nat({ max: 0xffffffff }),
      tier: fc.nat({ max: 0xffff }),
      rule: fc.nat({ max: 0xffff }),
      action: fc.constantFrom(0, 1),
      flags: fc.nat({ max: 15 }),
      direction: fc.constantFrom('ingress' as const, 'egress' as const),
      protocol: fc.nat({ max: 255 }),
      srcPort: fc.nat({ max: 0xffff }),
      dstPort: fc.nat({ max: 0xffff }),
      len: fc.nat({ max: 0xffff }),
    }),
    fc.oneof(
      fc.tuple(fc.ipV4(), fc.ipV4()).map(([src, dst]) => ({ family: 4 as const, src, dst })),
      fc.tuple(fc.constantFrom('fd00::1', '::', '2001:db8::ff00:42:8329'), fc.constantFrom('fe80::1', '::1')).map(([src, dst]) => ({ family: 6 as const, src, dst })),
    ),
  ])('events round-trip through their 64-byte encoding', (fields, addrs) => {
    const e: DatapathEvent = { ...fields, ...addrs };
    expect(decodeEvent(encodeEvent(e))).toEqual(e);
  });

  it('malformed records are DATAPATH_BAD_RECORD', () => {
    expect(() => decodeEvent(new Uint8Array(63))).toThrow(expect.objectContaining({ code: 'DATAPATH_BAD_RECORD' }));
    expect(() => decodeEvent(new Uint8Array(64))).toThrow(/family 0/);
    expect(() => decodeConntrackValue(new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'DATAPATH_BAD_RECORD' }));
    expect(() => decodeCounter(new Uint8Array(8), new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'DATAPATH_BAD_RECORD' }));
  });

  it('both directions of a flow share one conntrack key, lower (address, port) first', () => {
    const fwd = conntrackKey({ src: '10.0.0.2', dst: '10.0.0.1', protocol: 6, srcPort: 40000, dstPort: 80 });
    const rev = conntrackKey({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, srcPort: 80, dstPort: 40000 });
    expect(fwd).toEqual(rev);
    expect(decodeConntrackKey(fwd)).toEqual({ family: 4, protocol: 6, addrA: '10.0.0.1', addrB: '10.0.0.2', portA: 80, portB: 40000 });
    const self = conntrackKey({ src: 'fd00::1', dst: 'fd00::1', protocol: 17, srcPort: 9, dstPort: 5 });
    expect(decodeConntrackKey(self)).toMatchObject({ family: 6, portA: 5, portB: 9 });
    const echo = conntrackKey({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 1, icmp: { type: 8 } }, 77);
    expect(echo).toEqual(conntrackKey({ src: '10.0.0.2', dst: '10.0.0.1', protocol: 1, icmp: { type: 0 } }, 77));
    expect(decodeConntrackKey(echo)).toMatchObject({ portA: 77, portB: 77 });
    expect(decodeConntrackKey(conntrackKey({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 1, icmp: { type: 3 } }))).toMatchObject({ portA: 0, portB: 0 });
    expect(decodeConntrackKey(conntrackKey({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 47 }))).toMatchObject({ protocol: 47, portA: 0, portB: 0 });
    expect(decodeConntrackValue(encodeConntrackValue({ lastSeenNs: 5n, flags: 1 }))).toEqual({ lastSeenNs: 5n, flags: 1, closing: true });
  });

  it('counters decode and sort by policy, rule, direction', () => {
    const value = (p: bigint, b: bigint): Uint8Array => {
      const v = new Uint8Array(16);
      new DataView(v.buffer).setBigUint64(0, p, true);
      new DataView(v.buffer).setBigUint64(8, b, true);
      return v;
    };
    const entries: Array<[Uint8Array, Uint8Array]> = [
      [encodeCounterKey(3, 1, 'ingress'), value(2n, 200n)],
      [encodeCounterKey(1, 0, 'egress'), value(1n, 60n)],
      [encodeCounterKey(1, 0, 'ingress'), value(4n, 240n)],
    ];
    expect(readCounters({ entries: () => entries })).toEqual([
      { policy: 1, rule: 0, direction: 'egress', packets: 1n, bytes: 60n },
      { policy: 1, rule: 0, direction: 'ingress', packets: 4n, bytes: 240n },
      { policy: 3, rule: 1, direction: 'ingress', packets: 2n, bytes: 200n },
    ]);
  });

  it('writeTables applies writes in order, tolerates deleting a missing key, and names the failing write', () => {
    const log: string[] = [];
    const maps = fakeMaps(log, { keySize: 1 });
    const w = (map: MapName, op: 'update' | 'delete', k: number, v?: number): MapWrite =>
      ({ map, op, key: new Uint8Array([k]), ...(v !== undefined ? { value: new Uint8Array([v]) } : {}) });
    writeTables(maps, [w('verdicts', 'update', 1, 1), w('slots', 'update', 2, 2), w('verdicts', 'delete', 9), w('verdicts', 'delete', 1)]);
    expect(log).toEqual(['verdicts+1', 'slots+2', 'verdicts-9', 'verdicts-1']);
    expect([...maps.slots.data]).toEqual([['2', '2']]);
    expect(maps.verdicts.data.size).toBe(0);
    expect(() => writeTables(maps, [w('classes', 'update', 1, 1), w('classes', 'update', 2, 0xee)])).toThrow(
      expect.objectContaining({ code: 'DATAPATH_WRITE_FAILED', message: expect.stringMatching(/write 2 of 2 \(update classes 02\).*ENOSPC/) }),
    );
    expect(maps.classes.data.has('1')).toBe(true);
  });

  it('writeTables sends runs of updates to one map as batches, in order, and finds the failing write of a failed batch', () => {
    const log: string[] = [];
    const maps = fakeMaps(log, { keySize: 1, onBatch: (_, count) => expect(count).toBeGreaterThan(1) });
    const w = (map: MapName, op: 'update' | 'delete', k: number, v?: number): MapWrite =>
      ({ map, op, key: new Uint8Array([k]), ...(v !== undefined ? { value: new Uint8Array([v]) } : {}) });
    writeTables(maps, [
      w('verdicts', 'update', 1, 1), w('verdicts', 'update', 2, 2), w('verdicts', 'update', 3, 3),
      w('slots', 'update', 1, 1),
      w('classes', 'update', 1, 1), w('classes', 'update', 2, 2),
      w('verdicts', 'delete', 1), w('verdicts', 'delete', 9),
      w('verdicts', 'update', 4, 4),
    ]);
    expect(log).toEqual(['verdicts+[1,2,3]', 'slots+1', 'classes+[1,2]', 'verdicts-1', 'verdicts-9', 'verdicts+4']);
    expect([...maps.verdicts.data.keys()].sort()).toEqual(['2', '3', '4']);
    log.length = 0;
    // The batch fails at its second element: written again one by one, the error names write 3 of 4.
    expect(() => writeTables(maps, [w('slots', 'update', 5, 5), w('classes', 'update', 3, 3), w('classes', 'update', 4, 0xee), w('classes', 'update', 5, 5)])).toThrow(
      expect.objectContaining({ code: 'DATAPATH_WRITE_FAILED', message: expect.stringMatching(/write 3 of 4 \(update classes 04\).*ENOSPC/) }),
    );
    expect(log).toEqual(['slots+5', 'classes+[3,4,5]', 'classes+3', 'classes+4']);
    expect(maps.classes.data.has('3')).toBe(true);
    expect(maps.classes.data.has('5')).toBe(false);
  });

  it('a table writer sends each run as it ends, in batches of at most `chunk` from one reused slab per map, and stops at a failing write', () => {
    const log: string[] = [];
    const slabs = new Set<ArrayBufferLike>();
    const maps = fakeMaps(log, { keySize: 2, onBatch: (keys) => void slabs.add(keys.buffer) });
    const writer = createTableWriter(maps, { chunk: 2 });
    const key = (k: number): Uint8Array => new Uint8Array([k, 7]);
    for (let k = 1; k <= 5; k++) writer.write('classes', 'update', key(k), new Uint8Array([k]));
    // Nothing waits once a batch is full: the fifth update waits for the run to end.
    expect(log).toEqual(['classes+[1,2]', 'classes+[3,4]']);
    writer.write('verdicts', 'update', key(1), new Uint8Array([1]));
    writer.write('verdicts', 'delete', key(1));
    writer.write('classes', 'update', key(6), new Uint8Array([6]));
    writer.write('classes', 'update', key(7), new Uint8Array([7]));
    expect(writer.end()).toBe(9);
    expect(log).toEqual(['classes+[1,2]', 'classes+[3,4]', 'classes+5', 'verdicts+1', 'verdicts-1', 'classes+[6,7]']);
    expect(slabs.size).toBe(1);
    expect([...maps.classes.data.keys()]).toEqual(['1.7', '2.7', '3.7', '4.7', '5.7', '6.7', '7.7']);
    // A failing write: those before it are applied, the error names its index (no total: the diff is still being produced).
    log.length = 0;
    const failing = createTableWriter(maps, { chunk: 8 });
    failing.write('slots', 'update', key(1), new Uint8Array([1]));
    failing.write('classes', 'update', key(8), new Uint8Array([8]));
    failing.write('classes', 'update', key(9), new Uint8Array([0xee]));
    expect(() => failing.write('verdicts', 'delete', key(3))).toThrow(
      expect.objectContaining({ code: 'DATAPATH_WRITE_FAILED', message: expect.stringMatching(/^gingham: write 3 \(update classes 0907\).*ENOSPC/) }),
    );
    expect(log).toEqual(['slots+1', 'classes+[8,9]', 'classes+8', 'classes+9']);
    expect(maps.classes.data.get('8.7')).toBe('8');
  });
});
