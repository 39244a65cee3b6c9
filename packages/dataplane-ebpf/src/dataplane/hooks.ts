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
  updatePinnedTcxLink,
  type BpfProgram,
  type TcDirection,
} from '@gingham/ebpf-loader';
import type { PinnedAttachment } from './pins.js';
import { attachTcHooks, detachHooks, type DetachedHook, type TcContext, type TcFresh } from './tc-hooks.js';

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
 * Puts `program` on both hooks of every interface of `want` and takes it off the others. With
 * `swap`, hooks that hold an older program get this one atomically. A hook whose interface
 * was deleted and recreated under the same name is attached anew: tcx links are probed
 * (`BPF_LINK_UPDATE` answers ENOLINK once their interface is gone), tc markers carry the
 * ifindex. tc hooks are read once and changed in one `tc -batch`, intent recorded first.
 * `pending` is refilled with the wanted interfaces that do not exist yet.
 */
export function reconcileHooks(ctx: HookContext, program: BpfProgram, want: readonly string[], swap: boolean, pending: Set<string>): void {
  const { layout } = ctx.tc;
  const pinned = layout.attachments();
  const idx = ctx.ifindexes([...new Set([...want, ...pinned.map((a) => a.ifname)])]);
  const byHook = new Map(pinned.map((a) => [`${a.direction} ${a.ifname}`, a]));
  const useTcx = ctx.mode === 'tcx' || (ctx.mode === 'auto' && hasTcx());
  const tcFresh: TcFresh[] = [];
  const tcSwaps: PinnedAttachment[] = [];
  const gone: PinnedAttachment[] = [];
  pending.clear();
  for (const ifname of want) {
    const ifindex = idx.get(ifname) ?? 0;
    if (ifindex === 0) pending.add(ifname);
    for (const direction of DIRECTIONS) {
      const a = byHook.get(`${direction} ${ifname}`);
      byHook.delete(`${direction} ${ifname}`);
      if (ifindex === 0) {
        if (a) gone.push(a);
        continue;
      }
      if (a?.kind === 'tcx') {
        try {
          updatePinnedTcxLink(a.path, program);
          continue;
        } catch (e) {
          if (!(e instanceof BpfSyscallError && e.errnoName === 'ENOLINK')) throw e;
          detachPinnedTcxLink(a.path); // the interface was recreated: attach anew
        }
      } else if (a?.kind === 'tc') {
        if (!a.pending && a.ifindex === ifindex) {
          if (swap) tcSwaps.push(a);
          continue;
        }
        // Not confirmed (a killed run), or the interface was recreated (its filter went with the
        // old one): attach anew, in the mode it was recorded in.
        tcFresh.push({ ifname, direction, ifindex, stale: a });
        continue;
      }
      if (useTcx) attachTcxFresh(ctx, program, ifname, direction);
      else tcFresh.push({ ifname, direction, ifindex });
    }
  }
  attachTcHooks(ctx.tc, program, tcFresh, tcSwaps, pending);
  detachRecorded(ctx, [...gone, ...byHook.values()]);
}
