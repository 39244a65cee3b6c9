import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BpfError, MAP_FLAGS, copyCollectionSpec, loadCollectionSpec, parseBtf, parseElf,
} from '../src/index.js';
import { programTypeForSection } from '../src/elf/load-spec.js';
import { fixture } from './support/fixtures.js';

const insn = (code: Uint8Array, i: number) => {
  const dv = new DataView(code.buffer, code.byteOffset + i * 8, 8);
  return { op: dv.getUint8(0), src: dv.getUint8(1) >> 4, imm: dv.getInt32(4, true) };
};

describe('ELF reader', () => {
  it('lists the sections, symbols and relocations of a clang BPF object', () => {
    const elf = parseElf(fixture('udp_drop'));
    const names = elf.sections.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['.text', 'tc', '.reltc', '.rel.text', '.maps', '.rodata', 'license', '.BTF']));
    expect(elf.symbols.map((s) => s.name)).toEqual(expect.arrayContaining(['udp_drop', 'bump', 'pkt_count', 'drop_port', 'drop_verdict']));
    const tc = elf.section('tc')!;
    const relocs = elf.relocations.get(tc.index)!;
    expect(relocs.map((r) => r.symbol.name)).toEqual(expect.arrayContaining(['drop_port', 'drop_verdict', '.text']));
  });

  it('rejects bytes that are not a 64-bit little-endian BPF ELF with ELF_INVALID', () => {
    const good = fixture('udp_drop');
    const cases: Uint8Array[] = [
      new Uint8Array(10),
      new TextEncoder().encode('not an elf file at all, definitely not'.padEnd(80, '.')),
      (() => { const b = good.slice(); b[4] = 1; return b; })(), // ELF32
      (() => { const b = good.slice(); b[5] = 2; return b; })(), // big-endian
      (() => { const b = good.slice(); b[0x12] = 62; return b; })(), // x86-64
      good.slice(0, 200), // section headers cut off
    ];
    for (const bytes of cases) {
      expect(() => parseElf(bytes)).toThrow(expect.objectContaining({ code: 'ELF_INVALID' }));
    }
  });
});

describe('BTF reader', () => {
  it('reads the .maps DATASEC and sizes the key/value types', () => {
    const elf = parseElf(fixture('lpm'));
    const btf = parseBtf(elf.section('.BTF')!.data);
    const maps = btf.datasec('.maps')!;
    expect(maps.secinfos).toHaveLength(1);
    const v = btf.type(maps.secinfos![0]!.type);
    expect(v).toMatchObject({ kind: 'var', name: 'routes' });
    const key = btf.types.find((t) => t.kind === 'struct' && t.name === 'lpm_v4')!;
    expect(btf.sizeof(key.id)).toBe(8);
  });

  it('rejects a bad BTF header with BTF_INVALID', () => {
    expect(() => parseBtf(new Uint8Array(30))).toThrow(expect.objectContaining({ code: 'BTF_INVALID' }));
    const b = parseElf(fixture('lpm')).section('.BTF')!.data.slice();
    new DataView(b.buffer).setUint32(12, 1 << 30, true); // type_len beyond the section
    expect(() => parseBtf(b)).toThrow(expect.objectContaining({ code: 'BTF_INVALID' }));
  });
});

describe('loadCollectionSpec', () => {
  it('reads BTF map definitions: type, sizes, max_entries, flags and pinning', () => {
    const spec = loadCollectionSpec(fixture('udp_drop'));
    expect(spec.maps.pkt_count).toEqual({ name: 'pkt_count', type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, flags: 0, pinning: 'by-name' });
    expect(spec.maps.drop_port).toMatchObject({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, pinning: 'none' });
    const lpm = loadCollectionSpec(fixture('lpm'));
    expect(lpm.maps.routes).toMatchObject({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 1024, flags: MAP_FLAGS.NO_PREALLOC });
  });

  it('reads ring buffer maps and turns .bss into a zeroed, writable array map', () => {
    const spec = loadCollectionSpec(fixture('ringbuf'));
    expect(spec.maps.events).toMatchObject({ type: 'ringbuf', keySize: 0, valueSize: 0, maxEntries: 4096 });
    expect(spec.maps['.bss']).toMatchObject({ type: 'array', valueSize: 8, maxEntries: 1, flags: 0, freeze: false });
    expect([...spec.maps['.bss']!.contents![0]!.value]).toEqual(new Array(8).fill(0));
    expect(spec.programs.emit!.references.find((r) => r.kind === 'value')).toMatchObject({ map: '.bss', offset: 0 });
  });

  it('turns .rodata into a frozen single-entry array map holding the section bytes', () => {
    const ro = loadCollectionSpec(fixture('udp_drop')).maps['.rodata']!;
    expect(ro).toMatchObject({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, freeze: true, flags: MAP_FLAGS.RDONLY_PROG });
    expect([...ro.contents![0]!.value]).toEqual([2, 0, 0, 0]); // drop_verdict = TC_ACT_SHOT
  });

  it('records map references on ld_imm64 instructions, including global data with offsets', () => {
    const p = loadCollectionSpec(fixture('udp_drop')).programs.udp_drop!;
    expect(p).toMatchObject({ sectionName: 'tc', type: 'sched_cls', license: 'GPL' });
    for (const ref of p.references) expect(insn(p.instructions, ref.index).op).toBe(0x18);
    expect(p.references.filter((r) => r.kind === 'fd').map((r) => r.map).sort()).toEqual(['drop_port', 'pkt_count', 'pkt_count']);
    expect(p.references.find((r) => r.kind === 'value')).toMatchObject({ map: '.rodata', offset: 0 });
  });

  it('appends called .text functions and points bpf-to-bpf calls at them', () => {
    const elf = parseElf(fixture('udp_drop'));
    const p = loadCollectionSpec(fixture('udp_drop')).programs.udp_drop!;
    const main = elf.section('tc')!.size / 8;
    expect(p.instructions.length).toBe(elf.section('tc')!.size + elf.section('.text')!.size);
    const calls = [];
    for (let i = 0; i < main; i++) {
      const x = insn(p.instructions, i);
      if (x.op === 0x85 && x.src === 1) calls.push(i + 1 + x.imm);
    }
    expect(calls.length).toBeGreaterThan(0);
    expect(new Set(calls)).toEqual(new Set([main])); // every call lands on `bump`, appended after the program
  });

  it('carries program BTF: DATASEC sizes and variable offsets fixed up, func_info re-based to appended callees', () => {
    const elf = parseElf(fixture('udp_drop'));
    const p = loadCollectionSpec(fixture('udp_drop')).programs.udp_drop!;
    const b = p.btf!;
    const btf = parseBtf(b.raw);
    const maps = btf.datasec('.maps')!;
    expect(maps.size).toBe(elf.section('.maps')!.size);
    const offsets = maps.secinfos!.map((si) => [btf.type(si.type).name, si.offset]);
    expect(offsets).toEqual([...offsets].sort((x, y) => (x[1] as number) - (y[1] as number)));
    for (const [name, off] of offsets) expect(elf.symbols.find((s) => s.name === name)!.value).toBe(off);
    // two functions: udp_drop at 0 and bump right after the program's own instructions
    expect(b.funcInfoRecSize).toBe(8);
    const fi = new DataView(b.funcInfo.buffer);
    expect([fi.getUint32(0, true), fi.getUint32(8, true)]).toEqual([0, elf.section('tc')!.size / 8]);
    const li = new DataView(b.lineInfo.buffer);
    const lineOffs = Array.from({ length: b.lineInfo.length / b.lineInfoRecSize }, (_, i) => li.getUint32(i * b.lineInfoRecSize, true));
    expect(lineOffs[0]).toBe(0);
    expect(lineOffs).toEqual([...lineOffs].sort((x, y) => x - y));
    expect(Math.max(...lineOffs)).toBeLessThan(p.instructions.length / 8);
  });

  it('gives the same spec for a Node Buffer (whose slice() does not copy) as for a Uint8Array', () => {
    const buf = readFileSync(new URL('./bpf/udp_drop.o', import.meta.url));
    const before = Buffer.from(buf);
    expect(loadCollectionSpec(buf)).toEqual(loadCollectionSpec(fixture('udp_drop')));
    expect(buf.equals(before)).toBe(true); // the input is never written to
  });

  it('loads the verifier-failing object as a spec (rejection happens in the kernel)', () => {
    expect(Object.keys(loadCollectionSpec(fixture('bad')).programs)).toEqual(['unchecked']);
  });

  it('gives an editable deep copy: edits do not leak into the original', () => {
    const spec = loadCollectionSpec(fixture('udp_drop'));
    const copy = copyCollectionSpec(spec);
    copy.maps.pkt_count!.maxEntries = 4096;
    copy.maps['.rodata']!.contents![0]!.value[0] = 7;
    expect(spec.maps.pkt_count!.maxEntries).toBe(16);
    expect(spec.maps['.rodata']!.contents![0]!.value[0]).toBe(2);
  });

  it('maps libbpf section names to program types', () => {
    expect(programTypeForSection('tc')).toEqual({ type: 'sched_cls' });
    expect(programTypeForSection('tcx/egress')).toEqual({ type: 'sched_cls', expectedAttachType: 47 });
    expect(programTypeForSection('xdp')).toEqual({ type: 'xdp' });
    expect(programTypeForSection('kprobe/foo')).toBeUndefined();
  });

  it('every error is a BpfError with a stable code', () => {
    try {
      loadCollectionSpec(new Uint8Array(3));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      expect((e as BpfError).message).toMatch(/^gingham: /);
    }
  });
});
