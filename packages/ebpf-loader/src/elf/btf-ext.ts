/**
 * Program BTF: the `.BTF` fix-ups the kernel needs (DATASEC sizes and variable offsets, which the
 * compiler leaves to the loader) and the `.BTF.ext` func_info/line_info records. Pure.
 */
import { BpfError } from '../errors.js';
import type { Btf } from './btf.js';
import { plain, type ElfFile } from './elf.js';

/** Records of one section, `insnOff` in bytes from the section start (as in the object file). */
export interface ExtRecords {
  readonly recSize: number;
  /** Section name -> raw records (each `recSize` bytes, first u32 = insn_off in bytes). */
  readonly bySection: ReadonlyMap<string, Uint8Array[]>;
}

export interface BtfExt {
  readonly funcInfo: ExtRecords;
  readonly lineInfo: ExtRecords;
}

function invalid(msg: string): never {
  throw new BpfError('BTF_INVALID', `invalid .BTF.ext: ${msg}`);
}

/** Parse `.BTF.ext` (func_info and line_info; CO-RE relocations are ignored). */
export function parseBtfExt(input: Uint8Array, btf: Btf): BtfExt {
  const bytes = plain(input);
  if (bytes.length < 24) invalid('shorter than a header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(0, true) !== 0xeb9f) invalid('bad magic');
  const hdrLen = dv.getUint32(4, true);
  const read = (off: number, len: number, what: string): ExtRecords => {
    const bySection = new Map<string, Uint8Array[]>();
    if (len === 0) return { recSize: 0, bySection };
    const start = hdrLen + off;
    const end = start + len;
    if (end > bytes.length || len < 4) invalid(`${what} out of range`);
    const recSize = dv.getUint32(start, true);
    if (recSize < 8) invalid(`${what} record size ${recSize}`);
    let o = start + 4;
    while (o < end) {
      if (o + 8 > end) invalid(`${what} truncated`);
      const name = btf.str(dv.getUint32(o, true));
      const n = dv.getUint32(o + 4, true);
      o += 8;
      if (o + n * recSize > end) invalid(`${what} records of ${name} out of range`);
      const recs: Uint8Array[] = [];
      for (let i = 0; i < n; i++, o += recSize) recs.push(bytes.slice(o, o + recSize));
      bySection.set(name, recs);
    }
    return { recSize, bySection };
  };
  return {
    funcInfo: read(dv.getUint32(8, true), dv.getUint32(12, true), 'func_info'),
    lineInfo: read(dv.getUint32(16, true), dv.getUint32(20, true), 'line_info'),
  };
}

/**
 * A copy of the raw BTF as the kernel wants it: each DATASEC gets its ELF section's size, each
 * variable its symbol's offset, and the entries are sorted by offset (what libbpf does).
 */
export function fixupBtfForKernel(btf: Btf, elf: ElfFile): Uint8Array {
  const raw = new Uint8Array(btf.raw); // a copy
  const dv = new DataView(raw.buffer);
  for (const t of btf.types) {
    if (t.kind !== 'datasec' || !t.secinfos) continue;
    const sec = elf.section(t.name);
    if (!sec) continue;
    if ((t.size ?? 0) === 0) dv.setUint32(t.offset + 8, sec.size, true);
    const entries = t.secinfos.map((si) => {
      const v = btf.type(si.type);
      const sym = elf.symbols.find((s) => s.section === sec.index && s.name === v.name);
      return { type: si.type, offset: sym ? sym.value : si.offset, size: si.size };
    }).sort((a, b) => a.offset - b.offset);
    entries.forEach((e, i) => {
      const at = t.offset + 12 + i * 12;
      dv.setUint32(at, e.type, true);
      dv.setUint32(at + 4, e.offset, true);
      dv.setUint32(at + 8, e.size, true);
    });
  }
  return raw;
}
