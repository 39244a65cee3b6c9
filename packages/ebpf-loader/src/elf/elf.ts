/**
 * A minimal ELF64 little-endian reader for BPF objects: section headers, symbols and `.rel*`
 * relocations. Pure (bytes in, data out); it never touches the kernel.
 */
import { BpfError } from '../errors.js';

export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHF_EXECINSTR = 0x4;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;
const EM_BPF = 247;

/** One section header plus its bytes (empty for NOBITS). */
export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly data: Uint8Array;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  /** STT_* */
  readonly type: number;
  /** STB_* */
  readonly bind: number;
  readonly section: number;
  readonly value: number;
  readonly size: number;
}

export interface ElfRelocation {
  /** Byte offset inside the target section. */
  readonly offset: number;
  readonly type: number;
  readonly symbol: ElfSymbol;
}

export interface ElfFile {
  readonly sections: readonly ElfSection[];
  readonly symbols: readonly ElfSymbol[];
  /** Relocations keyed by the index of the section they apply to. */
  readonly relocations: ReadonlyMap<number, readonly ElfRelocation[]>;
  section(name: string): ElfSection | undefined;
}

function invalid(msg: string): never {
  throw new BpfError('ELF_INVALID', `invalid BPF ELF object: ${msg}`);
}

function cstr(bytes: Uint8Array, off: number): string {
  if (off >= bytes.length) invalid(`string offset ${off} out of range`);
  let end = off;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(off, end));
}

/** A plain `Uint8Array` over the same memory (Node's `Buffer#slice` does not copy). */
export function plain(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function num(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) invalid(`${what} too large`);
  return Number(v);
}

/** Parse an ELF64 LE object of machine EM_BPF. Throws `ELF_INVALID` on anything malformed. */
export function parseElf(input: Uint8Array): ElfFile {
  // A plain Uint8Array view (not a Buffer), so that `.slice()` further down always copies.
  const bytes = plain(input);
  if (bytes.length < 64) invalid('shorter than an ELF header');
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) invalid('bad magic');
  if (bytes[4] !== 2) invalid('not ELF64 (EI_CLASS)');
  if (bytes[5] !== 1) invalid('not little-endian (EI_DATA); big-endian BPF objects are not supported');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const machine = dv.getUint16(0x12, true);
  if (machine !== EM_BPF) invalid(`e_machine ${machine} is not EM_BPF (247)`);
  const shoff = num(dv.getBigUint64(0x28, true), 'e_shoff');
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  if (shentsize !== 64) invalid(`e_shentsize ${shentsize} != 64`);
  if (shoff + shnum * 64 > bytes.length) invalid('section header table out of range');
  if (shstrndx >= shnum) invalid('e_shstrndx out of range');

  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * 64;
    const type = dv.getUint32(o + 4, true);
    const offset = num(dv.getBigUint64(o + 24, true), 'sh_offset');
    const size = num(dv.getBigUint64(o + 32, true), 'sh_size');
    if (type !== SHT_NOBITS && type !== 0 && offset + size > bytes.length) invalid(`section ${i} data out of range`);
    raw.push({
      nameOff: dv.getUint32(o, true),
      type,
      flags: num(dv.getBigUint64(o + 8, true), 'sh_flags'),
      offset,
      size,
      link: dv.getUint32(o + 40, true),
      info: dv.getUint32(o + 44, true),
    });
  }
  const shstr = raw[shstrndx]!;
  const shstrData = bytes.subarray(shstr.offset, shstr.offset + shstr.size);
  const sections: ElfSection[] = raw.map((s, index) => ({
    index,
    name: index === 0 ? '' : cstr(shstrData, s.nameOff),
    type: s.type,
    flags: s.flags,
    size: s.size,
    link: s.link,
    info: s.info,
    data: s.type === SHT_NOBITS || s.type === 0 ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size),
  }));

  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  const symbols: ElfSymbol[] = [];
  if (symtab) {
    const strtab = sections[symtab.link];
    if (!strtab || strtab.type !== SHT_STRTAB) invalid('symbol table has no string table');
    const sdv = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
    if (symtab.size % 24 !== 0) invalid('symbol table size is not a multiple of 24');
    for (let i = 0; i < symtab.size / 24; i++) {
      const o = i * 24;
      const info = sdv.getUint8(o + 4);
      const section = sdv.getUint16(o + 6, true);
      let name = cstr(strtab.data, sdv.getUint32(o, true));
      // Section symbols are unnamed; name them after their section, as readelf does.
      if (name === '' && (info & 0xf) === STT_SECTION) name = sections[section]?.name ?? '';
      symbols.push({
        index: i,
        name,
        type: info & 0xf,
        bind: info >> 4,
        section,
        value: num(sdv.getBigUint64(o + 8, true), 'st_value'),
        size: num(sdv.getBigUint64(o + 16, true), 'st_size'),
      });
    }
  }

  const relocations = new Map<number, ElfRelocation[]>();
  for (const s of sections) {
    if (s.type === SHT_RELA) {
      throw new BpfError('ELF_UNSUPPORTED', `RELA section ${s.name} is not supported (BPF objects use REL)`);
    }
    if (s.type !== SHT_REL) continue;
    if (s.size % 16 !== 0) invalid(`${s.name} size is not a multiple of 16`);
    const rdv = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    const list: ElfRelocation[] = [];
    for (let i = 0; i < s.size / 16; i++) {
      const offset = num(rdv.getBigUint64(i * 16, true), 'r_offset');
      const info = rdv.getBigUint64(i * 16 + 8, true);
      const symIndex = Number(info >> 32n);
      const symbol = symbols[symIndex];
      if (!symbol) invalid(`${s.name}: relocation ${i} refers to missing symbol ${symIndex}`);
      list.push({ offset, type: Number(info & 0xffffffffn), symbol });
    }
    relocations.set(s.info, list);
  }

  return {
    sections,
    symbols,
    relocations,
    section: (name) => sections.find((s) => s.name === name),
  };
}
