/**
 * tc-mode hooks of one instance, crash-safe: intent is recorded before the first change, every
 * change of one reconcile is one `tc -batch`, and a later run or `clean` finds every filter and
 * qdisc of ours — from its marker, or, with no marker, from the program it runs (a program
 * pinned under this instance). It never deletes a filter that runs another instance's program,
 * nor one that is not `gingham_tc`; Gingham filters that no instance in this bpffs owns are
 * reported with the command that removes them, not removed.
 *
 * Crash analysis (kill -9 between any two steps of an attach):
 *   1. read qdiscs and filters (tc -j -batch)       nothing changed
 *   2. markers `tc/pending-…` (mkdir)               markers with nothing behind them: clean removes
 *                                                    the markers and finds no filter
 *   3. pin the program at tmp/tc-<pid>-<hex>         + a stray pin under the instance: removed by
 *                                                    the next build and by clean
 *   4. tc -batch: qdisc add…, filter add|replace…    + qdiscs and filters the pending markers name
 *   5. unpin tmp, rename markers to confirmed        all recorded
 * A `tc` child may finish step 4 after its parent died; the markers of step 2 are already there.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  describeTcFilter,
  installTcFilters,
  netnsPath,
  pinnedObjectId,
  readTcHooks,
  removeTcFilters,
  type BpfProgram,
  type TcDirection,
  type TcFilter,
  type TcHookState,
} from '@gingham/ebpf-loader';
import { DATAPATH_PROGRAM } from '../datapath.js';
import { EbpfDataplaneError } from './errors.js';
import { PinLayout, type PinnedAttachment } from './pins.js';

/** Where the tc hooks of an instance live. */
export interface TcContext {
  readonly layout: PinLayout;
  readonly netns?: string;
  /** cls_bpf priority of our filters (handle 1). */
  readonly priority: number;
}

/** A hook to attach anew (no marker, a pending one, or one of a recreated interface). */
export interface TcFresh {
  readonly ifname: string;
  readonly direction: TcDirection;
  readonly ifindex: number;
  /** The marker it replaces (pending, or of the interface's previous incarnation). */
  readonly stale?: PinnedAttachment;
}

/** One hook the program was taken off. */
export interface DetachedHook {
  readonly ifname: string;
  readonly direction: TcDirection;
  readonly kind: 'tcx' | 'tc';
  /** tc: found by its program, with no marker (left by a crash of an older version). */
  readonly unrecorded?: boolean;
}

/** A `gingham_tc` filter at our priority that no instance in this bpffs owns. */
export interface OrphanFilter {
  readonly ifname: string;
  readonly direction: TcDirection;
  readonly programId?: number;
  /** The command that removes it (in the instance's network namespace). */
  readonly command: string;
}

/** Which instance's program a kernel program id is. */
export interface ProgramOwners {
  readonly mine: ReadonlySet<number>;
  /** id -> instance root of another instance in the same bpffs. */
  readonly others: ReadonlyMap<number, string>;
}

function programIdsUnder(root: string): number[] {
  const ids: number[] = [];
  const pins = [
    ...PinLayout.generationsIn(root).map((g) => join(root, `g${g}`, DATAPATH_PROGRAM)),
    ...(existsSync(join(root, 'tmp')) ? readdirSync(join(root, 'tmp')).map((f) => join(root, 'tmp', f)) : []),
  ];
  for (const p of pins) {
    try {
      ids.push(pinnedObjectId(p));
    } catch {
      // vanished meanwhile, or not a program
    }
  }
  return ids;
}

/** The ids of the programs pinned under this instance and under the other instances of its bpffs. */
export function programOwners(layout: PinLayout): ProgramOwners {
  const others = new Map<number, string>();
  for (const root of layout.siblings()) for (const id of programIdsUnder(root)) others.set(id, root);
  return { mine: new Set(programIdsUnder(layout.root)), others };
}

const netnsGone = (netns: string | undefined): boolean => netns !== undefined && !existsSync(netnsPath(netns));
const nsOpt = (netns: string | undefined): { netns?: string } => (netns ? { netns } : {});
const at = (f: TcFilter, priority: number): boolean => f.priority === priority && f.handle === 1;
const isGingham = (f: TcFilter): boolean => f.kind === 'bpf' && f.programName === DATAPATH_PROGRAM;

/**
 * Puts `program` on the fresh hooks and swaps it in on `swaps` (hooks already ours): reads
 * every hook once, refuses (`EBPF_HOOK_TAKEN`, before any change) a hook held by a filter at our
 * priority that is not ours to take over, records pending markers, makes every change in one
 * `tc -batch`, then confirms the markers. Interfaces that vanished meanwhile go to `missing`.
 */
export function attachTcHooks(ctx: TcContext, program: BpfProgram, fresh: readonly TcFresh[], swaps: readonly PinnedAttachment[], missing: Set<string>): void {
  if (fresh.length === 0 && swaps.length === 0) return;
  const { layout, netns, priority } = ctx;
  const hooks = readTcHooks({ ifnames: [...fresh, ...swaps].map((h) => h.ifname), ...nsOpt(netns) });
  let owners: ProgramOwners | undefined;
  const plan: Array<{ ifname: string; direction: TcDirection; ifindex: number; replace: boolean; stale?: PinnedAttachment; createsQdisc: boolean; keep?: PinnedAttachment }> = [];
  const qdiscs = new Set<string>();
  for (const s of swaps) {
    const st = hooks.get(s.ifname)!;
    if (!st.exists) {
      missing.add(s.ifname);
      continue;
    }
    // Our clsact went away (someone deleted it): attach anew, recording that the qdisc is ours now.
    if (!st.clsact) qdiscs.add(s.ifname);
    plan.push({ ifname: s.ifname, direction: s.direction, ifindex: s.ifindex, replace: true, createsQdisc: !st.clsact, ...(st.clsact ? { keep: s } : { stale: s }) });
  }
  for (const f of fresh) {
    const st: TcHookState = hooks.get(f.ifname)!;
    if (!st.exists) {
      missing.add(f.ifname);
      continue;
    }
    const existing = st[f.direction].find((x) => at(x, priority));
    if (existing) {
      owners ??= programOwners(layout);
      const id = existing.programId;
      const mine = id !== undefined && owners.mine.has(id);
      const other = id !== undefined ? owners.others.get(id) : undefined;
      if (!mine && (!isGingham(existing) || other !== undefined)) {
        throw new EbpfDataplaneError(
          'EBPF_HOOK_TAKEN',
          `gingham: ${f.ifname} ${f.direction}${netns ? ` (netns ${netns})` : ''} already has a tc filter at priority ${priority} handle 1 ` +
            `(${describeTcFilter(existing)}${other ? `, Gingham instance ${basename(other)}` : ''}) that is not this instance's; nothing was attached there. ` +
            (other ? `Clean that instance first (gingham enforce --clean --dataplane ebpf --name ${basename(other)}).` : `Remove it first: tc filter del dev ${f.ifname} ${f.direction} prio ${priority} handle 1 bpf`),
          { detail: [f.ifname, f.direction] },
        );
      }
    }
    const createsQdisc = !st.clsact;
    if (createsQdisc) qdiscs.add(f.ifname);
    plan.push({ ifname: f.ifname, direction: f.direction, ifindex: f.ifindex, replace: existing !== undefined, createsQdisc, ...(f.stale ? { stale: f.stale } : {}) });
  }
  if (plan.length === 0) return;
  // Intent first: a crash from here on leaves a pending marker for every hook about to change.
  // The qdisc is ours when we create it now, or when a marker of this interface (same ifindex)
  // says so — a pending one included: a killed run may have created it.
  const known = layout.attachments();
  const marked: PinnedAttachment[] = [];
  for (const p of plan) {
    if (p.keep) continue;
    const ours = p.createsQdisc || known.some((a) => a.kind === 'tc' && a.ifname === p.ifname && a.ifindex === p.ifindex && a.createdQdisc);
    if (p.stale) layout.removeTree(p.stale.path);
    const path = layout.tcMarker(p.ifname, p.direction, ours, p.ifindex, true);
    layout.mark(path);
    marked.push({ ifname: p.ifname, direction: p.direction, kind: 'tc', createdQdisc: ours, ifindex: p.ifindex, pending: true, path });
  }
  installTcFilters({
    program, priority, pinDir: layout.tmpDir, qdiscs: [...qdiscs],
    filters: plan.map((p) => ({ ifname: p.ifname, direction: p.direction, replace: p.replace || p.keep !== undefined })), ...nsOpt(netns),
  });
  for (const m of marked) layout.confirm(m);
  layout.removeTree(layout.tmpDir); // empty now: installTcFilters unpinned its program
}

/**
 * Of `hooks` (tc hooks recorded as confirmed at their interface's current ifindex), the ones
 * whose filter at our priority is gone or runs another program than `programId`: drift made by
 * hand (`tc filter del`, a deleted clsact) that the markers alone cannot show. One `tc -batch`
 * read. Interfaces that vanished meanwhile are left to the next re-check.
 */
export function driftedTcHooks(ctx: TcContext, programId: number, hooks: readonly PinnedAttachment[]): PinnedAttachment[] {
  if (hooks.length === 0 || netnsGone(ctx.netns)) return [];
  const state = readTcHooks({ ifnames: hooks.map((h) => h.ifname), ...nsOpt(ctx.netns) });
  return hooks.filter((a) => {
    const st = state.get(a.ifname);
    if (!st?.exists) return false;
    return st[a.direction].find((x) => at(x, ctx.priority))?.programId !== programId;
  });
}

/**
 * Takes the program off every hook in `list` (tcx: LINK_DETACH; tc: `tc filter del` of a
 * `gingham_tc` filter that no other instance owns, then the clsact qdisc when a marker says it is
 * ours and no filter is left on it), then removes their pins and markers. A marker of an earlier
 * incarnation of the interface (another ifindex) only removes a filter running our own program.
 * `extra` are tc hooks found by their program with no marker. Says what it actually removed.
 */
export function detachHooks(
  ctx: TcContext,
  list: readonly PinnedAttachment[],
  io: { readonly detachTcx: (path: string) => boolean; readonly ifindexes: (names: readonly string[]) => Map<string, number> },
  extra: readonly { ifname: string; direction: TcDirection }[] = [],
): { detached: DetachedHook[]; qdiscsDeleted: string[] } {
  const { layout, netns, priority } = ctx;
  const detached: DetachedHook[] = [];
  for (const a of list) {
    if (a.kind === 'tcx' && io.detachTcx(a.path)) detached.push({ ifname: a.ifname, direction: a.direction, kind: 'tcx' });
  }
  const tc = list.filter((a) => a.kind === 'tc');
  const qdiscsDeleted: string[] = [];
  if ((tc.length > 0 || extra.length > 0) && !netnsGone(netns)) {
    const names = [...new Set([...tc, ...extra].map((a) => a.ifname))];
    const hooks = readTcHooks({ ifnames: names, ...nsOpt(netns) });
    const idx = io.ifindexes(names);
    const owners = programOwners(layout);
    const removeSet = new Set<string>();
    const remove: Array<{ ifname: string; direction: TcDirection }> = [];
    const take = (ifname: string, direction: TcDirection, unrecorded: boolean): void => {
      const key = `${direction} ${ifname}`;
      if (removeSet.has(key)) return;
      removeSet.add(key);
      remove.push({ ifname, direction });
      detached.push({ ifname, direction, kind: 'tc', ...(unrecorded ? { unrecorded } : {}) });
    };
    for (const a of tc) {
      const st = hooks.get(a.ifname)!;
      const f = st.exists ? st[a.direction].find((x) => at(x, priority)) : undefined;
      if (!f || !isGingham(f)) continue;
      const id = f.programId;
      if (id !== undefined && owners.others.has(id)) continue;
      if (a.ifindex !== idx.get(a.ifname) && !(id !== undefined && owners.mine.has(id))) continue;
      take(a.ifname, a.direction, false);
    }
    for (const e of extra) take(e.ifname, e.direction, true);
    const ourQdisc = new Set(tc.filter((a) => a.createdQdisc && a.ifindex === idx.get(a.ifname)).map((a) => a.ifname));
    for (const ifname of ourQdisc) {
      const st = hooks.get(ifname)!;
      if (!st.exists || !st.clsact) continue;
      const left = (['ingress', 'egress'] as const).some((d) => st[d].some((x) => !(removeSet.has(`${d} ${ifname}`) && at(x, priority))));
      if (!left) qdiscsDeleted.push(ifname);
    }
    removeTcFilters({ filters: remove, qdiscs: qdiscsDeleted, priority, ...nsOpt(netns) });
  }
  for (const a of list) layout.removeTree(a.path);
  return { detached, qdiscsDeleted };
}

/**
 * Every `gingham_tc` filter at our priority in the namespace that has no marker: ours (its
 * program is pinned under this instance) or an orphan (pinned under no instance of this bpffs).
 */
export function scanTcFilters(ctx: TcContext, ifnames: readonly string[], marked: readonly PinnedAttachment[]): { ours: { ifname: string; direction: TcDirection }[]; orphans: OrphanFilter[] } {
  const { layout, netns, priority } = ctx;
  if (netnsGone(netns) || ifnames.length === 0) return { ours: [], orphans: [] };
  const hooks = readTcHooks({ ifnames, ...nsOpt(netns) });
  const recorded = new Set(marked.filter((a) => a.kind === 'tc').map((a) => `${a.direction} ${a.ifname}`));
  const owners = programOwners(layout);
  const ours: { ifname: string; direction: TcDirection }[] = [];
  const orphans: OrphanFilter[] = [];
  for (const st of hooks.values()) {
    for (const direction of ['ingress', 'egress'] as const) {
      if (recorded.has(`${direction} ${st.ifname}`)) continue;
      const f = st[direction].find((x) => at(x, priority) && isGingham(x));
      if (!f) continue;
      if (f.programId !== undefined && owners.mine.has(f.programId)) ours.push({ ifname: st.ifname, direction });
      else if (f.programId === undefined || !owners.others.has(f.programId)) {
        const del = `tc filter del dev ${st.ifname} ${direction} prio ${priority} handle 1 bpf`;
        orphans.push({ ifname: st.ifname, direction, ...(f.programId !== undefined ? { programId: f.programId } : {}), command: netns ? `nsenter --net=${netnsPath(netns)} ${del}` : del });
      }
    }
  }
  return { ours, orphans };
}
