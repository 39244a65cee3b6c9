// Reads a Linux N-API addon (an ELF64 little-endian shared object) without running it, and checks
// that it is one this package can ship as a prebuild: the right machine, linked against nothing
// but libc, importing only N-API functions (resolved from the node binary) and versioned glibc
// symbols, and reporting the N-API version we build for. Used by build-prebuilds.mjs after each
// build and by the unit tests on the committed files, so the arm64 prebuild, which cannot run on
// an x64 build machine, is still checked. It must never load or execute the file it reads.

const SHT_PROGBITS = 1;
const SHT_DYNAMIC = 6;
const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const DT_NEEDED = 1;
const STB_LOCAL = 0;
const STB_WEAK = 2;

/** e_machine values of the architectures we ship, by Node's `process.arch` name. */
export const MACHINES = { x64: 62, arm64: 183 };

/** Weak, unversioned references that gcc's crtbeginS.o puts into every shared object. */
const CRT_WEAK = new Set(['__gmon_start__', '_ITM_deregisterTMCloneTable', '_ITM_registerTMCloneTable']);

function fail(message) {
  throw new Error(`addon-elf: ${message}`);
}

function cstr(bytes, offset) {
  const end = bytes.indexOf(0, offset);
  return new TextDecoder().decode(bytes.subarray(offset, end < 0 ? bytes.length : end));
}

/**
 * Describes a shared object: `{ machine, needed, imports, exports, napiVersion, glibc }`.
 * `imports` are undefined dynamic symbols `{ name, weak, version?, file? }`; `glibc` is the
 * newest `GLIBC_x.y` version it needs; `napiVersion` is what its exported
 * `node_api_module_get_api_version_v1` returns (decoded from its machine code), if recognisable.
 */
export function readAddon(input) {
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || dv.getUint32(0) !== 0x7f454c46) fail('not an ELF file');
  if (bytes[4] !== 2 || bytes[5] !== 1) fail('not a 64-bit little-endian ELF file');
  if (dv.getUint16(0x10, true) !== 3) fail('not a shared object (e_type is not ET_DYN)');
  const machine = dv.getUint16(0x12, true);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  if (shoff === 0 || shentsize !== 64 || shoff + shnum * 64 > bytes.length) fail('no usable section headers');
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * 64;
    const offset = Number(dv.getBigUint64(o + 0x18, true));
    const size = Number(dv.getBigUint64(o + 0x20, true));
    sections.push({
      type: dv.getUint32(o + 4, true),
      addr: Number(dv.getBigUint64(o + 0x10, true)),
      offset,
      size,
      link: dv.getUint32(o + 0x28, true),
      data: () => {
        if (offset + size > bytes.length) fail(`section ${i} lies outside the file`);
        return bytes.subarray(offset, offset + size);
      },
    });
  }
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM) ?? fail('no dynamic symbol table');
  const dynstr = sections[dynsym.link]?.data() ?? fail('dynamic symbol table has no string table');

  // Version needs: version index -> { name: 'GLIBC_2.14', file: 'libc.so.6' }.
  const versions = new Map();
  const verneed = sections.find((s) => s.type === SHT_GNU_VERNEED);
  if (verneed) {
    const d = verneed.data();
    const vdv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    for (let off = 0; ;) {
      const cnt = vdv.getUint16(off + 2, true);
      const file = cstr(dynstr, vdv.getUint32(off + 4, true));
      for (let aux = off + vdv.getUint32(off + 8, true), k = 0; k < cnt; k++) {
        versions.set(vdv.getUint16(aux + 6, true) & 0x7fff, { name: cstr(dynstr, vdv.getUint32(aux + 8, true)), file });
        const next = vdv.getUint32(aux + 12, true);
        if (next === 0) break;
        aux += next;
      }
      const next = vdv.getUint32(off + 12, true);
      if (next === 0) break;
      off += next;
    }
  }
  const versym = sections.find((s) => s.type === SHT_GNU_VERSYM)?.data();

  const imports = [];
  const exports = new Map();
  const syms = dynsym.data();
  const sdv = new DataView(syms.buffer, syms.byteOffset, syms.byteLength);
  for (let i = 1; i < syms.length / 24; i++) {
    const o = i * 24;
    const name = cstr(dynstr, sdv.getUint32(o, true));
    const bind = syms[o + 4] >> 4;
    const shndx = sdv.getUint16(o + 6, true);
    if (shndx === 0) {
      const v = versym ? versions.get(new DataView(versym.buffer, versym.byteOffset).getUint16(i * 2, true) & 0x7fff) : undefined;
      imports.push({ name, weak: bind === STB_WEAK, ...(v ? { version: v.name, file: v.file } : {}) });
    } else if (bind !== STB_LOCAL) {
      exports.set(name, Number(sdv.getBigUint64(o + 8, true)));
    }
  }

  const needed = [];
  const dynamic = sections.find((s) => s.type === SHT_DYNAMIC);
  if (dynamic) {
    const d = dynamic.data();
    const ddv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const strtab = sections[dynamic.link]?.data() ?? dynstr;
    for (let off = 0; off + 16 <= d.length; off += 16) {
      const tag = ddv.getBigInt64(off, true);
      if (tag === 0n) break;
      if (tag === BigInt(DT_NEEDED)) needed.push(cstr(strtab, Number(ddv.getBigUint64(off + 8, true))));
    }
  }

  const code = (addr, length) => {
    const s = sections.find((x) => x.type === SHT_PROGBITS && addr >= x.addr && addr + length <= x.addr + x.size);
    return s ? s.data().subarray(addr - s.addr, addr - s.addr + length) : undefined;
  };
  const getter = exports.get('node_api_module_get_api_version_v1');
  const napiVersion = getter === undefined ? undefined : decodeReturnConstant(machine, code(getter, 16));

  const glibc = imports
    .map((s) => /^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$/.exec(s.version ?? ''))
    .filter((m) => m !== null)
    .map((m) => [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2])
    .map((v) => (v[2] ? v.join('.') : `${v[0]}.${v[1]}`))
    .pop();

  return { machine, needed, imports, exports: [...exports.keys()].sort(), napiVersion, glibc };
}

/**
 * The constant a `int f(void) { return K; }` function returns, from its first instructions:
 * x86-64 `[endbr64] mov $K, %eax; ret`, AArch64 `[bti c] mov w0, #K; ret`. Undefined otherwise.
 */
function decodeReturnConstant(machine, code) {
  if (!code) return undefined;
  const dv = new DataView(code.buffer, code.byteOffset, code.byteLength);
  if (machine === MACHINES.x64) {
    let i = 0;
    if (code[0] === 0xf3 && code[1] === 0x0f && code[2] === 0x1e && code[3] === 0xfa) i = 4;
    return code[i] === 0xb8 && code[i + 5] === 0xc3 ? dv.getUint32(i + 1, true) : undefined;
  }
  if (machine === MACHINES.arm64) {
    let i = 0;
    if (dv.getUint32(0, true) === 0xd503245f) i = 4;
    const mov = dv.getUint32(i, true);
    // MOVZ w0, #imm16 (hw = 0): 0x52800000 | imm16 << 5 | Rd=0
    return (mov & 0xffe0001f) === 0x52800000 && dv.getUint32(i + 4, true) === 0xd65f03c0 ? (mov >>> 5) & 0xffff : undefined;
  }
  return undefined;
}

/**
 * What is wrong with `info` (from `readAddon`) as the prebuild for `arch` built for N-API
 * `napiVersion`; an empty list means it is fit to ship.
 */
export function addonProblems(info, arch, napiVersion) {
  const problems = [];
  const want = MACHINES[arch];
  if (want === undefined) problems.push(`unknown architecture ${arch}`);
  else if (info.machine !== want) problems.push(`ELF machine is ${info.machine}, expected ${want} for ${arch}`);
  for (const lib of info.needed) if (lib !== 'libc.so.6') problems.push(`links against ${lib} (only libc.so.6 is allowed)`);
  for (const s of info.imports) {
    if (/^napi_|^node_api_/.test(s.name) && !s.version && !s.weak) continue;
    if (s.version?.startsWith('GLIBC_') && s.file === 'libc.so.6') continue;
    if (s.weak && !s.version && CRT_WEAK.has(s.name)) continue;
    problems.push(`imports ${s.name}${s.version ? `@${s.version}` : ''}${s.file ? ` from ${s.file}` : ''}: neither N-API nor versioned glibc`);
  }
  for (const name of ['napi_register_module_v1', 'node_api_module_get_api_version_v1']) {
    if (!info.exports.includes(name)) problems.push(`does not export ${name}`);
  }
  if (info.napiVersion !== napiVersion) problems.push(`reports N-API version ${info.napiVersion ?? 'unknown'}, expected ${napiVersion}`);
  return problems;
}
