import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BpfMap, BpfProgram, VerifierError, copyCollectionSpec, createCollection, loadCollectionSpec,
  lpmKeyFromCidr, testRun, unpin,
} from '../src/index.js';
import { mountScratchBpffs } from '../src/testing.js';
import { probeBpfCapabilities } from './support/capabilities.js';
import { fixture } from './support/fixtures.js';
import { ipv4Frame, readU32, readU64, u32 } from './support/packets.js';

const caps = probeBpfCapabilities();
const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;
// Pins go to a bpffs this file mounts privately, never under the host's /sys/fs/bpf.
const bpffs = caps.ok ? mountScratchBpffs() : undefined;
const pinDir = `${bpffs?.path ?? '/nonexistent'}/gingham-test-${randomBytes(4).toString('hex')}`;

afterAll(() => {
  rmSync(pinDir, { recursive: true, force: true });
  bpffs?.release();
});

describe.skipIf(!caps.ok && !caps.mustRun)('kernel programs', () => {
  it('has what the kernel suites need (root, binding, bpf(2), bpffs, netns)', () => {
    expect(caps.missing).toEqual([]);
  });

  it('drops UDP to the port in the array map and counts verdicts (BPF_PROG_TEST_RUN)', () => {
    using c = createCollection(loadCollectionSpec(fixture('udp_drop')));
    const prog = c.program('udp_drop');
    c.map('drop_port').update(u32(0), u32(5353));
    const drop = testRun(prog, { data: ipv4Frame({ dst: '10.0.0.2', dstPort: 5353 }) });
    expect(drop.retval).toBe(TC_ACT_SHOT);
    expect(testRun(prog, { data: ipv4Frame({ dst: '10.0.0.2', dstPort: 53 }) }).retval).toBe(TC_ACT_OK);
    expect(testRun(prog, { data: ipv4Frame({ dst: '10.0.0.2', dstPort: 5353, protocol: 'tcp' }) }).retval).toBe(TC_ACT_OK);
    expect(readU64(c.map('pkt_count').lookup(u32(1)))).toBe(1n);
    expect(readU64(c.map('pkt_count').lookup(u32(0)))).toBe(2n);
    expect(drop.dataOut.length).toBe(ipv4Frame({ dst: '10.0.0.2' }).length);
  });

  it('passes a context in and out (struct __sk_buff) and stores program fds in a prog_array', () => {
    using c = createCollection(loadCollectionSpec(fixture('udp_drop')));
    const ctxIn = new Uint8Array(192); // sizeof(struct __sk_buff)
    new DataView(ctxIn.buffer).setUint32(8, 0xabc, true); // mark
    const r = testRun(c.program('udp_drop'), { data: ipv4Frame({ dst: '10.0.0.2' }), ctxIn });
    expect(r.retval).toBe(TC_ACT_OK);
    expect(new DataView(r.ctxOut!.buffer).getUint32(8, true)).toBe(0xabc);
    using jumps = BpfMap.create({ name: 'jumps', type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, pinning: 'none' });
    jumps.update(u32(2), u32(c.program('udp_drop').fd));
    expect(jumps.lookup(u32(2))).toBeDefined(); // the kernel answers with the program's id
    expect(jumps.lookup(u32(1))).toBeUndefined();
    expect(jumps.delete(u32(2))).toBe(true);
  });

  it('averages duration over repeat runs', () => {
    using c = createCollection(loadCollectionSpec(fixture('udp_drop')));
    const r = testRun(c.program('udp_drop'), { data: ipv4Frame({ dst: '10.0.0.2' }), repeat: 1000 });
    expect(r.retval).toBe(TC_ACT_OK);
    expect(r.duration).toBeGreaterThan(0);
    expect(readU64(c.map('pkt_count').lookup(u32(0)))).toBe(1000n);
  });

  it('loads programs with their BTF (func_info/line_info) by default, and without on request', () => {
    const spec = loadCollectionSpec(fixture('udp_drop'));
    {
      using c = createCollection(spec);
      expect(c.program('udp_drop').hasBtf).toBe(true);
    }
    using c = createCollection(spec, { btf: false });
    expect(c.program('udp_drop').hasBtf).toBe(false);
    expect(testRun(c.program('udp_drop'), { data: ipv4Frame({ dst: '10.0.0.2' }) }).retval).toBe(TC_ACT_OK);
  });

  it('an edited spec loads the edit: .rodata constant and map size', () => {
    const spec = copyCollectionSpec(loadCollectionSpec(fixture('udp_drop')));
    spec.maps['.rodata']!.contents![0]!.value.set(u32(7));
    spec.maps.pkt_count!.maxEntries = 512;
    using c = createCollection(spec);
    c.map('drop_port').update(u32(0), u32(9));
    expect(testRun(c.program('udp_drop'), { data: ipv4Frame({ dst: '10.0.0.2', dstPort: 9 }) }).retval).toBe(7);
    expect(c.map('pkt_count').maxEntries).toBe(512);
    expect(() => c.map('.rodata').update(u32(0), u32(1))).toThrow(expect.objectContaining({ code: 'BPF_SYSCALL' })); // frozen
  });

  it('the LPM program returns the value of the longest matching prefix', () => {
    using c = createCollection(loadCollectionSpec(fixture('lpm')));
    const routes = c.map('routes');
    routes.update(lpmKeyFromCidr('10.0.0.0/8'), u32(1));
    routes.update(lpmKeyFromCidr('10.1.0.0/16'), u32(2));
    routes.update(lpmKeyFromCidr('10.1.2.0/24'), u32(3));
    const verdict = (dst: string) => testRun(c.program('lpm_lookup'), { data: ipv4Frame({ dst }) }).retval;
    expect(verdict('10.1.2.3')).toBe(3);
    expect(verdict('10.1.9.9')).toBe(2);
    expect(verdict('10.200.0.1')).toBe(1);
    expect(verdict('192.168.0.1')).toBe(0xff);
  });

  it('a rejected program throws VerifierError carrying the verifier log', () => {
    let err: unknown;
    try {
      createCollection(loadCollectionSpec(fixture('bad')));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VerifierError);
    const v = err as VerifierError;
    expect(v.code).toBe('BPF_VERIFIER');
    expect(v.program).toBe('unchecked');
    expect(v.log).toMatch(/invalid mem access 'map_value_or_null'/);
    expect(v.log).toMatch(/return \(int\)\*v; @ bad\.c:17/); // line_info: the log shows source lines
    expect(v.message).toMatch(/^gingham: the verifier rejected program unchecked/);
  });

  it('grows the log buffer when the first one is too small', () => {
    const spec = loadCollectionSpec(fixture('bad'));
    const err = (() => { try { createCollection(spec, { logLevel: 2 }); } catch (e) { return e; } })() as VerifierError;
    expect(err).toBeInstanceOf(VerifierError);
    const m = BpfMap.create(spec.maps.values!);
    try {
      const e2 = (() => { try { BpfProgram.load(spec.programs.unchecked!, { maps: { values: m }, logLevel: 1, logSize: 64 }); } catch (e) { return e; } })() as VerifierError;
      expect(e2).toBeInstanceOf(VerifierError);
      expect(e2.log.length).toBeGreaterThan(64);
    } finally {
      m.close();
    }
  });

  it('pins maps by name under pinPath and reuses them on the next load; programs pin and reopen too', () => {
    const spec = loadCollectionSpec(fixture('udp_drop'));
    {
      using c = createCollection(spec, { pinPath: pinDir });
      expect(existsSync(`${pinDir}/pkt_count`)).toBe(true);
      expect(existsSync(`${pinDir}/drop_port`)).toBe(false);
      c.map('pkt_count').update(u32(77), new Uint8Array(8).fill(1));
      c.program('udp_drop').pin(`${pinDir}/udp_drop`);
      c.map('drop_port').pin(`${pinDir}/drop_port_manual`);
    }
    {
      using c = createCollection(spec, { pinPath: pinDir });
      expect(c.map('pkt_count').lookup(u32(77))).toBeDefined();
    }
    using reopened = BpfMap.fromPin(`${pinDir}/pkt_count`);
    expect(reopened).toMatchObject({ keySize: 4, valueSize: 8, maxEntries: 16, type: 'hash', name: 'pkt_count' });
    using prog = BpfProgram.fromPin(`${pinDir}/udp_drop`);
    using port = BpfMap.fromPin(`${pinDir}/drop_port_manual`);
    port.update(u32(0), u32(4242));
    expect(testRun(prog, { data: ipv4Frame({ dst: '10.0.0.9', dstPort: 4242 }) }).retval).toBe(TC_ACT_SHOT);
    unpin(`${pinDir}/udp_drop`);
    expect(existsSync(`${pinDir}/udp_drop`)).toBe(false);
    expect(() => BpfMap.fromPin(`${pinDir}/udp_drop`)).toThrow(expect.objectContaining({ code: 'BPF_SYSCALL', errnoName: 'ENOENT' }));
  });

  it('refuses a pinned map whose definition no longer matches the spec', () => {
    const spec = copyCollectionSpec(loadCollectionSpec(fixture('udp_drop')));
    const dir = `${pinDir}/mismatch`;
    createCollection(spec, { pinPath: dir }).close();
    spec.maps.pkt_count!.maxEntries = 99;
    expect(() => createCollection(spec, { pinPath: dir })).toThrow(expect.objectContaining({ code: 'BPF_INVALID_ARGUMENT' }));
  });
});
