/**
 * Attach a `sched_cls` program to a network interface's ingress or egress: tcx links
 * (`BPF_LINK_CREATE`, kernel >= 6.6) when available, else a clsact qdisc plus a direct-action
 * cls_bpf filter installed with the `tc` command. Everything runs inside `netns` when given;
 * the root namespace is only touched when the caller names a root-namespace interface.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { getBpfBinding } from './binding.js';
import { BpfError, BpfSyscallError, NotSupportedError } from './errors.js';
import { BPFFS, ensureBpffs, getPinned, pinObject, unpin } from './pin.js';
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
   * `tc` mode only: the bpffs in which the program is pinned for a moment so that `tc` can take
   * it (default /sys/fs/bpf, mounted if absent). The pin is removed once the filter holds it.
   */
  bpffs?: string;
  /**
   * `tc` mode only: `tc filter replace` instead of `add`, so that an existing filter at the same
   * priority and handle is swapped for this program atomically (default false).
   */
  replace?: boolean;
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

function run(netns: string | undefined, cmd: string, args: string[]): string {
  const argv = netns ? ['nsenter', `--net=${netnsPath(netns)}`, cmd, ...args] : [cmd, ...args];
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? '';
    throw new BpfError('BPF_ATTACH', `${argv.join(' ')} failed: ${stderr.trim()}`, { cause });
  }
}

function attachClsBpf(options: AttachTcOptions, ifindex: number): TcLink {
  const links = JSON.parse(run(options.netns, 'ip', ['-j', 'link', 'show'])) as Array<{ ifindex: number; ifname: string }>;
  const ifname = links.find((l) => l.ifindex === ifindex)?.ifname;
  if (!ifname) throw new BpfError('BPF_ATTACH', `interface ${ifindex} not found${options.netns ? ` in netns ${options.netns}` : ''}`);
  const prio = String(options.priority ?? 1);
  const qdiscs = run(options.netns, 'tc', ['qdisc', 'show', 'dev', ifname]);
  const createdQdisc = !/qdisc clsact/.test(qdiscs);
  if (createdQdisc) run(options.netns, 'tc', ['qdisc', 'add', 'dev', ifname, 'clsact']);
  // tc takes the program from a pin; the temporary pin is removed once the filter holds it.
  const bpffs = options.bpffs ?? BPFFS;
  ensureBpffs(bpffs);
  const tmpPin = `${bpffs}/gingham_tc_${process.pid}_${randomBytes(4).toString('hex')}`; // bpffs forbids dots in names
  try {
    options.program.pin(tmpPin);
    run(options.netns, 'tc', ['filter', options.replace ? 'replace' : 'add', 'dev', ifname, options.direction, 'prio', prio, 'handle', '1',
      'bpf', 'direct-action', 'object-pinned', tmpPin]);
  } catch (e) {
    if (createdQdisc) try { run(options.netns, 'tc', ['qdisc', 'del', 'dev', ifname, 'clsact']); } catch { /* best effort */ }
    throw e;
  } finally {
    unpin(tmpPin);
  }
  let attached = true;
  const detach = (): void => {
    if (!attached) return;
    attached = false;
    run(options.netns, 'tc', ['filter', 'del', 'dev', ifname, options.direction, 'prio', prio, 'handle', '1', 'bpf']);
    if (createdQdisc) {
      const rest = run(options.netns, 'tc', ['filter', 'show', 'dev', ifname, options.direction === 'ingress' ? 'egress' : 'ingress']);
      if (rest.trim() === '') run(options.netns, 'tc', ['qdisc', 'del', 'dev', ifname, 'clsact']);
    }
  };
  const pin = (): void => {
    throw new BpfError('BPF_INVALID_ARGUMENT', 'only tcx links can be pinned (tc filters outlive the process by themselves)');
  };
  const release = (): void => {
    attached = false;
  };
  return { kind: 'tc', ifindex, direction: options.direction, createdQdisc, pin, release, detach, close: detach, [Symbol.dispose]: detach };
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
 * Detach a pinned tcx link and remove the pin. A missing pin is fine; a link whose interface is
 * already gone is just unpinned.
 */
export function detachPinnedTcxLink(path: string): void {
  let fd: number;
  try {
    fd = getPinned(path);
  } catch (e) {
    if (e instanceof BpfSyscallError && e.errnoName === 'ENOENT') return;
    throw e;
  }
  try {
    bpfRaw('LINK_DETACH', new Attr().u32(0, fd));
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
}

/**
 * Delete a cls_bpf filter installed by `attachTc` in `tc` mode (e.g. by another process). A
 * missing interface, qdisc or filter is fine (idempotent).
 */
export function detachTcFilter(ref: TcFilterRef): void {
  const prio = String(ref.priority ?? 1);
  let qdiscs: string;
  try {
    qdiscs = run(ref.netns, 'tc', ['qdisc', 'show', 'dev', ref.ifname]);
  } catch {
    return; // no such interface
  }
  if (!/qdisc clsact/.test(qdiscs)) return;
  const shown = run(ref.netns, 'tc', ['filter', 'show', 'dev', ref.ifname, ref.direction, 'prio', prio]);
  if (shown.trim() !== '') run(ref.netns, 'tc', ['filter', 'del', 'dev', ref.ifname, ref.direction, 'prio', prio, 'handle', '1', 'bpf']);
  if (ref.removeEmptyQdisc) {
    const rest = run(ref.netns, 'tc', ['filter', 'show', 'dev', ref.ifname, 'ingress'])
      + run(ref.netns, 'tc', ['filter', 'show', 'dev', ref.ifname, 'egress']);
    if (rest.trim() === '') run(ref.netns, 'tc', ['qdisc', 'del', 'dev', ref.ifname, 'clsact']);
  }
}
