/**
 * Hook reconciliation: puts a generation's program on the tc ingress and egress hooks of every
 * wanted interface and takes it off the others, tcx links or tc cls_bpf filters, every change
 * recorded in the instance's pins first (pins.ts, tc-hooks.ts). It must never touch a hook that
 * is neither wanted nor recorded in the pins, and never leave a hook without a program while it
 * swaps one: tcx links are updated in place (`BPF_LINK_UPDATE`), tc filters replaced at the same
 * priority/handle.
 */
import {
  attachTc,
  BpfSyscallError,
  detachPinnedTcxLink,
  hasTcx,
  pinnedTcxLinkInfo,
  programId,
  updatePinnedTcxLink,
  type BpfProgram,
  type TcDirection,
} from '@gingham/ebpf-loader';
import type { PinnedAttachment } from './pins.js';
import { attachTcHooks, detachHooks, driftedTcHooks, type DetachedHook, type TcContext, type TcFresh } from './tc-hooks.js';

export type AttachMode = 'auto' | 'tcx' | 'tc';

const DIRECTIONS: readonly TcDirection[] = ['ingress', 'egress'];

/** Where and how an instance attaches. */
export interface HookContext {
  readonly tc: TcContext;
  readonly mode: AttachMode;
  /** The ifindex of each name in the instance's namespace (0: no such interface). */
  readonly ifindexes: (names: readonly string[]) => Map<string, number>;
}

/**
 * Takes the program off `list` (recorded hooks) and `extra` (tc hooks running a program of this
 * instance with no record); says what it removed.
 */
export function detachRecorded(
  ctx: HookContext,
  list: readonly PinnedAttachment[],
  extra: readonly { ifname: string; direction: TcDirection }[] = [],
): { detached: DetachedHook[]; qdiscsDeleted: string[] } {
  return detachHooks(ctx.tc, list, { detachTcx: detachPinnedTcxLink, ifindexes: ctx.ifindexes }, extra);
}

function attachTcxFresh(ctx: HookContext, program: BpfProgram, ifname: string, direction: TcDirection): void {
  const { layout, netns, priority } = ctx.tc;
  const link = attachTc({ program, direction, ifname, mode: 'tcx', priority, ...(netns ? { netns } : {}) });
  try {
    link.pin(layout.tcxLink(ifname, direction));
  } catch (e) {
    link.detach();
    throw e;
  }
  link.release();
}

/**
 * The hooks this process knows to run the live generation's program: `<direction> <ifname>` ->
 * the ifindex it was attached or confirmed at. A full reconcile refills it; the quick one
 * (`reconcileChangedHooks`) touches only hooks that are not in it at their interface's current
 * ifindex, and those of interfaces no longer wanted.
 */
export type VerifiedHooks = Map<string, number>;

const hookKey = (direction: TcDirection, ifname: string): string => `${direction} ${ifname}`;

/**
 * Puts `program` on both hooks of every interface of `want` and takes it off the others. With
 * `swap`, hooks that hold an older program get this one atomically. A hook whose interface
 * was deleted and recreated under the same name is attached anew: tcx links are read (a link
 * already running `program` at the interface's ifindex is left as it is; else `BPF_LINK_UPDATE`,
 * which answers ENOLINK once their interface is gone), tc markers carry the ifindex and a
 * confirmed tc hook is read back (a filter gone or running another program is attached anew).
 * tc hooks are read once and changed in one `tc -batch`, intent recorded first.
 * `pending` is refilled with the wanted interfaces that do not exist yet; `verified` with the
 * hooks now known to run `program`.
 */
export function reconcileHooks(ctx: HookContext, program: BpfProgram, want: readonly string[], swap: boolean, pending: Set<string>, verified: VerifiedHooks): void {
  verified.clear();
  pending.clear();
  const pinned = ctx.tc.layout.attachments();
  reconcileSome(ctx, program, want, pinned, ctx.ifindexes([...new Set([...want, ...pinned.map((a) => a.ifname)])]), swap, pending, verified);
}

/**
 * The quick re-check after endpoint or interface changes: only the interfaces whose hooks are
 * not verified at their current ifindex (new, recreated or renamed ones, ones that were
 * pending) and the verified ones no longer wanted are reconciled, as `reconcileHooks` would;
 * every other hook is left untouched (no pin read, no syscall on it). One ifindex lookup per
 * wanted interface. Drift outside this process's view (a hook removed by hand at the same
 * ifindex) is what the periodic full `reconcileHooks` repairs.
 */
export function reconcileChangedHooks(ctx: HookContext, program: BpfProgram, want: readonly string[], pending: Set<string>, verified: VerifiedHooks): void {
  const wanted = new Set(want);
  const known = new Set([...verified.keys()].map((k) => k.slice(k.indexOf(' ') + 1)));
  const idx = ctx.ifindexes([...new Set([...want, ...known])]);
  const check = new Set<string>();
  pending.clear();
  for (const ifname of want) {
    const ifindex = idx.get(ifname) ?? 0;
    if (ifindex === 0) pending.add(ifname);
    // Still missing and never attached: nothing to do (a pin of a killed run is the full reconcile's).
    if (ifindex === 0 && !known.has(ifname)) continue;
    if (DIRECTIONS.some((d) => verified.get(hookKey(d, ifname)) !== ifindex)) check.add(ifname);
  }
  for (const ifname of known) if (!wanted.has(ifname)) check.add(ifname);
  if (check.size === 0) return;
  const pinned = ctx.tc.layout.attachments().filter((a) => check.has(a.ifname));
  reconcileSome(ctx, program, want.filter((n) => check.has(n)), pinned, idx, false, pending, verified);
}

/** An interface the kernel reported changed (an rtnetlink link or address event), as reported. */
export interface InterfaceChange {
  /** Its name at the time of the event. */
  readonly name: string;
  /** Its ifindex, when the event carried one. */
  readonly index?: number;
}

/**
 * The re-check after the kernel reported `changes` (and nothing else changed): like
 * `reconcileChangedHooks`, restricted to the reported names and to the hooks this process
 * verified at a reported ifindex (an interface renamed away from a wanted name). No listing of
 * the namespace's interfaces, no lookup of the other wanted names, no listing of the link pins:
 * a new interface costs two name lookups, two pin lookups and its two attaches. Sound only when
 * every change since the last re-check is reported (the caller falls back to
 * `reconcileChangedHooks` or the full reconcile when events were lost).
 */
export function reconcileReportedHooks(ctx: HookContext, program: BpfProgram, want: readonly string[], changes: readonly InterfaceChange[], pending: Set<string>, verified: VerifiedHooks): void {
  const wanted = new Set(want);
  const indexes = new Set(changes.flatMap((c) => (c.index !== undefined ? [c.index] : [])));
  const names = new Set(changes.map((c) => c.name));
  for (const [key, ifindex] of verified) if (indexes.has(ifindex)) names.add(key.slice(key.indexOf(' ') + 1));
  const known = new Set([...verified.keys()].map((k) => k.slice(k.indexOf(' ') + 1)));
  for (const n of names) if (!wanted.has(n)) pending.delete(n);
  const relevant = [...names].filter((n) => wanted.has(n) || known.has(n));
  if (relevant.length === 0) return;
  const idx = ctx.ifindexes(relevant);
  const check = new Set<string>();
  for (const ifname of relevant) {
    const ifindex = idx.get(ifname) ?? 0;
    if (!wanted.has(ifname)) {
      check.add(ifname);
      continue;
    }
    if (ifindex === 0) pending.add(ifname);
    else pending.delete(ifname);
    if (ifindex === 0 && !known.has(ifname)) continue;
    if (DIRECTIONS.some((d) => verified.get(hookKey(d, ifname)) !== ifindex)) check.add(ifname);
  }
  if (check.size === 0) return;
  reconcileSome(ctx, program, want.filter((n) => check.has(n)), ctx.tc.layout.attachmentsOf(check), idx, false, pending, verified);
}

/** Reconciles the hooks of `want` and `pinned` (nothing else); `pending` and `verified` are updated for them. */
function reconcileSome(ctx: HookContext, program: BpfProgram, want: readonly string[], pinned: readonly PinnedAttachment[], idx: ReadonlyMap<string, number>, swap: boolean, pending: Set<string>, verified: VerifiedHooks): void {
  const byHook = new Map(pinned.map((a) => [hookKey(a.direction, a.ifname), a]));
  const useTcx = ctx.mode === 'tcx' || (ctx.mode === 'auto' && hasTcx());
  const tcFresh: TcFresh[] = [];
  const tcSwaps: PinnedAttachment[] = [];
  const gone: PinnedAttachment[] = [];
  const tcDone: { key: string; ifname: string; ifindex: number }[] = [];
  const tcConfirmed: PinnedAttachment[] = [];
  let progId: number | undefined;
  for (const ifname of want) {
    const ifindex = idx.get(ifname) ?? 0;
    if (ifindex === 0) pending.add(ifname);
    for (const direction of DIRECTIONS) {
      const key = hookKey(direction, ifname);
      const a = byHook.get(key);
      byHook.delete(key);
      verified.delete(key);
      if (ifindex === 0) {
        if (a) gone.push(a);
        continue;
      }
      if (a?.kind === 'tcx') {
        // Not a swap: a link that runs this program on this interface needs nothing. Reading its
        // info costs no RCU grace period, unlike a BPF_LINK_UPDATE probe (one per hook).
        if (!swap) {
          const info = pinnedTcxLinkInfo(a.path);
          if (info.ifindex === ifindex && info.programId === (progId ??= programId(program))) {
            verified.set(key, ifindex);
            continue;
          }
        }
        try {
          updatePinnedTcxLink(a.path, program);
          verified.set(key, ifindex);
          continue;
        } catch (e) {
          if (!(e instanceof BpfSyscallError && e.errnoName === 'ENOLINK')) throw e;
          detachPinnedTcxLink(a.path); // the interface was recreated: attach anew
        }
      } else if (a?.kind === 'tc') {
        if (!a.pending && a.ifindex === ifindex) {
          if (swap) tcSwaps.push(a);
          else tcConfirmed.push(a);
          tcDone.push({ key, ifname, ifindex });
          continue;
        }
        // Not confirmed (a killed run), or the interface was recreated (its filter went with the
        // old one): attach anew, in the mode it was recorded in.
        tcFresh.push({ ifname, direction, ifindex, stale: a });
        tcDone.push({ key, ifname, ifindex });
        continue;
      }
      if (useTcx) {
        attachTcxFresh(ctx, program, ifname, direction);
        verified.set(key, ifindex);
      } else {
        tcFresh.push({ ifname, direction, ifindex });
        tcDone.push({ key, ifname, ifindex });
      }
    }
  }
  // A confirmed marker says what we did, not what is there now: a filter deleted or replaced
  // by hand at the same ifindex is attached anew (the fresh path refuses a foreign filter).
  for (const a of driftedTcHooks(ctx.tc, progId ?? programId(program), tcConfirmed)) {
    tcFresh.push({ ifname: a.ifname, direction: a.direction, ifindex: a.ifindex, stale: a });
  }
  attachTcHooks(ctx.tc, program, tcFresh, tcSwaps, pending);
  for (const h of tcDone) if (!pending.has(h.ifname)) verified.set(h.key, h.ifindex);
  const detach = [...gone, ...byHook.values()];
  for (const a of detach) verified.delete(hookKey(a.direction, a.ifname));
  detachRecorded(ctx, detach);
}
