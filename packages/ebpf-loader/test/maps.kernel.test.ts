import { describe, expect, it } from 'vitest';
import {
  BpfMap, NotSupportedError, RingBufReader, lpmKeyFromCidr, possibleCpus, probeMapType, probeProgramType, type MapSpec, type MapType,
} from '../src/index.js';
import { mountScratchBpffs } from '../src/testing.js';
import { probeBpfCapabilities } from './support/capabilities.js';
import { readU32, readU64, u32, u64 } from './support/packets.js';

const caps = probeBpfCapabilities();

const spec = (type: MapType, o: Partial<MapSpec> = {}): MapSpec => ({
  name: `gh_${type}`, type, keySize: 4, valueSize: 8, maxEntries: 64, flags: 0, pinning: 'none', ...o,
});

describe.skipIf(!caps.ok && !caps.mustRun)('kernel maps', () => {
  it('has what the kernel suites need (root, binding, bpf(2), bpffs, netns)', () => {
    expect(caps.missing).toEqual([]);
  });

  it('hash map: update, lookup, delete and nextKey iteration', () => {
    using m = BpfMap.create(spec('hash'));
    for (let i = 1; i <= 5; i++) m.update(u32(i), u64(i * 100));
    expect(readU64(m.lookup(u32(3)))).toBe(300n);
    expect(m.lookup(u32(42))).toBeUndefined();
    expect(() => m.update(u32(3), u64(1), 'noexist')).toThrow(expect.objectContaining({ code: 'BPF_SYSCALL', errnoName: 'EEXIST' }));
    expect(m.delete(u32(3))).toBe(true);
    expect(m.delete(u32(3))).toBe(false);
    expect([...m.keys()].map(readU32).sort()).toEqual([1, 2, 4, 5]);
    expect(new Map([...m.entries()].map(([k, v]) => [readU32(k), readU64(v)])).get(5)).toBe(500n);
  });

  it('per-CPU maps return one 8-byte slot per possible CPU', () => {
    using m = BpfMap.create(spec('percpu_array', { valueSize: 4, maxEntries: 2 }));
    expect(m.userValueSize).toBe(8 * possibleCpus());
    const v = new Uint8Array(m.userValueSize);
    v[0] = 7;
    m.update(u32(1), v);
    expect([...m.lookup(u32(1))!]).toEqual([...v]);
    using h = BpfMap.create(spec('percpu_hash'));
    h.update(u32(9), new Uint8Array(h.userValueSize).fill(1));
    expect(h.lookup(u32(9))!.length).toBe(8 * possibleCpus());
  });

  it('creates lru_hash, lru_percpu_hash, prog_array and ringbuf maps that the kernel reports and treats as such', () => {
    const specs = [
      spec('lru_hash'), spec('lru_percpu_hash'), spec('prog_array', { valueSize: 4 }),
      spec('ringbuf', { keySize: 0, valueSize: 0, maxEntries: 4096 }),
    ];
    const bpffs = mountScratchBpffs();
    try {
      for (const s of specs) {
        // The kernel's own view (BPF_OBJ_GET_INFO_BY_FD on a reopened pin), not our bookkeeping.
        using m = BpfMap.create(s);
        m.pin(`${bpffs.path}/${s.type}`);
        using back = BpfMap.fromPin(`${bpffs.path}/${s.type}`);
        expect({ type: back.type, keySize: back.keySize, valueSize: back.valueSize, maxEntries: back.maxEntries })
          .toEqual({ type: s.type, keySize: s.keySize, valueSize: s.valueSize, maxEntries: s.maxEntries });
      }
    } finally {
      bpffs.release();
    }

    // LRU maps evict instead of refusing: 4x max_entries inserts succeed, the newest key stays.
    for (const type of ['lru_hash', 'lru_percpu_hash'] as const) {
      using lru = BpfMap.create(spec(type));
      const value = new Uint8Array(lru.userValueSize).fill(7);
      for (let i = 0; i < 256; i++) lru.update(u32(i), value);
      expect([...lru.keys()].length, type).toBeLessThanOrEqual(64);
      expect(lru.lookup(u32(255)), type).toEqual(value);
    }
    using hash = BpfMap.create(spec('hash'));
    for (let i = 0; i < 64; i++) hash.update(u32(i), u64(i));
    expect(() => hash.update(u32(64), u64(64))).toThrow(expect.objectContaining({ code: 'BPF_SYSCALL', errnoName: 'E2BIG' }));

    // A prog_array slot takes only a program fd; a plain array of the same shape takes any u32.
    using progs = BpfMap.create(spec('prog_array', { valueSize: 4 }));
    expect(() => progs.update(u32(0), u32(hash.fd))).toThrow(expect.objectContaining({ code: 'BPF_SYSCALL', errnoName: 'EINVAL' }));
    using plain = BpfMap.create(spec('array', { valueSize: 4 }));
    plain.update(u32(0), u32(hash.fd));

    // A ring buffer is mmap-able and starts empty; its size must be a power-of-two number of pages.
    using rb = BpfMap.create(spec('ringbuf', { keySize: 0, valueSize: 0, maxEntries: 4096 }));
    const reader = new RingBufReader(rb);
    try {
      expect(reader.read()).toEqual([]);
    } finally {
      reader.close();
    }
    expect(() => BpfMap.create(spec('ringbuf', { keySize: 0, valueSize: 0, maxEntries: 5000 })))
      .toThrow(expect.objectContaining({ code: 'BPF_SYSCALL', errnoName: 'EINVAL' }));
  });

  it('batch update writes 1000 entries in one call and batch lookup reads them back', () => {
    using m = BpfMap.create(spec('hash', { maxEntries: 2000 }));
    const keys = Array.from({ length: 1000 }, (_, i) => u32(i));
    const values = Array.from({ length: 1000 }, (_, i) => u64(i * 3));
    expect(m.updateBatch(keys, values)).toEqual({ count: 1000, batched: true });
    const { entries, batched } = m.lookupBatch({ chunk: 128 });
    expect(batched).toBe(true);
    expect(entries).toHaveLength(1000);
    for (const [k, v] of entries) expect(readU64(v)).toBe(BigInt(readU32(k)! * 3));
    expect(m.deleteBatch(keys.slice(0, 400)).count).toBe(400);
    expect([...m.keys()]).toHaveLength(600);
  });

  it('packed batch update writes the first `count` entries of reused buffers, in order, and checks their sizes', () => {
    using t = BpfMap.create(spec('lpm_trie', { keySize: 8, valueSize: 4, flags: 1, maxEntries: 16 }));
    const keys = new Uint8Array(4 * 8);
    const values = new Uint8Array(4 * 4);
    ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24'].forEach((c, i) => {
      keys.set(lpmKeyFromCidr(c), i * 8);
      values.set(u32(i + 1), i * 4);
    });
    // The fourth slot holds a stale entry from an earlier batch: not written.
    keys.set(lpmKeyFromCidr('192.168.0.0/16'), 24);
    expect(t.updateBatchPacked(keys, values, 3)).toEqual({ count: 3, batched: true });
    expect(readU32(t.lookup(lpmKeyFromCidr('10.1.2.3')))).toBe(3);
    expect(readU32(t.lookup(lpmKeyFromCidr('10.1.9.9')))).toBe(2);
    expect(t.lookup(lpmKeyFromCidr('192.168.0.1'))).toBeUndefined();
    // Reused: the same buffers, new content.
    keys.set(lpmKeyFromCidr('192.168.0.0/16'), 0);
    values.set(u32(9), 0);
    t.updateBatchPacked(keys, values, 1);
    expect(readU32(t.lookup(lpmKeyFromCidr('192.168.0.1')))).toBe(9);
    expect(() => t.updateBatchPacked(keys, values, 5)).toThrow(expect.objectContaining({ code: 'BPF_INVALID_ARGUMENT' }));
    // A bad entry (prefix longer than the key) fails the batch, naming how many were written.
    const bad = new Uint8Array(keys);
    new DataView(bad.buffer).setUint32(8, 99, true);
    expect(() => t.updateBatchPacked(bad, values, 2)).toThrow(expect.objectContaining({ code: 'BPF_SYSCALL', message: expect.stringMatching(/BPF_MAP_UPDATE_BATCH|BPF_MAP_UPDATE_ELEM/) }));
  });

  it('batch update on an array map and the per-entry fallback agree', () => {
    using m = BpfMap.create(spec('array', { maxEntries: 8 }));
    const keys = [0, 3, 7].map(u32);
    m.updateBatch(keys, [1, 2, 3].map(u64));
    expect([0, 3, 7].map((k) => readU64(m.lookup(u32(k))))).toEqual([1n, 2n, 3n]);
    using t = BpfMap.create(spec('lpm_trie', { keySize: 8, valueSize: 4, flags: 1 }));
    const res = t.updateBatch(['10.0.0.0/8', '10.1.0.0/16'].map(lpmKeyFromCidr), [u32(1), u32(2)]);
    expect(res.count).toBe(2); // lpm_trie has the kernel's generic batch ops (kernels without them: the loop fallback)
    expect(readU32(t.lookup(lpmKeyFromCidr('10.1.0.0/16')))).toBe(2);
  });

  it('LPM trie lookups from user space return the longest matching prefix', () => {
    using t = BpfMap.create(spec('lpm_trie', { keySize: 8, valueSize: 4, flags: 1, maxEntries: 16 }));
    t.update(lpmKeyFromCidr('10.0.0.0/8'), u32(8));
    t.update(lpmKeyFromCidr('10.1.0.0/16'), u32(16));
    t.update(lpmKeyFromCidr('10.1.2.0/24'), u32(24));
    expect(readU32(t.lookup(lpmKeyFromCidr('10.1.2.3')))).toBe(24);
    expect(readU32(t.lookup(lpmKeyFromCidr('10.1.9.9')))).toBe(16);
    expect(readU32(t.lookup(lpmKeyFromCidr('10.200.0.1')))).toBe(8);
    expect(t.lookup(lpmKeyFromCidr('192.168.0.1'))).toBeUndefined();
  });

  it('feature probes pass for what this kernel has and throw NotSupportedError otherwise', () => {
    for (const t of ['hash', 'array', 'percpu_hash', 'percpu_array', 'lru_hash', 'lpm_trie', 'ringbuf', 'prog_array'] as const) {
      expect(() => probeMapType(t)).not.toThrow();
    }
    expect(() => probeProgramType('sched_cls')).not.toThrow();
    expect(() => probeMapType('array_of_maps')).toThrow(NotSupportedError);
  });

  it('closed maps refuse further use', () => {
    const m = BpfMap.create(spec('array', { maxEntries: 1 }));
    m.close();
    expect(() => m.lookup(u32(0))).toThrow(expect.objectContaining({ code: 'BPF_INVALID_ARGUMENT' }));
  });
});
