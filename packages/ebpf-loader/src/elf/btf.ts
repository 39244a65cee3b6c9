/**
 * A BTF reader: enough type information to read libbpf-style map definitions from the `.maps`
 * DATASEC (`__uint`, `__type`). Pure; it never loads BTF into the kernel.
 */
import { BpfError } from '../errors.js';
import { plain } from './elf.js';

export type BtfKind =
  | 'void' | 'int' | 'ptr' | 'array' | 'struct' | 'union' | 'enum' | 'fwd' | 'typedef'
  | 'volatile' | 'const' | 'restrict' | 'func' | 'func_proto' | 'var' | 'datasec' | 'float'
  | 'decl_tag' | 'type_tag' | 'enum64';

const KINDS: BtfKind[] = [
  'void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const',
  'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64',
];

export interface BtfMember { readonly name: string; readonly type: number; readonly offset: number }
export interface BtfSecinfo { readonly type: number; readonly offset: number; readonly size: number }

/** One BTF type; `type` is the referenced type id, `size` the byte size where the kind has one. */
export interface BtfType {
  readonly id: number;
  /** Byte offset of the type record in the raw BTF (0 for void). */
  readonly offset: number;
  readonly kind: BtfKind;
  readonly name: string;
  readonly size?: number;
  readonly type?: number;
  readonly members?: readonly BtfMember[];
  readonly array?: { readonly type: number; readonly indexType: number; readonly nelems: number };
  readonly secinfos?: readonly BtfSecinfo[];
  readonly linkage?: number;
}

export interface Btf {
  readonly types: readonly BtfType[];
  /** The raw bytes this was parsed from. */
  readonly raw: Uint8Array;
  /** A string from the string section. */
  str(offset: number): string;
  type(id: number): BtfType;
  /** Follow typedef/const/volatile/restrict/type_tag. */
  resolve(id: number): BtfType;
  /** Byte size of a sized type (int, struct, array, ptr...). */
  sizeof(id: number): number;
  datasec(name: string): BtfType | undefined;
}

function invalid(msg: string): never {
  throw new BpfError('BTF_INVALID', `invalid BTF: ${msg}`);
}

/** Parse a `.BTF` section. */
export function parseBtf(input: Uint8Array): Btf {
  const bytes = plain(input);
  if (bytes.length < 24) invalid('shorter than a header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint16(0, true) !== 0xeb9f) invalid('bad magic (only little-endian BTF is supported)');
  const hdrLen = dv.getUint32(4, true);
  const typeOff = dv.getUint32(8, true);
  const typeLen = dv.getUint32(12, true);
  const strOff = dv.getUint32(16, true);
  const strLen = dv.getUint32(20, true);
  const tStart = hdrLen + typeOff;
  const sStart = hdrLen + strOff;
  if (tStart + typeLen > bytes.length || sStart + strLen > bytes.length) invalid('sections out of range');
  const strs = bytes.subarray(sStart, sStart + strLen);
  const dec = new TextDecoder();
  const str = (off: number): string => {
    if (off >= strs.length) invalid(`string offset ${off} out of range`);
    let end = off;
    while (end < strs.length && strs[end] !== 0) end++;
    return dec.decode(strs.subarray(off, end));
  };

  const types: BtfType[] = [{ id: 0, offset: 0, kind: 'void', name: '' }];
  let o = tStart;
  const end = tStart + typeLen;
  const u32 = (at: number): number => {
    if (at + 4 > end) invalid('type section truncated');
    return dv.getUint32(at, true);
  };
  while (o < end) {
    const id = types.length;
    const offset = o;
    const name = str(u32(o));
    const info = u32(o + 4);
    const sizeOrType = u32(o + 8);
    const vlen = info & 0xffff;
    const kindNum = (info >>> 24) & 0x1f;
    const kind = KINDS[kindNum];
    if (!kind || kind === 'void') invalid(`type ${id} has unknown kind ${kindNum}`);
    o += 12;
    switch (kind) {
      case 'int':
        types.push({ id, offset, kind, name, size: sizeOrType });
        o += 4;
        break;
      case 'enum':
        types.push({ id, offset, kind, name, size: sizeOrType });
        o += vlen * 8;
        break;
      case 'enum64':
        types.push({ id, offset, kind, name, size: sizeOrType });
        o += vlen * 12;
        break;
      case 'float':
        types.push({ id, offset, kind, name, size: sizeOrType });
        break;
      case 'ptr': case 'fwd': case 'typedef': case 'volatile': case 'const': case 'restrict':
      case 'func': case 'type_tag':
        types.push({ id, offset, kind, name, type: sizeOrType });
        break;
      case 'array':
        types.push({ id, offset, kind, name, array: { type: u32(o), indexType: u32(o + 4), nelems: u32(o + 8) } });
        o += 12;
        break;
      case 'struct': case 'union': {
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++, o += 12) {
          members.push({ name: str(u32(o)), type: u32(o + 4), offset: u32(o + 8) });
        }
        types.push({ id, offset, kind, name, size: sizeOrType, members });
        break;
      }
      case 'func_proto':
        types.push({ id, offset, kind, name, type: sizeOrType });
        o += vlen * 8;
        break;
      case 'var':
        types.push({ id, offset, kind, name, type: sizeOrType, linkage: u32(o) });
        o += 4;
        break;
      case 'datasec': {
        const secinfos: BtfSecinfo[] = [];
        for (let i = 0; i < vlen; i++, o += 12) {
          secinfos.push({ type: u32(o), offset: u32(o + 4), size: u32(o + 8) });
        }
        types.push({ id, offset, kind, name, size: sizeOrType, secinfos });
        break;
      }
      case 'decl_tag':
        types.push({ id, offset, kind, name, type: sizeOrType });
        o += 4;
        break;
    }
  }

  const type = (id: number): BtfType => types[id] ?? invalid(`type id ${id} out of range`);
  const resolve = (id: number): BtfType => {
    let t = type(id);
    for (let n = 0; n < 64; n++) {
      if (!['typedef', 'volatile', 'const', 'restrict', 'type_tag'].includes(t.kind)) return t;
      t = type(t.type ?? 0);
    }
    return invalid(`type ${id}: modifier chain too long`);
  };
  const sizeof = (id: number, depth = 0): number => {
    if (depth > 32) invalid(`type ${id}: nesting too deep`);
    const t = resolve(id);
    switch (t.kind) {
      case 'int': case 'enum': case 'enum64': case 'float': case 'struct': case 'union': case 'datasec':
        return t.size ?? 0;
      case 'ptr':
        return 8;
      case 'array':
        return t.array!.nelems * sizeof(t.array!.type, depth + 1);
      case 'var':
        return sizeof(t.type ?? 0, depth + 1);
      default:
        return invalid(`type ${id} (${t.kind} ${t.name}) has no size`);
    }
  };
  return {
    types,
    raw: bytes,
    str,
    type,
    resolve,
    sizeof: (id) => sizeof(id),
    datasec: (name) => types.find((t) => t.kind === 'datasec' && t.name === name),
  };
}
