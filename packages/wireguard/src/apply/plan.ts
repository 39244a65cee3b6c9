/**
 * The plan: from the desired state and what is there now (read back, or a handle's cache) to the
 * ordered operations that converge one to the other. Pure: no I/O, no clock; the applier runs
 * what it returns and the result builder reports it.
 *
 * The order is part of the contract (the kernel tests pin its effects):
 *  1. WireGuard: peers removed first, then added or updated, with key, port and fwmark changes,
 *     in one step (one UAPI `set` for wireguard-go, `wg set` commands for the kernel module);
 *  2. addresses: others deleted, the wanted one replaced;
 *  3. the link: MTU and up;
 *  4. routes: one batch, adds before removes, then leftovers in a previously used table;
 *  5. rules: the old rule dropped when table, priority or mark changed, ours ensured per family.
 * Untouched peers appear in no operation, so their sessions survive.
 */
import type { WireguardPeer } from '../peers.js';
import type { DesiredWireguardState, PreparedState } from './desired.js';
import { diffPeers, diffSets, type PeerDiff } from './diff.js';
import { isWireguardRule, ruleArgs } from './ip.js';
import type { Observed } from './observed.js';
import type { Routing } from './options.js';
import type { PeerIndex, PeerPlan, PreparedPeer } from './peerindex.js';
import type { InterfaceState } from './state.js';

/** One step of a plan. */
export type Operation =
  /** Peers (removals first) and interface settings: one UAPI `set` (wireguard-go) or `wg set` (kernel module). */
  | { readonly kind: 'wireguard'; readonly diff: PeerDiff; readonly privateKey?: string; readonly listenPort?: number; readonly fwmark?: number }
  /** One `ip` command (address, link, rule). */
  | { readonly kind: 'ip'; readonly argv: readonly string[] }
  /** Route changes as lines of one `ip -batch` (the handle's persistent session when incremental). */
  | { readonly kind: 'routes'; readonly lines: readonly string[] };

/** What a plan does, in order, and what it amounts to. */
export interface ApplyPlan {
  readonly operations: readonly Operation[];
  readonly peers: PeerDiff;
  readonly routes: { readonly added: number; readonly removed: number };
  /** Families whose policy-routing rule is ours once the plan has run (recorded in the state). */
  readonly ruleFamilies: readonly (4 | 6)[];
}

/** Input of {@link planApply}. */
export interface PlanInput {
  readonly name: string;
  /** The routing wanted now. */
  readonly routing: Routing;
  /** What the state record says was set up (table, priority and mark of the rule, its families). */
  readonly recorded: Pick<InterfaceState, 'table' | 'rulePriority' | 'fwmark' | 'ruleFamilies'>;
  readonly desired: DesiredWireguardState;
  readonly prepared: PreparedState;
  /** The interface as it is (read back) or as the last apply left it (cache). */
  readonly current: Observed;
  /**
   * The peers and routes a long-lived handle applied last: diff against them (by fingerprint)
   * instead of `current.peers` / `current.routes`, which a cache does not list.
   */
  readonly applied?: PeerIndex;
}

const routeAdd = (name: string, table: number, dst: string): string => `route replace ${dst} dev ${name} table ${table}`;
const routeDel = (name: string, table: number, dst: string): string => `route del ${dst} dev ${name} table ${table}`;

function peerOps(diff: PeerDiff): number {
  return diff.add.length + diff.update.length + diff.remove.length;
}

/** The peer diff against the peers a handle applied last (same result as `diffPeers` on a read-back). */
export function diffPrepared(applied: ReadonlyMap<string, PreparedPeer>, want: PreparedState): PeerDiff {
  const add: WireguardPeer[] = [];
  const update: WireguardPeer[] = [];
  let unchanged = 0;
  const keep = new Set<string>();
  for (const p of want.peers) {
    keep.add(p.peer.publicKey);
    const old = applied.get(p.peer.publicKey);
    if (!old) add.push(p.peer);
    else if (old.fingerprint !== p.fingerprint) update.push(p.peer);
    else unchanged++;
  }
  const remove = [...applied.keys()].filter((k) => !keep.has(k)).sort();
  return { add, update, remove, unchanged };
}

/** Route changes implied by a peer diff against the routes a handle applied last. */
export function diffPreparedRoutes(applied: PeerIndex, want: PreparedState, diff: PeerDiff): { add: string[]; remove: string[] } {
  const add = new Set<string>();
  const remove = new Set<string>();
  const changed = new Set<WireguardPeer>([...diff.add, ...diff.update]);
  for (const p of want.peers) if (changed.has(p.peer)) for (const r of p.prefixes) if (!applied.claims.has(r)) add.add(r);
  for (const k of [...diff.remove, ...diff.update.map((p) => p.publicKey)]) {
    for (const r of applied.peers.get(k)?.prefixes ?? []) if (!want.prefixOwner.has(r)) remove.add(r);
  }
  return { add: [...add].sort(), remove: [...remove].sort() };
}

/** The operations that converge the interface from `current` to `desired`. */
export function planApply(input: PlanInput): ApplyPlan {
  const { name, routing, recorded, desired, prepared, current, applied } = input;
  const operations: Operation[] = [];

  // 1. WireGuard: key, port, fwmark, peers.
  const diff = applied ? diffPrepared(applied.peers, prepared) : diffPeers(current.peers, desired.peers);
  const settings = {
    ...(current.privateKey !== desired.privateKey ? { privateKey: desired.privateKey } : {}),
    ...(current.listenPort !== desired.interface.listenPort ? { listenPort: desired.interface.listenPort } : {}),
    ...(current.fwmark !== routing.fwmark ? { fwmark: routing.fwmark } : {}),
  };
  if (peerOps(diff) > 0 || Object.keys(settings).length > 0) operations.push({ kind: 'wireguard', diff, ...settings });

  // 2, 3. Address, MTU, up.
  const wantAddr = prepared.address;
  for (const a of current.addresses) if (a !== wantAddr) operations.push({ kind: 'ip', argv: ['ip', 'addr', 'del', a, 'dev', name] });
  if (wantAddr !== undefined && !current.addresses.includes(wantAddr)) operations.push({ kind: 'ip', argv: ['ip', 'addr', 'replace', wantAddr, 'dev', name] });
  if (current.mtu !== desired.interface.mtu || !current.up) operations.push({ kind: 'ip', argv: ['ip', 'link', 'set', 'dev', name, 'mtu', String(desired.interface.mtu), 'up'] });

  // 4. Routes: add before removing, in one batch; leftovers of a previously used table go too.
  const rd = applied ? diffPreparedRoutes(applied, prepared, diff) : diffSets(current.routes, [...prepared.prefixOwner.keys()]);
  const lines = [
    ...rd.add.map((dst) => routeAdd(name, routing.table, dst)),
    ...rd.remove.map((dst) => routeDel(name, routing.table, dst)),
    ...current.staleRoutes.map((dst) => routeDel(name, recorded.table, dst)),
  ];
  if (lines.length > 0) operations.push({ kind: 'routes', lines });

  // 5. Rules: drop the old one when table/priority/mark changed, then ensure ours per family.
  const ruleFamilies = new Set<4 | 6>(recorded.ruleFamilies);
  const ruleChanged = recorded.table !== routing.table || recorded.rulePriority !== routing.priority || recorded.fwmark !== routing.fwmark;
  for (const f of [4, 6] as const) {
    const rules = current.rules.get(f) ?? [];
    if (ruleChanged && ruleFamilies.has(f) && rules.some((r) => isWireguardRule(r, recorded.table, recorded.rulePriority, recorded.fwmark))) {
      operations.push({ kind: 'ip', argv: ['ip', `-${f}`, 'rule', 'del', ...ruleArgs(recorded.table, recorded.rulePriority, recorded.fwmark)] });
      ruleFamilies.delete(f);
    }
    if (prepared.families.has(f)) {
      if (!rules.some((r) => isWireguardRule(r, routing.table, routing.priority, routing.fwmark))) {
        operations.push({ kind: 'ip', argv: ['ip', `-${f}`, 'rule', 'add', ...ruleArgs(routing.table, routing.priority, routing.fwmark)] });
      }
      ruleFamilies.add(f);
    }
  }

  return {
    operations,
    peers: diff,
    routes: { added: rd.add.length, removed: rd.remove.length + current.staleRoutes.length },
    ruleFamilies: [...ruleFamilies].sort(),
  };
}

/**
 * The operations of a validated peer change (`PeerIndex.plan`) on a long-lived handle: the changed
 * peers in one WireGuard step, then the routes of prefixes that gained their first claimant or
 * lost their last, in one batch. The rule is not touched (the caller falls back to a full apply
 * when a change needs a rule for a new family).
 */
export function planPeerChanges(name: string, routing: Routing, change: PeerPlan, ruleFamilies: readonly (4 | 6)[]): ApplyPlan {
  const operations: Operation[] = [];
  if (peerOps(change.diff) > 0) operations.push({ kind: 'wireguard', diff: change.diff });
  const lines = [...change.routes.add.map((dst) => routeAdd(name, routing.table, dst)), ...change.routes.remove.map((dst) => routeDel(name, routing.table, dst))];
  if (lines.length > 0) operations.push({ kind: 'routes', lines });
  return { operations, peers: change.diff, routes: { added: change.routes.add.length, removed: change.routes.remove.length }, ruleFamilies };
}
