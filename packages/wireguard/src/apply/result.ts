/**
 * What an apply or a teardown reports, and the one place an apply's report is built (from its
 * plan and the applier's counts), for full applies and peer changes alike.
 */
import type { Writes } from './applier.js';
import type { ApplyPlan } from './plan.js';

/** What an apply did. */
export interface ApplyResult {
  readonly interfaceName: string;
  readonly mode: 'kernel' | 'userspace';
  /** The interface was created by this apply. */
  readonly created: boolean;
  /** It was recreated because its wireguard-go had died. */
  readonly restarted: boolean;
  /** wireguard-go's pid (userspace). */
  readonly pid?: number;
  readonly peers: { readonly added: number; readonly updated: number; readonly removed: number; readonly unchanged: number };
  readonly routes: { readonly added: number; readonly removed: number };
  /** Peer operations sent to WireGuard (add + update + remove). */
  readonly peerOperations: number;
  /** Mutating commands run (wg set or UAPI set, ip addr/link/route/rule/batch). 0 means nothing changed. */
  readonly commands: number;
  /**
   * How the mutating commands were sent: UAPI `set` requests on wireguard-go's socket (no
   * process), batches on the handle's persistent `ip` session (no process), and processes
   * spawned (`wg set`, one-shot `ip`).
   */
  readonly writes: { readonly uapiSets: number; readonly ipSessionBatches: number; readonly processes: number };
  /** The current state was read back from the kernel (false: taken from this handle's cache). */
  readonly readBack: boolean;
  /** Time spent reading the current state, writing changes, and in total. */
  readonly durationMs: {
    readonly read: number;
    readonly write: number;
    readonly total: number;
    /** Of `write`: the WireGuard request(s) (UAPI set or `wg set`) and the route batch. */
    readonly wireguard?: number;
    readonly routes?: number;
  };
}

/** What a `down` removed. */
export interface DownResult {
  readonly interfaceName: string;
  readonly removedInterface: boolean;
  readonly stoppedPid?: number;
  readonly removedRules: number;
  readonly removedRoutes: number;
}

/** Everything an apply's report is made of. */
export interface ApplyReport {
  readonly interfaceName: string;
  readonly mode: 'kernel' | 'userspace';
  readonly created: boolean;
  readonly restarted: boolean;
  readonly pid: number | undefined;
  readonly plan: ApplyPlan;
  readonly writes: Writes;
  readonly readBack: boolean;
  /** Milliseconds spent reading (or validating against the cache) before the first write. */
  readonly readMs: number;
  readonly totalMs: number;
}

/** Builds the `ApplyResult` of an apply or a peer change. */
export function buildApplyResult(r: ApplyReport): ApplyResult {
  const { peers } = r.plan;
  return {
    interfaceName: r.interfaceName,
    mode: r.mode,
    created: r.created,
    restarted: r.restarted,
    ...(r.pid !== undefined ? { pid: r.pid } : {}),
    peers: { added: peers.add.length, updated: peers.update.length, removed: peers.remove.length, unchanged: peers.unchanged },
    routes: { added: r.plan.routes.added, removed: r.plan.routes.removed },
    peerOperations: peers.add.length + peers.update.length + peers.remove.length,
    commands: r.writes.commands,
    writes: { uapiSets: r.writes.uapiSets, ipSessionBatches: r.writes.ipSessionBatches, processes: r.writes.processes },
    readBack: r.readBack,
    durationMs: { read: r.readMs, write: r.totalMs - r.readMs, total: r.totalMs, wireguard: r.writes.wireguardMs, routes: r.writes.routesMs },
  };
}
