/**
 * Attach a `sched_cls` program to a network interface's ingress or egress: tcx links
 * (`BPF_LINK_CREATE`, kernel >= 6.6) when available, else a clsact qdisc plus a direct-action
 * cls_bpf filter installed with the `tc` command. Everything runs inside `netns` when given;
 * the root namespace is only touched when the caller names a root-namespace interface.
 *
 * tc mode reads before it writes: one `tc -j -batch` reads the qdisc and filters of every hook
 * involved, a caller's `onIntent` hook runs before the first change (so a crash at any later
 * point leaves a record of what may be attached), and one `tc -batch` makes every change. The
 * program is pinned for a moment where the caller says (`pinDir`, e.g. under its own pin
 * directory, so that a crash cannot strand the pin elsewhere); this module never mounts a bpffs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { getBpfBinding } from './binding.js';
import { BpfError, BpfSyscallError, NotSupportedError } from './errors.js';
import { BPFFS, getPinned, pinObject, unpin } from './pin.js';
import type { BpfProgram } from './program.js';
import { Attr, bpf, bpfRaw, closeFd } from './syscall.js';
import { netnsPath, withNetns } from './netns.js';

export const BPF_TCX_INGRESS = 46;
export const BPF_TCX_EGRESS = 47;
const EINVAL = 22;
const ENODEV = 19;

export type TcDirection = 'ingress' | 'egress';

export interface AttachTcOptions {
  program: BpfProgram;
  direction: TcDirection;
  /** The interface, by index (in `netns`) ... */
  ifindex?: number;
  /** ... or by name. */
  ifname?: string;
  /** A network namespace: a name under /run/netns (as `ip netns add` makes) or a path. */
  netns?: string;
  /** `auto` (default): tcx when the kernel has it, else tc; `tcx` or `tc` to force one. */
  mode?: 'auto' | 'tcx' | 'tc';
  /** cls_bpf filter priority for the `tc` mode (default 1); the handle is 1. */
  priority?: number;
  /**
   * `tc` mode only: a directory inside a mounted bpffs where the program is pinned for a moment
   * so that `tc` can take it (created when missing; the pin is removed once the filter holds the
   * program). Default: `bpffs`.
   */
  pinDir?: string;
  /** `tc` mode only: the bpffs for that pin when `pinDir` is not given (default /sys/fs/bpf; never mounted here). */
  bpffs?: string;
  /**
   * `tc` mode only: `tc filter replace` instead of `add`, so that an existing filter at the same
   * priority and handle is swapped for this program atomically (default false).
   */
  replace?: boolean;
  /**
   * `tc` mode only: a filter already at this priority and handle 1 is replaced when this returns
   * true for it (say, it runs a program of the caller's); otherwise attaching fails with
   * `BPF_ATTACH` naming that filter, and nothing is changed.
   */
  adopt?: (existing: TcFilter) => boolean;
  /**
   * `tc` mode only: called after the hook was read and before the first change (a clsact qdisc
   * or the filter), with what is about to change. Record it here: a crash after this point then
   * leaves a record of a filter (and qdisc) that may be in place. Throwing aborts, changing nothing.
   */
  onIntent?: (intent: TcIntent) => void;
}

/** What a tc-mode attach is about to change (see `AttachTcOptions.onIntent`). */
export interface TcIntent {
  readonly ifname: string;
  readonly ifindex: number;
  readonly direction: TcDirection;
  /** The clsact qdisc is missing and will be created. */
  readonly createsQdisc: boolean;
  /** The filter it is about to replace, when one is there. */
  readonly replaces?: TcFilter;
}

/** An attachment; `detach()` removes it (idempotent). Closing the process also removes tcx links. */
export interface TcLink {
  readonly kind: 'tcx' | 'tc';
  readonly ifindex: number;
  readonly direction: TcDirection;
  /** `tc` mode: whether this attach created the clsact qdisc (so a final detach may remove it). */
  readonly createdQdisc?: boolean;
  /**
   * `tcx` mode: pin the link in bpffs so that it outlives this process (a tcx link is removed
   * when its last fd, pin and holder are gone). Throws `BPF_INVALID_ARGUMENT` in `tc` mode,
   * whose filters outlive the process by themselves.
   */
  pin(path: string): void;
  /**
   * Drop this process's handle without detaching: a pinned tcx link (or a tc filter) stays
   * attached; an unpinned tcx link goes away with its last fd.
   */
  release(): void;
  detach(): void;
  /** Same as `detach()`. */
  close(): void;
  [Symbol.dispose](): void;
}

let tcxCache: boolean | undefined;

/**
 * Whether the kernel has tcx: `BPF_LINK_CREATE` with `BPF_TCX_INGRESS` on ifindex 0 answers
 * ENODEV when it does (EINVAL when the attach type is unknown). Attaches nothing anywhere.
 */
export function hasTcx(): boolean {
  if (tcxCache !== undefined) return tcxCache;
  const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  const license = new TextEncoder().encode('GPL\0');
  const fd = bpf('PROG_LOAD', new Attr().u32(0, 3).u32(4, 2).ptr(8, insns).ptr(16, license), 'tcx probe program');
  try {
    const r = bpfRaw('LINK_CREATE', new Attr().u32(0, fd).u32(4, 0).u32(8, BPF_TCX_INGRESS));
    if (r >= 0) {
      closeFd(r);
      tcxCache = true;
    } else {
      tcxCache = r === -ENODEV;
    }
  } finally {
    closeFd(fd);
  }
  return tcxCache;
}

function resolveIfindex(options: Pick<AttachTcOptions, 'ifindex' | 'ifname' | 'netns'>): number {
  if (options.ifindex !== undefined) return options.ifindex;
  if (!options.ifname) throw new BpfError('BPF_INVALID_ARGUMENT', 'attachTc needs ifindex or ifname');
  const idx = withNetns(options.netns, () => getBpfBinding().ifNameToIndex(options.ifname!));
  if (idx === 0) throw new BpfError('BPF_ATTACH', `interface ${options.ifname} not found${options.netns ? ` in netns ${options.netns}` : ''}`);
  return idx;
}

/** Attach `program` to tc ingress/egress of an interface. */
export function attachTc(options: AttachTcOptions): TcLink {
  const mode = options.mode ?? 'auto';
  const ifindex = resolveIfindex(options);
  if (mode === 'tcx' || (mode === 'auto' && hasTcx())) {
    const attachType = options.direction === 'ingress' ? BPF_TCX_INGRESS : BPF_TCX_EGRESS;
    const r = withNetns(options.netns, () =>
      bpfRaw('LINK_CREATE', new Attr().u32(0, options.program.fd).u32(4, ifindex).u32(8, attachType)));
    if (r < 0) {
      if (r === -EINVAL && mode === 'tcx') throw new NotSupportedError('tcx (BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS)');
      if (!(r === -EINVAL && mode === 'auto')) {
        throw new BpfSyscallError('BPF_LINK_CREATE', -r, `tcx ${options.direction} on ifindex ${ifindex}`);
      }
    } else {
      let fd = r;
      const detach = (): void => {
        if (fd < 0) return;
        bpfRaw('LINK_DETACH', new Attr().u32(0, fd));
        closeFd(fd);
        fd = -1;
      };
      const pin = (path: string): void => {
        if (fd < 0) throw new BpfError('BPF_INVALID_ARGUMENT', 'tcx link is detached');
        pinObject(fd, path);
      };
      const release = (): void => {
        closeFd(fd);
        fd = -1;
      };
      return { kind: 'tcx', ifindex, direction: options.direction, pin, release, detach, close: detach, [Symbol.dispose]: detach };
    }
  }
  return attachClsBpf(options, ifindex);
}

function tcArgv(netns: string | undefined, cmd: string, args: readonly string[]): string[] {
  return netns ? ['nsenter', `--net=${netnsPath(netns)}`, cmd, ...args] : [cmd, ...args];
}

function run(netns: string | undefined, cmd: string, args: readonly string[], input?: string): string {
  const argv = tcArgv(netns, cmd, args);
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(input !== undefined ? { input } : {}) });
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? '';
    throw new BpfError('BPF_ATTACH', `${argv.join(' ')} failed: ${stderr.trim() || (cause as Error).message}`, { cause });
  }
}

/** A word `tc -batch` reads back unchanged (its line parser knows quotes and `#` comments). */
const batchSafe = (s: string): boolean => /^[^\s"'#\\]+$/.test(s);

/**
 * Runs tc commands: one `tc -batch -` when every word is batch-safe, else one `tc` each. With
 * `keepGoing`, every command is tried and failures are returned; otherwise the first failure
 * throws `BPF_ATTACH` naming the command (the earlier ones took effect).
 */
function runTcCommands(netns: string | undefined, commands: readonly (readonly string[])[], keepGoing = false): string[] {
  if (commands.length === 0) return [];
  if (commands.every((c) => c.every(batchSafe))) {
    const argv = tcArgv(netns, 'tc', [...(keepGoing ? ['-force'] : []), '-batch', '-']);
    const r = spawnSync(argv[0]!, argv.slice(1), { input: commands.map((c) => c.join(' ')).join('\n') + '\n', encoding: 'utf8' });
    if (r.error) throw new BpfError('BPF_ATTACH', `${argv.join(' ')}: ${r.error.message}`, { cause: r.error });
    if (r.status === 0) return [];
    const stderr = (r.stderr ?? '').trim();
    if (keepGoing) return [stderr];
    const line = Number(/Command failed -:(\d+)/.exec(stderr)?.[1] ?? 0);
    const failed = line > 0 ? `tc ${commands[line - 1]!.join(' ')}` : argv.join(' ');
    throw new BpfError('BPF_ATTACH', `${failed}${netns ? ` (netns ${netns})` : ''} failed: ${stderr.replace(/\n?Command failed -:\d+/, '')}`);
  }
  const errors: string[] = [];
  for (const c of commands) {
    try {
      run(netns, 'tc', c);
    } catch (e) {
      if (!keepGoing) throw e;
      errors.push((e as Error).message);
    }
  }
  return errors;
}

/** One tc filter, as `tc -j filter show` reports it. */
export interface TcFilter {
  readonly priority: number;
  readonly handle: number;
  readonly kind: string;
  readonly chain: number;
  /** cls_bpf: the program's kernel id, name and tag. */
  readonly programId?: number;
  readonly programName?: string;
  readonly programTag?: string;
}

/** The tc state of one interface: whether it exists, has a clsact qdisc, and its filters. */
export interface TcHookState {
  readonly ifname: string;
  readonly exists: boolean;
  readonly clsact: boolean;
  readonly ingress: readonly TcFilter[];
  readonly egress: readonly TcFilter[];
}

function parseFilters(json: string): TcFilter[] {
  const rows = JSON.parse(json || '[]') as Array<{ pref?: number; kind?: string; chain?: number; options?: { handle?: string; prog?: { id?: number; name?: string; tag?: string } } }>;
  return rows
    .filter((r) => r.options?.handle !== undefined)
    .map((r) => ({
      priority: r.pref ?? 0,
      handle: Number.parseInt(r.options!.handle!, 16),
      kind: r.kind ?? '',
      chain: r.chain ?? 0,
      ...(r.options?.prog?.id !== undefined ? { programId: r.options.prog.id } : {}),
      ...(r.options?.prog?.name !== undefined ? { programName: r.options.prog.name } : {}),
      ...(r.options?.prog?.tag !== undefined ? { programTag: r.options.prog.tag } : {}),
    }));
}

function parseClsact(json: string): boolean {
  return (JSON.parse(json || '[]') as Array<{ kind?: string }>).some((q) => q.kind === 'clsact');
}

function readOneHook(netns: string | undefined, ifname: string): TcHookState {
  let qdiscs: string;
  try {
    qdiscs = run(netns, 'tc', ['-j', 'qdisc', 'show', 'dev', ifname]);
  } catch (e) {
    if (/Cannot find device|No such device/.test((e as Error).message)) return { ifname, exists: false, clsact: false, ingress: [], egress: [] };
    throw e;
  }
  const clsact = parseClsact(qdiscs);
  if (!clsact) return { ifname, exists: true, clsact, ingress: [], egress: [] };
  return {
    ifname, exists: true, clsact,
    ingress: parseFilters(run(netns, 'tc', ['-j', 'filter', 'show', 'dev', ifname, 'ingress'])),
    egress: parseFilters(run(netns, 'tc', ['-j', 'filter', 'show', 'dev', ifname, 'egress'])),
  };
}

/**
 * Reads the clsact qdisc and the ingress and egress filters of each interface (in `netns`) with
 * one `tc -j -batch` (one `tc` per interface when one has vanished meanwhile). Reads only.
 */
export function readTcHooks(options: { readonly netns?: string; readonly ifnames: readonly string[] }): Map<string, TcHookState> {
  const names = [...new Set(options.ifnames)];
  const out = new Map<string, TcHookState>();
  if (names.length === 0) return out;
  if (names.every(batchSafe)) {
    const argv = tcArgv(options.netns, 'tc', ['-j', '-batch', '-']);
    const input = names.map((n) => `qdisc show dev ${n}\nfilter show dev ${n} ingress\nfilter show dev ${n} egress\n`).join('');
    const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8' });
    if (r.error) throw new BpfError('BPF_ATTACH', `${argv.join(' ')}: ${r.error.message}`, { cause: r.error });
    const lines = (r.stdout ?? '').split('\n').filter((l) => l.trim() !== '');
    if (r.status === 0 && lines.length === 3 * names.length) {
      names.forEach((ifname, i) => {
        const clsact = parseClsact(lines[3 * i]!);
        out.set(ifname, { ifname, exists: true, clsact, ingress: parseFilters(lines[3 * i + 1]!), egress: parseFilters(lines[3 * i + 2]!) });
      });
      return out;
    }
  }
  for (const ifname of names) out.set(ifname, readOneHook(options.netns, ifname));
  return out;
}

/** One filter for `installTcFilters`. */
export interface TcFilterInstall {
  readonly ifname: string;
  readonly direction: TcDirection;
  /** `tc filter replace` (swaps an existing filter at the priority/handle atomically, or adds) instead of `add`. */
  readonly replace?: boolean;
}

export interface InstallTcFiltersOptions {
  readonly program: BpfProgram;
  readonly netns?: string;
  /** cls_bpf priority (default 1); the handle is 1. */
  readonly priority?: number;
  /** A directory inside a mounted bpffs for the moment's pin (created when missing). */
  readonly pinDir: string;
  /** Interfaces that get a clsact qdisc first. */
  readonly qdiscs?: readonly string[];
  readonly filters: readonly TcFilterInstall[];
}

/**
 * Creates the clsact qdiscs named, then puts `program` on every hook as a direct-action cls_bpf
 * filter, in one `tc -batch`. Throws `BPF_ATTACH` naming the first command that failed (the ones
 * before it took effect). The program's temporary pin is removed in every case.
 */
export function installTcFilters(options: InstallTcFiltersOptions): void {
  if (options.filters.length === 0 && (options.qdiscs ?? []).length === 0) return;
  const prio = String(options.priority ?? 1);
  // bpffs forbids dots in names; the pid tells a leftover of a killed process from a live one.
  const pin = join(options.pinDir, `tc-${process.pid}-${randomBytes(4).toString('hex')}`);
  options.program.pin(pin);
  try {
    runTcCommands(options.netns, [
      ...(options.qdiscs ?? []).map((ifname) => ['qdisc', 'add', 'dev', ifname, 'clsact']),
      ...options.filters.map((f) => ['filter', f.replace ? 'replace' : 'add', 'dev', f.ifname, f.direction, 'prio', prio, 'handle', '1', 'bpf', 'direct-action', 'object-pinned', pin]),
    ]);
  } finally {
    unpin(pin);
  }
}

export interface RemoveTcFiltersOptions {
  readonly netns?: string;
  /** cls_bpf priority (default 1); the handle is 1. */
  readonly priority?: number;
  readonly filters: readonly { readonly ifname: string; readonly direction: TcDirection }[];
  /** clsact qdiscs to delete after the filters. */
  readonly qdiscs?: readonly string[];
}

/**
 * Deletes the filters at the priority (handle 1) and then the clsact qdiscs named, in one
 * `tc -batch` that goes on past failures; then reads back and throws `BPF_ATTACH` only when
 * something is still there (a filter or qdisc already gone is fine).
 */
export function removeTcFilters(options: RemoveTcFiltersOptions): void {
  const prio = options.priority ?? 1;
  const qdiscs = options.qdiscs ?? [];
  const errors = runTcCommands(options.netns, [
    ...options.filters.map((f) => ['filter', 'del', 'dev', f.ifname, f.direction, 'prio', String(prio), 'handle', '1', 'bpf']),
    ...qdiscs.map((ifname) => ['qdisc', 'del', 'dev', ifname, 'clsact']),
  ], true);
  if (errors.length === 0) return;
  const after = readTcHooks({ ifnames: [...options.filters.map((f) => f.ifname), ...qdiscs], ...(options.netns ? { netns: options.netns } : {}) });
  const left = [
    ...options.filters.filter((f) => after.get(f.ifname)?.[f.direction].some((x) => x.priority === prio && x.handle === 1)).map((f) => `filter ${f.ifname} ${f.direction}`),
    ...qdiscs.filter((q) => after.get(q)?.clsact).map((q) => `clsact qdisc of ${q}`),
  ];
  if (left.length > 0) throw new BpfError('BPF_ATTACH', `could not remove ${left.join(', ')}${options.netns ? ` in netns ${options.netns}` : ''}: ${errors.join('; ')}`);
}

/** `existing` as a person reads it: "bpf program gingham_tc (id 42)". */
export function describeTcFilter(f: TcFilter): string {
  return `${f.kind}${f.programName !== undefined ? ` program ${f.programName}` : ''}${f.programId !== undefined ? ` (id ${f.programId})` : ''}`;
}

function ifnameOf(netns: string | undefined, ifindex: number): string {
  const links = JSON.parse(run(netns, 'ip', ['-j', 'link', 'show'])) as Array<{ ifindex: number; ifname: string }>;
  const ifname = links.find((l) => l.ifindex === ifindex)?.ifname;
  if (!ifname) throw new BpfError('BPF_ATTACH', `interface ${ifindex} not found${netns ? ` in netns ${netns}` : ''}`);
  return ifname;
}

function attachClsBpf(options: AttachTcOptions, ifindex: number): TcLink {
  const ifname = options.ifname ?? ifnameOf(options.netns, ifindex);
  const prio = options.priority ?? 1;
  const { direction, netns } = options;
  const state = readTcHooks({ ifnames: [ifname], ...(netns ? { netns } : {}) }).get(ifname)!;
  if (!state.exists) throw new BpfError('BPF_ATTACH', `interface ${ifname} not found${netns ? ` in netns ${netns}` : ''}`);
  const existing = state[direction].find((f) => f.priority === prio && f.handle === 1);
  let replace = options.replace === true;
  if (existing && !replace) {
    if (!options.adopt?.(existing)) {
      throw new BpfError('BPF_ATTACH', `${ifname} ${direction}${netns ? ` (netns ${netns})` : ''} already has a tc filter at priority ${prio} handle 1 (${describeTcFilter(existing)}); remove it or choose another priority`);
    }
    replace = true;
  }
  const createdQdisc = !state.clsact;
  options.onIntent?.({ ifname, ifindex, direction, createsQdisc: createdQdisc, ...(existing ? { replaces: existing } : {}) });
  try {
    installTcFilters({
      program: options.program, priority: prio, pinDir: options.pinDir ?? options.bpffs ?? BPFFS,
      qdiscs: createdQdisc ? [ifname] : [], filters: [{ ifname, direction, replace }], ...(netns ? { netns } : {}),
    });
  } catch (e) {
    if (createdQdisc) try { removeTcFilters({ filters: [], qdiscs: [ifname], ...(netns ? { netns } : {}) }); } catch { /* best effort */ }
    throw e;
  }
  let attached = true;
  const detach = (): void => {
    if (!attached) return;
    attached = false;
    detachTcFilter({ ifname, direction, priority: prio, removeEmptyQdisc: createdQdisc, ...(netns ? { netns } : {}) });
  };
  const pin = (): void => {
    throw new BpfError('BPF_INVALID_ARGUMENT', 'only tcx links can be pinned (tc filters outlive the process by themselves)');
  };
  const release = (): void => {
    attached = false;
  };
  return { kind: 'tc', ifindex, direction, createdQdisc, pin, release, detach, close: detach, [Symbol.dispose]: detach };
}

/** What is attached at one tcx hook (`BPF_PROG_QUERY`), in run order. */
export interface TcxQueryResult {
  readonly programIds: readonly number[];
  readonly linkIds: readonly number[];
}

/**
 * The programs and links attached at tcx ingress or egress of an interface (in `netns`). Reads
 * only; an interface without tcx programs gives empty lists.
 */
export function queryTcx(options: { ifname?: string; ifindex?: number; netns?: string; direction: TcDirection }): TcxQueryResult {
  const ifindex = resolveIfindex(options);
  const attachType = options.direction === 'ingress' ? BPF_TCX_INGRESS : BPF_TCX_EGRESS;
  const MAX = 64;
  const progs = new Uint8Array(4 * MAX);
  const links = new Uint8Array(4 * MAX);
  const attr = new Attr().u32(0, ifindex).u32(4, attachType).ptr(16, progs).u32(24, MAX).ptr(40, links);
  withNetns(options.netns, () => bpf('PROG_QUERY', attr, `tcx ${options.direction} on ifindex ${ifindex}`));
  const count = attr.getU32(24);
  const ids = (b: Uint8Array): number[] => Array.from({ length: Math.min(count, MAX) }, (_, i) => new DataView(b.buffer).getUint32(4 * i, true));
  return { programIds: ids(progs), linkIds: ids(links) };
}

/**
 * Replace the program of a pinned tcx link (`BPF_LINK_UPDATE`): atomic, the interface never runs
 * without a program. Throws `BpfSyscallError` with `ENOLINK` when the link's interface is gone.
 */
export function updatePinnedTcxLink(path: string, program: BpfProgram): void {
  const fd = getPinned(path);
  try {
    bpf('LINK_UPDATE', new Attr().u32(0, fd).u32(4, program.fd), `tcx link ${path}`);
  } finally {
    closeFd(fd);
  }
}

/**
 * What a pinned tcx link runs and where (`BPF_OBJ_GET_INFO_BY_FD` on the link): the kernel id of
 * its program and its interface's ifindex, 0 once the link is detached (its interface deleted, or
 * `bpftool link detach`). Reads only: unlike a `BPF_LINK_UPDATE` probe it waits for no RCU grace
 * period.
 */
export function pinnedTcxLinkInfo(path: string): { readonly programId: number; readonly ifindex: number } {
  const fd = getPinned(path);
  try {
    // struct bpf_link_info: type, id, prog_id, then a union aligned to 8 whose tcx member is { ifindex, attach_type }.
    const info = new Uint8Array(64);
    bpf('OBJ_GET_INFO_BY_FD', new Attr().u32(0, fd).u32(4, info.length).ptr(8, info), `info of tcx link ${path}`);
    const v = new DataView(info.buffer);
    return { programId: v.getUint32(8, true), ifindex: v.getUint32(16, true) };
  } finally {
    closeFd(fd);
  }
}

/** The kernel id of a loaded program (`BPF_OBJ_GET_INFO_BY_FD`). */
export function programId(program: BpfProgram): number {
  const info = new Uint8Array(16);
  bpf('OBJ_GET_INFO_BY_FD', new Attr().u32(0, program.fd).u32(4, info.length).ptr(8, info), `info of program ${program.name}`);
  return new DataView(info.buffer).getUint32(4, true);
}

/**
 * Detach a pinned tcx link and remove the pin. A missing pin is fine; a link whose interface is
 * already gone is just unpinned. Returns whether a link was detached from a live hook.
 */
export function detachPinnedTcxLink(path: string): boolean {
  let fd: number;
  try {
    fd = getPinned(path);
  } catch (e) {
    if (e instanceof BpfSyscallError && e.errnoName === 'ENOENT') return false;
    throw e;
  }
  try {
    return bpfRaw('LINK_DETACH', new Attr().u32(0, fd)) === 0;
  } finally {
    closeFd(fd);
    unpin(path);
  }
}

export interface TcFilterRef {
  /** The interface name (in `netns`). */
  ifname: string;
  direction: TcDirection;
  /** A network namespace name under /run/netns, or a path. */
  netns?: string;
  /** Filter priority (default 1); the handle is 1, as `attachTc` installs it. */
  priority?: number;
  /** Also delete the clsact qdisc when no filter is left in either direction. */
  removeEmptyQdisc?: boolean;
  /** Delete the filter found there only when this accepts it (say, it runs a program of the caller's). */
  match?: (filter: TcFilter) => boolean;
}

/** What `detachTcFilter` removed. */
export interface TcDetachResult {
  readonly filterRemoved: boolean;
  readonly qdiscRemoved: boolean;
}

/**
 * Delete a cls_bpf filter installed by `attachTc` in `tc` mode (e.g. by another process). A
 * missing interface, qdisc or filter is fine (idempotent); says what it removed.
 */
export function detachTcFilter(ref: TcFilterRef): TcDetachResult {
  const prio = ref.priority ?? 1;
  const netns = ref.netns ? { netns: ref.netns } : {};
  const state = readTcHooks({ ifnames: [ref.ifname], ...netns }).get(ref.ifname)!;
  if (!state.exists || !state.clsact) return { filterRemoved: false, qdiscRemoved: false };
  const found = state[ref.direction].find((f) => f.priority === prio && f.handle === 1);
  const filterRemoved = found !== undefined && (ref.match?.(found) ?? true);
  const rest = [...state.ingress, ...state.egress].filter((f) => !(filterRemoved && f === found));
  const qdiscRemoved = ref.removeEmptyQdisc === true && rest.length === 0;
  removeTcFilters({ filters: filterRemoved ? [ref] : [], qdiscs: qdiscRemoved ? [ref.ifname] : [], priority: prio, ...netns });
  return { filterRemoved, qdiscRemoved };
}
