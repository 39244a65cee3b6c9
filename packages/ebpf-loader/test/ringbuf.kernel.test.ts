import { describe, expect, it } from 'vitest';
import { RingBufReader, createCollection, loadCollectionSpec, testRun } from '../src/index.js';
import { probeBpfCapabilities } from './support/capabilities.js';
import { fixture } from './support/fixtures.js';
import { ipv4Frame } from './support/packets.js';

const caps = probeBpfCapabilities();

function event(b: Uint8Array): { len: number; mark: number; seq: bigint } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { len: dv.getUint32(0, true), mark: dv.getUint32(4, true), seq: dv.getBigUint64(8, true) };
}

describe.skipIf(!caps.ok && !caps.mustRun)('ring buffer reader', () => {
  it('has what the kernel suites need (root, binding, bpf(2), bpffs, netns)', () => {
    expect(caps.missing).toEqual([]);
  });

  it('reads committed records in order and never sees discarded ones', () => {
    using c = createCollection(loadCollectionSpec(fixture('ringbuf')));
    using rb = new RingBufReader(c.map('events'));
    const frame = ipv4Frame({ dst: '10.0.0.2' });
    for (const mark of [1, 7, 3]) {
      const ctxIn = new Uint8Array(192);
      new DataView(ctxIn.buffer).setUint32(8, mark, true);
      testRun(c.program('emit'), { data: frame, ctxIn });
    }
    const events = rb.read().map(event);
    expect(events).toEqual([
      { len: frame.length, mark: 1, seq: 0n },
      { len: frame.length, mark: 3, seq: 2n },
    ]);
    expect(rb.read()).toEqual([]);
  });

  it('drops records when full, frees space on read, and handles wrap-around', () => {
    using c = createCollection(loadCollectionSpec(fixture('ringbuf')));
    using rb = new RingBufReader(c.map('events'));
    const data = ipv4Frame({ dst: '10.0.0.2' });
    // 4096 bytes hold 170 records of 8 (header) + 16 bytes; the other 130 reservations fail.
    testRun(c.program('emit'), { data, repeat: 300 });
    const first = rb.read().map(event);
    expect(first).toHaveLength(170);
    expect(first.map((e) => e.seq)).toEqual(Array.from({ length: 170 }, (_, i) => BigInt(i)));
    testRun(c.program('emit'), { data, repeat: 100 }); // crosses the end of the data area
    const second = rb.read().map(event);
    expect(second).toHaveLength(100);
    expect(second.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(170 + i)));
  });

  it('a closed reader refuses to read', () => {
    using c = createCollection(loadCollectionSpec(fixture('ringbuf')));
    const rb = new RingBufReader(c.map('events'));
    rb.close();
    expect(() => rb.read()).toThrow(expect.objectContaining({ code: 'BPF_INVALID_ARGUMENT' }));
  });
});
