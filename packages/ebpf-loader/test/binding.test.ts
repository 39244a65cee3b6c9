import { afterEach, describe, expect, it } from 'vitest';
import {
  BpfMap, BpfSyscallError, NotSupportedError, loadCollectionSpec, probeMapType, setBpfBinding, type BpfBinding,
} from '../src/index.js';
import { fixture } from './support/fixtures.js';

interface Call { cmd: number; attr: Uint8Array; ptrs: Array<number | Uint8Array> }

function fake(answer: (cmd: number) => number): { binding: BpfBinding; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    binding: {
      bpf: (cmd, attr, ptrs) => { calls.push({ cmd, attr: attr.slice(), ptrs: [...(ptrs ?? [])] }); return answer(cmd); },
      ifNameToIndex: () => 0,
      setns: () => 0,
    },
  };
}

afterEach(() => setBpfBinding(undefined));

describe('injected binding', () => {
  it('receives BPF_MAP_CREATE with the attr marshalled from the MapSpec', () => {
    const { binding, calls } = fake(() => 1000);
    setBpfBinding(binding);
    const spec = loadCollectionSpec(fixture('lpm')).maps.routes!;
    const map = BpfMap.create(spec);
    expect(map.fd).toBe(1000);
    const dv = new DataView(calls[0]!.attr.buffer);
    expect(calls[0]!.cmd).toBe(0);
    expect([0, 4, 8, 12, 16].map((o) => dv.getUint32(o, true))).toEqual([11, 8, 4, 1024, 1]);
    expect(new TextDecoder().decode(calls[0]!.attr.subarray(28, 34))).toBe('routes');
  });

  it('passes pointer fields as (offset, bytes) pairs, never as numbers', () => {
    const { binding, calls } = fake((cmd) => (cmd === 0 ? 7 : 0));
    setBpfBinding(binding);
    const map = BpfMap.create({ name: 'm', type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, pinning: 'none' });
    const key = new Uint8Array([1, 2, 3, 4]);
    const value = new Uint8Array([5, 6, 7, 8]);
    map.update(key, value, 'noexist');
    const upd = calls[1]!;
    expect(upd.cmd).toBe(2);
    expect(upd.ptrs).toEqual([8, key, 16, value]);
    expect(new DataView(upd.attr.buffer).getBigUint64(24, true)).toBe(1n); // BPF_NOEXIST
  });

  it('turns -errno into BpfSyscallError with the errno name', () => {
    setBpfBinding(fake(() => -1).binding);
    const err = (() => { try { BpfMap.create({ name: 'm', type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, pinning: 'none' }); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(BpfSyscallError);
    expect(err).toMatchObject({ code: 'BPF_SYSCALL', errno: 1, errnoName: 'EPERM', command: 'BPF_MAP_CREATE' });
  });

  it('answers a probe for a missing map type with NotSupportedError naming the feature', () => {
    setBpfBinding(fake(() => -22).binding);
    expect(() => probeMapType('queue')).toThrow(NotSupportedError);
    expect(() => probeMapType('queue')).toThrow(expect.objectContaining({ code: 'BPF_NOT_SUPPORTED', feature: 'map type queue' }));
  });

  it('rejects keys of the wrong size before any syscall', () => {
    const { binding, calls } = fake(() => 3);
    setBpfBinding(binding);
    const map = BpfMap.create({ name: 'm', type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, pinning: 'none' });
    expect(() => map.lookup(new Uint8Array(3))).toThrow(expect.objectContaining({ code: 'BPF_INVALID_ARGUMENT' }));
    expect(calls).toHaveLength(1);
  });
});
