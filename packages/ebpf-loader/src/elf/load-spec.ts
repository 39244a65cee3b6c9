/**
 * Turns a BPF ELF object into a `CollectionSpec`: maps from the BTF `.maps` section, global data
 * sections (`.rodata*`, `.data*`, `.bss*`) as single-entry array maps, and one program per
 * function symbol in an executable section, with the `.text` functions it calls appended and
 * map relocations recorded as references. Pure: bytes in, spec out.
 *
 * Not supported (a clear `ELF_UNSUPPORTED` error): legacy `maps` section definitions, map-in-map
 * (`__array(values, ...)`), CO-RE relocations (`.BTF.ext` core_relo; ignored if present) and
 * relocations to external (kernel/extern) symbols.
 */
import { BpfError } from '../errors.js';
import {
  MAP_FLAGS, MAP_TYPES, type CollectionSpec, type MapReference, type MapSpec, type MapType,
  type ProgramSpec, type ProgramType,
} from '../spec.js';
import { parseBtf, type Btf } from './btf.js';
import { fixupBtfForKernel, parseBtfExt, type BtfExt, type ExtRecords } from './btf-ext.js';
import {
  R_BPF_64_32, R_BPF_64_64, SHF_EXECINSTR, STB_LOCAL, SHT_NOBITS, SHT_PROGBITS, STT_FUNC, STT_SECTION,
  parseElf, type ElfFile, type ElfRelocation, type ElfSection,
} from './elf.js';

const BPF_LD_IMM64 = 0x18;
const BPF_CALL = 0x85;
const BPF_PSEUDO_CALL = 1;
const TCX_INGRESS = 46;
const TCX_EGRESS = 47;

function unsupported(msg: string): never {
  throw new BpfError('ELF_UNSUPPORTED', msg);
}

/** Program type (and expected attach type) from a libbpf-style section name. */
export function programTypeForSection(section: string): { type: ProgramType; expectedAttachType?: number } | undefined {
  if (section === 'tc' || section === 'classifier' || section.startsWith('tc/') || section.startsWith('classifier/')) {
    return { type: 'sched_cls' };
  }
  if (section === 'tcx/ingress') return { type: 'sched_cls', expectedAttachType: TCX_INGRESS };
  if (section === 'tcx/egress') return { type: 'sched_cls', expectedAttachType: TCX_EGRESS };
  if (section === 'action' || section.startsWith('action/')) return { type: 'sched_act' };
  if (section === 'xdp' || section.startsWith('xdp/')) return { type: 'xdp' };
  if (section === 'socket' || section.startsWith('socket/')) return { type: 'socket_filter' };
  return undefined;
}

const MAP_TYPE_BY_NUMBER = new Map<number, MapType>(
  Object.entries(MAP_TYPES).map(([k, v]) => [v, k as MapType]),
);

function isDataSection(s: ElfSection): boolean {
  return (s.type === SHT_PROGBITS || s.type === SHT_NOBITS)
    && /^\.(rodata|data|bss)(\.|$)/.test(s.name);
}

function readBtfMaps(elf: ElfFile, btf: Btf, mapsSection: ElfSection): Record<string, MapSpec> {
  const sec = btf.datasec('.maps');
  if (!sec) unsupported('the .maps section has no BTF DATASEC; compile with clang -g');
  const byOffset = new Map<number, string>();
  for (const sym of elf.symbols) {
    if (sym.section === mapsSection.index && sym.type !== STT_SECTION) byOffset.set(sym.value, sym.name);
  }
  const maps: Record<string, MapSpec> = {};
  for (const si of sec.secinfos ?? []) {
    const v = btf.type(si.type);
    if (v.kind !== 'var') throw new BpfError('BTF_INVALID', `.maps entry ${si.type} is ${v.kind}, not var`);
    const name = v.name || byOffset.get(si.offset) || unsupported(`.maps entry at ${si.offset} has no name`);
    const def = btf.resolve(v.type ?? 0);
    if (def.kind !== 'struct') throw new BpfError('BTF_INVALID', `map ${name}: definition is ${def.kind}, not struct`);
    let type: number | undefined;
    let keySize: number | undefined;
    let valueSize: number | undefined;
    let maxEntries = 0;
    let flags = 0;
    let pinning = 0;
    const uint = (memberType: number, field: string): number => {
      const ptr = btf.resolve(memberType);
      const arr = ptr.kind === 'ptr' ? btf.resolve(ptr.type ?? 0) : undefined;
      if (!arr || arr.kind !== 'array' || !arr.array) {
        throw new BpfError('BTF_INVALID', `map ${name}: field ${field} is not __uint(...)`);
      }
      return arr.array.nelems;
    };
    const typeSize = (memberType: number, field: string): number => {
      const ptr = btf.resolve(memberType);
      if (ptr.kind !== 'ptr') throw new BpfError('BTF_INVALID', `map ${name}: field ${field} is not __type(...)`);
      return btf.sizeof(ptr.type ?? 0);
    };
    for (const m of def.members ?? []) {
      switch (m.name) {
        case 'type': type = uint(m.type, m.name); break;
        case 'max_entries': maxEntries = uint(m.type, m.name); break;
        case 'map_flags': flags = uint(m.type, m.name); break;
        case 'pinning': pinning = uint(m.type, m.name); break;
        case 'key_size': keySize = uint(m.type, m.name); break;
        case 'value_size': valueSize = uint(m.type, m.name); break;
        case 'key': keySize = typeSize(m.type, m.name); break;
        case 'value': valueSize = typeSize(m.type, m.name); break;
        case 'values': unsupported(`map ${name}: map-in-map / prog_array initialisers (__array(values, ...)) are not supported`);
        // eslint-disable-next-line no-fallthrough
        case 'numa_node': case 'map_extra': break;
        default: unsupported(`map ${name}: unknown map definition field ${m.name}`);
      }
    }
    if (type === undefined) throw new BpfError('BTF_INVALID', `map ${name}: no __uint(type, ...)`);
    const mapType = MAP_TYPE_BY_NUMBER.get(type) ?? unsupported(`map ${name}: map type ${type} is not supported`);
    if (pinning > 1) unsupported(`map ${name}: pinning mode ${pinning} is not supported (only LIBBPF_PIN_BY_NAME)`);
    maps[name] = {
      name,
      type: mapType,
      keySize: keySize ?? (mapType === 'ringbuf' ? 0 : 4),
      valueSize: valueSize ?? (mapType === 'ringbuf' ? 0 : mapType === 'prog_array' ? 4 : 0),
      maxEntries,
      flags,
      pinning: pinning === 1 ? 'by-name' : 'none',
    };
  }
  return maps;
}

function dataMap(s: ElfSection): MapSpec {
  if (s.size > 1 << 30) throw new BpfError('ELF_INVALID', `section ${s.name} is implausibly large (${s.size} bytes)`);
  const value = s.type === SHT_NOBITS ? new Uint8Array(s.size) : new Uint8Array(s.data);
  const rodata = s.name.startsWith('.rodata');
  return {
    name: s.name,
    type: 'array',
    keySize: 4,
    valueSize: Math.max(s.size, 1),
    maxEntries: 1,
    flags: rodata ? MAP_FLAGS.RDONLY_PROG : 0,
    pinning: 'none',
    contents: [{ key: new Uint8Array(4), value: value.length ? value : new Uint8Array(1) }],
    freeze: rodata,
  };
}

/** Parse a BPF ELF object (clang `-target bpf -g`) into an editable `CollectionSpec`. */
export function loadCollectionSpec(bytes: Uint8Array): CollectionSpec {
  const elf = parseElf(bytes);
  const licenseSec = elf.section('license');
  const license = licenseSec ? new TextDecoder().decode(licenseSec.data).replace(/\0.*$/s, '') : '';
  if (elf.section('maps')) unsupported('legacy `maps` section definitions are not supported; use BTF-defined maps in .maps');

  let maps: Record<string, MapSpec> = {};
  const mapsSection = elf.section('.maps');
  const btfSection = elf.section('.BTF');
  const btf = btfSection ? parseBtf(btfSection.data) : undefined;
  if (mapsSection) {
    if (!btf) unsupported('a .maps section needs BTF (.BTF section); compile with clang -g');
    maps = readBtfMaps(elf, btf, mapsSection);
  }
  const extSection = elf.section('.BTF.ext');
  const progBtf: ProgBtfSource | undefined = btf && extSection
    ? { raw: fixupBtfForKernel(btf, elf), ext: parseBtfExt(extSection.data, btf) }
    : undefined;
  for (const s of elf.sections) {
    if (isDataSection(s) && s.size > 0) maps[s.name] = dataMap(s);
  }

  const text = elf.section('.text');
  const textFuncs = text
    ? elf.symbols.filter((s) => s.section === text.index && s.type === STT_FUNC)
    : [];
  const programs: Record<string, ProgramSpec> = {};

  for (const sec of elf.sections) {
    if (!(sec.flags & SHF_EXECINSTR) || sec.name === '.text' || sec.size === 0) continue;
    const kind = programTypeForSection(sec.name);
    // Programs are the global functions of the section; local ones would be subprograms.
    const funcs = elf.symbols.filter((s) => s.section === sec.index && s.type === STT_FUNC && s.bind !== STB_LOCAL);
    for (const fn of funcs) {
      if (!kind) unsupported(`program ${fn.name}: section ${sec.name} is not a known program type`);
      programs[fn.name] = link(elf, sec, fn.value, fn.size, fn.name, textFuncs, maps, kind, license, progBtf);
    }
  }
  return { maps, programs };
}

interface Piece { section: ElfSection; start: number; size: number; at: number }
interface ProgBtfSource { raw: Uint8Array; ext: BtfExt }

/** func_info/line_info records of the program's pieces, re-based to instruction indexes. */
function extFor(records: ExtRecords, pieces: readonly Piece[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const p of pieces) {
    for (const rec of records.bySection.get(p.section.name) ?? []) {
      const dv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
      const off = dv.getUint32(0, true);
      if (off < p.start || off >= p.start + p.size || off % 8 !== 0) continue;
      const copy = rec.slice();
      new DataView(copy.buffer).setUint32(0, p.at + (off - p.start) / 8, true);
      out.push(copy);
    }
  }
  const all = new Uint8Array(out.length * records.recSize);
  out.forEach((r, i) => all.set(r, i * records.recSize));
  return all;
}

/** Copy a function plus (transitively) the `.text` functions it calls; fix calls; collect references. */
function link(
  elf: ElfFile, sec: ElfSection, start: number, size: number, name: string,
  textFuncs: ReadonlyArray<{ value: number; size: number; name: string }>,
  maps: Record<string, MapSpec>, kind: { type: ProgramType; expectedAttachType?: number }, license: string,
  progBtf: ProgBtfSource | undefined,
): ProgramSpec {
  if (size % 8 !== 0 || start % 8 !== 0) throw new BpfError('ELF_INVALID', `program ${name}: not 8-byte aligned`);
  if (start + size > sec.data.length) throw new BpfError('ELF_INVALID', `program ${name}: symbol extends past section ${sec.name}`);
  const pieces: Piece[] = [{ section: sec, start, size, at: 0 }];
  const placed = new Map<number, Piece>(); // .text offset -> piece
  let total = size;
  const text = elf.section('.text');
  const out: Uint8Array[] = [];
  const references: MapReference[] = [];
  const calls: Array<{ index: number; target: number }> = []; // absolute insn index -> absolute target

  for (let p = 0; p < pieces.length; p++) {
    const piece = pieces[p]!;
    const code = new Uint8Array(piece.section.data.subarray(piece.start, piece.start + piece.size));
    const dv = new DataView(code.buffer);
    const relocs = (elf.relocations.get(piece.section.index) ?? [])
      .filter((r) => r.offset >= piece.start && r.offset < piece.start + piece.size);
    const relocated = new Set<number>();
    for (const r of relocs) {
      const local = r.offset - piece.start;
      if (local % 8 !== 0) throw new BpfError('ELF_INVALID', `program ${name}: relocation at unaligned offset ${r.offset}`);
      const index = piece.at + local / 8;
      relocated.add(local / 8);
      applyReloc(elf, r, dv, local, index, name, maps, references, (target) => {
        // target: byte offset in .text
        if (!text) unsupported(`program ${name}: call into missing .text`);
        const fn = textFuncs.find((f) => f.value <= target && target < f.value + f.size);
        if (!fn) unsupported(`program ${name}: call target .text+${target} is not a function`);
        if (fn.value % 8 !== 0 || fn.size % 8 !== 0 || fn.value + fn.size > text.data.length) {
          throw new BpfError('ELF_INVALID', `function ${fn.name}: not 8-byte aligned or extends past .text`);
        }
        let callee = placed.get(fn.value);
        if (!callee) {
          callee = { section: text, start: fn.value, size: fn.size, at: total / 8 };
          total += fn.size;
          placed.set(fn.value, callee);
          pieces.push(callee);
        }
        calls.push({ index, target: callee.at + (target - fn.value) / 8 });
      });
    }
    // Calls inside the same piece without relocation are already pc-relative; nothing to do.
    for (let i = 0; i < code.length / 8; i++) {
      if (code[i * 8] === BPF_CALL && (code[i * 8 + 1]! >> 4) === BPF_PSEUDO_CALL && !relocated.has(i)) {
        const target = i + 1 + dv.getInt32(i * 8 + 4, true);
        if (target < 0 || target >= code.length / 8) {
          unsupported(`program ${name}: bpf-to-bpf call across sections without a relocation`);
        }
      }
    }
    out.push(code);
  }
  const instructions = new Uint8Array(total);
  let o = 0;
  for (const c of out) { instructions.set(c, o); o += c.length; }
  const idv = new DataView(instructions.buffer);
  for (const c of calls) idv.setInt32(c.index * 8 + 4, c.target - c.index - 1, true);
  return {
    name,
    sectionName: sec.name,
    type: kind.type,
    ...(kind.expectedAttachType !== undefined ? { expectedAttachType: kind.expectedAttachType } : {}),
    license,
    instructions,
    references,
    ...(progBtf && progBtf.ext.funcInfo.recSize > 0 ? {
      btf: {
        raw: progBtf.raw,
        funcInfo: extFor(progBtf.ext.funcInfo, pieces),
        funcInfoRecSize: progBtf.ext.funcInfo.recSize,
        lineInfo: extFor(progBtf.ext.lineInfo, pieces),
        lineInfoRecSize: progBtf.ext.lineInfo.recSize,
      },
    } : {}),
  };
}

function applyReloc(
  elf: ElfFile, r: ElfRelocation, dv: DataView, local: number, index: number, prog: string,
  maps: Record<string, MapSpec>, references: MapReference[], onCall: (textOffset: number) => void,
): void {
  const sym = r.symbol;
  const target = elf.sections[sym.section];
  const opcode = dv.getUint8(local);
  if (r.type === R_BPF_64_32 && opcode === BPF_CALL) {
    if (!target || target.name !== '.text') unsupported(`program ${prog}: call to ${sym.name} outside .text`);
    const imm = dv.getInt32(local + 4, true);
    const callee = sym.value + (imm + 1) * 8;
    const regs = dv.getUint8(local + 1);
    dv.setUint8(local + 1, (regs & 0x0f) | (BPF_PSEUDO_CALL << 4));
    onCall(callee);
    return;
  }
  if (r.type !== R_BPF_64_64 || opcode !== BPF_LD_IMM64) {
    unsupported(`program ${prog}: relocation type ${r.type} on opcode 0x${opcode.toString(16)} (symbol ${sym.name}) is not supported`);
  }
  if (!target) unsupported(`program ${prog}: relocation to undefined/extern symbol ${sym.name} (extern/kconfig/ksym are not supported)`);
  if (target.name === '.maps') {
    const mapName = sym.name;
    if (!maps[mapName]) unsupported(`program ${prog}: relocation to unknown map ${mapName}`);
    references.push({ index, kind: 'fd', map: mapName, offset: 0 });
    return;
  }
  if (isDataSection(target)) {
    const imm = dv.getInt32(local + 4, true);
    const offset = (sym.type === STT_SECTION ? 0 : sym.value) + imm;
    references.push({ index, kind: 'value', map: target.name, offset });
    return;
  }
  unsupported(`program ${prog}: relocation to ${sym.name} in section ${target.name} is not supported`);
}
