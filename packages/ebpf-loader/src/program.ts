/**
 * Live kernel programs: load a `ProgramSpec` (map references fixed up with map fds) and keep the
 * fd. On rejection the verifier log is attached to a `VerifierError`: the first attempt runs
 * without a log (fast path), the retry asks for one and grows the buffer until it fits.
 */
import { BpfError, BpfSyscallError, VerifierError } from './errors.js';
import type { BpfMap } from './map.js';
import { kernelName } from './map.js';
import { getPinned, pinObject } from './pin.js';
import { PROGRAM_TYPES, type ProgramSpec, type ProgramType } from './spec.js';
import { Attr, bpf, bpfRaw, closeFd } from './syscall.js';

const ENOSPC = 28;
const EAGAIN = 11;
/** Loads of one program while the verifier keeps returning EAGAIN (libbpf: 5). */
const LOAD_ATTEMPTS = 5;
const BPF_PSEUDO_MAP_FD = 1;
const BPF_PSEUDO_MAP_VALUE = 2;
const MAX_LOG = 256 * 1024 * 1024;

export interface ProgramLoadOptions {
  /** Maps by spec name, for the program's map references. */
  maps?: Record<string, BpfMap>;
  /** Ask for a verifier log even on success (1 = normal, 2 = verbose); default 0. */
  logLevel?: number;
  /** First log buffer size in bytes (default 1 MiB); doubled on ENOSPC up to 256 MiB. */
  logSize?: number;
  /** Hand the spec's BTF (func_info/line_info) to the kernel: default true when the spec has it. */
  btf?: boolean;
  /** An already loaded BTF fd for `spec.btf.raw` (createCollection shares one per object). */
  btfFd?: number;
}

/**
 * Load raw BTF into the kernel (`BPF_BTF_LOAD`); returns its fd. Throws `BpfSyscallError` whose
 * message ends with the BTF verifier's complaint.
 */
export function loadBtf(raw: Uint8Array): number {
  const attempt = (log?: Uint8Array): number =>
    bpfRaw('BTF_LOAD', new Attr().ptr(0, raw).ptr(8, log).u32(16, raw.length).u32(20, log?.length ?? 0).u32(24, log ? 1 : 0));
  const r = attempt();
  if (r >= 0) return r;
  const log = new Uint8Array(64 * 1024);
  const r2 = attempt(log);
  if (r2 >= 0) return r2;
  const text = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))).trim().split('\n').slice(-2).join(' | ');
  throw new BpfSyscallError('BPF_BTF_LOAD', -r2, text);
}

/** Apply map references to a copy of the instructions. */
export function resolveReferences(spec: ProgramSpec, maps: Record<string, BpfMap>): Uint8Array {
  const insns = new Uint8Array(spec.instructions);
  const dv = new DataView(insns.buffer);
  for (const ref of spec.references) {
    const map = maps[ref.map];
    if (!map) throw new BpfError('BPF_INVALID_ARGUMENT', `program ${spec.name} references map ${ref.map}, which was not given`);
    const o = ref.index * 8;
    if (o + 16 > insns.length || insns[o] !== 0x18) {
      throw new BpfError('BPF_INVALID_ARGUMENT', `program ${spec.name}: reference at instruction ${ref.index} is not ld_imm64`);
    }
    const regs = insns[o + 1]!;
    insns[o + 1] = (regs & 0x0f) | ((ref.kind === 'fd' ? BPF_PSEUDO_MAP_FD : BPF_PSEUDO_MAP_VALUE) << 4);
    dv.setInt32(o + 4, map.fd, true);
    dv.setInt32(o + 12, ref.kind === 'value' ? ref.offset : 0, true);
  }
  return insns;
}

export class BpfProgram {
  #fd: number;
  readonly name: string;
  readonly type: ProgramType | number;
  /** The verifier log when `logLevel` > 0 was requested. */
  readonly verifierLog: string;
  /** Whether the program was loaded with BTF (func_info/line_info). */
  readonly hasBtf: boolean;

  private constructor(fd: number, name: string, type: ProgramType | number, log: string, hasBtf = false) {
    this.#fd = fd;
    this.name = name;
    this.type = type;
    this.verifierLog = log;
    this.hasBtf = hasBtf;
  }

  /** Load a program; throws `VerifierError` (with `.log`) when the verifier rejects it. */
  static load(spec: ProgramSpec, options: ProgramLoadOptions = {}): BpfProgram {
    const type = PROGRAM_TYPES[spec.type];
    if (type === undefined) throw new BpfError('BPF_INVALID_ARGUMENT', `unknown program type ${String(spec.type)}`);
    const insns = resolveReferences(spec, options.maps ?? {});
    const license = new TextEncoder().encode(`${spec.license}\0`);
    let btfFd = spec.btf && options.btf !== false ? options.btfFd : undefined;
    let ownBtf = false;
    if (spec.btf && options.btf !== false && btfFd === undefined) {
      try {
        btfFd = loadBtf(spec.btf.raw);
        ownBtf = true;
      } catch {
        btfFd = undefined; // kernels that reject this BTF still get the program, without source lines
      }
    }
    try {
      return BpfProgram.#load(spec, type, insns, license, options, btfFd);
    } catch (e) {
      // If the kernel refuses the program only because of its BTF, load it without.
      if (btfFd === undefined) throw e;
      try {
        return BpfProgram.#load(spec, type, insns, license, options, undefined);
      } catch {
        throw e; // the first error has source lines in its log
      }
    } finally {
      if (ownBtf && btfFd !== undefined) closeFd(btfFd);
    }
  }

  static #load(
    spec: ProgramSpec, type: number, insns: Uint8Array, license: Uint8Array, options: ProgramLoadOptions,
    btfFd: number | undefined,
  ): BpfProgram {
    const b = btfFd !== undefined ? spec.btf : undefined;
    const attempt = (logLevel: number, log: Uint8Array | undefined): { r: number; log: string } => {
      const attr = new Attr()
        .u32(0, type).u32(4, insns.length / 8).ptr(8, insns).ptr(16, license)
        .u32(24, log ? logLevel : 0).u32(28, log?.length ?? 0).ptr(32, log)
        .str(48, kernelName(spec.name), 16)
        .u32(68, spec.expectedAttachType ?? 0);
      if (b && btfFd !== undefined) {
        attr.u32(72, btfFd)
          .u32(76, b.funcInfoRecSize).ptr(80, b.funcInfo).u32(88, b.funcInfoRecSize ? b.funcInfo.length / b.funcInfoRecSize : 0)
          .u32(92, b.lineInfoRecSize).ptr(96, b.lineInfo).u32(104, b.lineInfoRecSize ? b.lineInfo.length / b.lineInfoRecSize : 0);
      }
      // The verifier gives up with EAGAIN when a signal arrives while it works (a child's
      // SIGCHLD, a profiler's SIGPROF): load again, as libbpf does (PROG_LOAD_ATTEMPTS).
      let r = bpfRaw('PROG_LOAD', attr);
      for (let again = 1; r === -EAGAIN && again < LOAD_ATTEMPTS; again++) r = bpfRaw('PROG_LOAD', attr);
      const text = log ? new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))) : '';
      return { r, log: text };
    };
    const level = options.logLevel ?? 0;
    let size = options.logSize ?? 1024 * 1024;
    let res = level > 0 ? attempt(level, new Uint8Array(size)) : attempt(0, undefined);
    // Rejected without a log: load again asking for one.
    if (res.r < 0 && level === 0) res = attempt(1, new Uint8Array(size));
    // The log did not fit: grow the buffer.
    while (res.r === -ENOSPC && size < MAX_LOG) {
      size *= 2;
      res = attempt(Math.max(level, 1), new Uint8Array(size));
    }
    if (res.r < 0) {
      if (res.log !== '') throw new VerifierError(spec.name, -res.r, res.log);
      throw new BpfSyscallError('BPF_PROG_LOAD', -res.r, `program ${spec.name}`);
    }
    return new BpfProgram(res.r, spec.name, spec.type, res.log, b !== undefined);
  }

  /** Wrap an fd (the program takes ownership). */
  static fromFd(fd: number, name = '', type: ProgramType | number = 0): BpfProgram {
    return new BpfProgram(fd, name, type, '');
  }

  /** Open a program pinned at `path` in bpffs. */
  static fromPin(path: string, type: ProgramType | number = 0): BpfProgram {
    return new BpfProgram(getPinned(path), path.split('/').pop() ?? '', type, '');
  }

  get fd(): number {
    if (this.#fd < 0) throw new BpfError('BPF_INVALID_ARGUMENT', `program ${this.name} is closed`);
    return this.#fd;
  }

  /** Pin at `path` in bpffs. */
  pin(path: string): void {
    pinObject(this.fd, path);
  }

  close(): void {
    if (this.#fd >= 0) {
      closeFd(this.#fd);
      this.#fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Result of `testRun`. */
export interface TestRunResult {
  /** The program's return value (e.g. a TC_ACT_* verdict). */
  retval: number;
  /** Average run time in nanoseconds over `repeat` runs. */
  duration: number;
  /** The packet after the program ran (it may have rewritten it). */
  dataOut: Uint8Array;
  /** The context after the run, when `ctxIn` was given. */
  ctxOut?: Uint8Array;
}

export interface TestRunOptions {
  /** The packet (for tc: starting at the Ethernet header, at least 14 bytes). */
  data: Uint8Array;
  /** Runs to average over (default 1). */
  repeat?: number;
  /** Input context (e.g. a `struct __sk_buff`). */
  ctxIn?: Uint8Array;
}

/** Run a program on a packet with `BPF_PROG_TEST_RUN`. */
export function testRun(program: BpfProgram, options: TestRunOptions): TestRunResult {
  const dataOut = new Uint8Array(options.data.length + 512);
  const ctxOut = options.ctxIn ? new Uint8Array(options.ctxIn.length) : undefined;
  const attr = new Attr()
    .u32(0, program.fd).u32(8, options.data.length).u32(12, dataOut.length)
    .ptr(16, options.data).ptr(24, dataOut).u32(32, options.repeat ?? 1)
    .u32(40, options.ctxIn?.length ?? 0).u32(44, ctxOut?.length ?? 0).ptr(48, options.ctxIn).ptr(56, ctxOut);
  bpf('PROG_TEST_RUN', attr, `program ${program.name}`);
  const out: TestRunResult = {
    retval: attr.view.getInt32(4, true),
    duration: attr.getU32(36),
    dataOut: dataOut.slice(0, attr.getU32(12)),
  };
  if (ctxOut) out.ctxOut = ctxOut.slice(0, attr.getU32(44));
  return out;
}
