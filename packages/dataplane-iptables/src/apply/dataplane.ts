/**
 * The iptables dataplane: keep the state the messages describe (core's reducer, contract checked
 * before anything is written), render it, and converge the kernel with the steps `plan.ts`
 * orders so that no moment — during an apply, or after `kill -9` at any point of it — gives a
 * flow a verdict that neither the old nor the new state gives (the argument is in plan.ts).
 *
 *   apply ─▶ contract check (rolled back on violation) ─▶ per family:
 *            members only and safe in place? ─▶ one ipset batch (persistent session)
 *            else render ─▶ plan: ipset (create, version, unread members) ─▶ iptables-restore
 *                           (one commit per table: raw, mangle, filter; with host endpoints a
 *                           generation stamp keeps the tables from mixing; small ones through a
 *                           persistent restore child, restore-session.ts) ─▶ ipset (members only
 *                           the old rules read, destroys)
 *
 * On the first apply (and after any failure) the kernel is read back by rule ids and set names:
 * matching chains are adopted untouched, stale ones removed. Nothing outside our prefixes is
 * ever written, except the hook rules. Before its first kernel change (or `clean()`) the
 * dataplane takes the instance lock of its network namespace and chain prefix (flock, freed by
 * the kernel even after `kill -9`) and holds it until `close()`: `gingham enforce`, the agent and
 * `--clean` never program one instance at once. It must never write to a kernel it has not
 * locked, and never report success for steps that did not complete.
 */
import {
  applyMessage,
  emptyDataplaneState,
  type Dataplane,
  type DataplaneMessage,
  type DataplaneState,
} from '@gingham/core';
import {
  acquireInstanceLock,
  createLocalRunner,
  DEFAULT_LOCK_DIR,
  NotPermittedError,
  CommandFailedError,
  InstanceLockedError,
  lockName,
  runChecked,
  type CommandRunner,
  type InstanceLock,
} from '@gingham/host';
import { IptablesError } from '../errors.js';
import { setName } from '../render/names.js';
import { resolveRenderOptions, type RenderOptions, type ResolvedRenderOptions, type Table } from '../render/options.js';
import { createRenderCache, forgetSetMembers } from '../render/render-cache.js';
import { renderState } from '../render/render.js';
import type { HostFacts, Rendered } from '../render/rendered.js';
import { setMembers } from '../render/set-members.js';
import { cleanInstance, type CleanReport } from './clean.js';
import { emptyKernelState, type KernelState, ownedSetMatcher, parseIpAddrJson, parseIpsetSave, parseIptablesSave } from './kernel-state.js';
import { IPSET_SESSION_ARGV, type IpsetSession, openIpsetSession } from './ipset-session.js';
import { openRestoreSession, type RestoreSession, restoreSessionSafe } from './restore-session.js';
import { modelRefs, NO_CHANGES, planConverge, planMembers, type FamilyPlan, type PlanStats, type PlanStep, restoreText, TABLES } from './plan.js';
import { endpointsBefore, type EndpointsBefore, movedRendering } from './group-moves.js';
import { scopeIndex } from './scope-index.js';

export type IptablesBackend = 'default' | 'nft' | 'legacy';

export interface IptablesLockOptions {
  /** Wait up to this long for another holder (polling, the event loop stays free). Default 0: refuse at once. */
  readonly waitMs?: number;
  /** Lock directory (default `/run/gingham/locks`). */
  readonly dir?: string;
  /** What this process is doing, shown to whoever finds the lock held (default: its command line). */
  readonly purpose?: string;
}

export interface IptablesDataplaneOptions extends RenderOptions {
  /** How commands run (default: `@gingham/host`'s local runner, this network namespace). */
  readonly runner?: CommandRunner;
  /** `iptables-restore` (default), `iptables-nft-restore` or `iptables-legacy-restore`. */
  readonly backend?: IptablesBackend;
  /** Address families to enforce (default `[4]`). */
  readonly families?: readonly (4 | 6)[];
  /**
   * Keep a persistent `ipset -exist -` child for small IP set batches (default true). Started
   * after the first successful apply, stopped by `close()`; on any session failure the batch
   * runs as a one-shot `ipset restore`.
   */
  readonly ipsetSession?: boolean;
  /**
   * Keep a persistent `iptables-restore --noflush -v` child per family for small transactions
   * (default: as `ipsetSession`, so a one-shot user that turns that off starts neither): a
   * commit of a few chains then costs the kernel's commit, not a process start. Started after the first successful apply, stopped by `close()`; a transaction with
   * hook edits, over 1,000 lines, or whose session fails runs as a one-shot child
   * (restore-session.ts says why that is exact).
   */
  readonly restoreSession?: boolean;
  /** The instance lock (default on, refusing at once); `false` only for a runner that is not a real kernel. */
  readonly lock?: boolean | IptablesLockOptions;
}

export interface ApplyStats extends PlanStats {}

/** Where the last apply's time went (milliseconds, summed over families; `restores`: children run). */
export interface ApplyTimings {
  readonly renderMs: number;
  readonly planMs: number;
  readonly ipsetMs: number;
  readonly restoreMs: number;
  readonly restores: number;
  readonly totalMs: number;
}

const NO_TIME: ApplyTimings = { renderMs: 0, planMs: 0, ipsetMs: 0, restoreMs: 0, restores: 0, totalMs: 0 };

export interface IptablesDataplane extends Dataplane, AsyncDisposable {
  /**
   * Applies one batch. Throws `IPTABLES_CONTRACT_VIOLATION` (and writes nothing, keeping the
   * state as it was) for a batch that breaks the dataplane contract; `INSTANCE_LOCKED` when
   * another process programs this instance; host errors (`TOOL_MISSING`, `COMMAND_FAILED`,
   * `NOT_PERMITTED`) for commands that cannot run. After a failure the next apply reads the
   * kernel back and converges.
   */
  apply(messages: readonly DataplaneMessage[]): Promise<void>;
  /**
   * Removes every hook rule, chain and IP set of this chain and set prefix in both address
   * families and both backends (nft and legacy), and nothing else; returns what it removed.
   * The object stays usable (a later apply converges from the empty kernel).
   */
  clean(): Promise<CleanReport>;
  /** The last full rendering for a family, with set names as written. */
  rendered(family: 4 | 6): Rendered | undefined;
  /** What the last apply changed (summed over families): chains written and deleted, sets created, swapped, versioned and destroyed, members changed. */
  stats(): ApplyStats;
  /** Where the last apply (or interface re-check that converged) spent its time. */
  timings(): ApplyTimings;
  /**
   * Stops the persistent ipset session and releases the instance lock; the kernel state stays
   * enforced. Idempotent; `await using` calls it (`[Symbol.asyncDispose]`).
   */
  close(): Promise<void>;
  /** The PID of the persistent ipset session, when one is running. */
  ipsetSessionPid(): number | undefined;
  /** The PID of a family's persistent `iptables-restore` session, when one is running. */
  restoreSessionPid(family: 4 | 6): number | undefined;
  /**
   * Re-reads the host's interface addresses and converges when a host endpoint bound by its
   * expected IPs now binds to other interfaces (an address moved, an interface appeared). Rules
   * name interfaces, so a recreated workload veth needs nothing; call this when the host reports
   * link or address changes. A no-op before the first apply and without such host endpoints.
   */
  syncInterfaces(): Promise<void>;
}

/** Batches (ipset) and table transactions (iptables-restore) up to this many lines go through a persistent session; larger ones one-shot. */
const SESSION_MAX_LINES = 1000;
/** A destroy batch refused because the kernel still holds a set is retried this many times (2, 4, … 512 ms apart: ~1 s). */
const DESTROY_RETRIES = 9;
/** After this many session failures the dataplane stays with one-shot restores. */
const SESSION_MAX_FAILURES = 3;

const add = (a: PlanStats, b: PlanStats): PlanStats => ({
  chainsWritten: a.chainsWritten + b.chainsWritten,
  chainsDeleted: a.chainsDeleted + b.chainsDeleted,
  setsCreated: a.setsCreated + b.setsCreated,
  setsSwapped: a.setsSwapped + b.setsSwapped,
  setsVersioned: a.setsVersioned + b.setsVersioned,
  setMembersChanged: a.setMembersChanged + b.setMembersChanged,
  setsDestroyed: a.setsDestroyed + b.setsDestroyed,
});

export function tools(family: 4 | 6, backend: IptablesBackend): { save: string; restore: string } {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  const suffix = backend === 'default' ? '' : `-${backend}`;
  return { save: `${base}${suffix}-save`, restore: `${base}${suffix}-restore` };
}

type Undo = () => void;

/** One family's rendering and the plan that converges its tables to it, made before running it. */
interface Prepared {
  readonly family: 4 | 6;
  readonly r: Rendered;
  readonly plan: FamilyPlan;
}

/**
 * Applies a batch to the state with core's reducer; on any contract violation every change is
 * undone and the violations are returned (the state is then exactly as before).
 */
function applyChecked(state: DataplaneState, messages: readonly DataplaneMessage[]): string[] {
  const undo: Undo[] = [];
  const keep = <V>(m: Map<string, V>, key: string): void => {
    const had = m.has(key);
    const prev = m.get(key);
    undo.push(() => (had ? m.set(key, prev as V) : m.delete(key)));
  };
  const violations: string[] = [];
  for (const m of messages) {
    switch (m.kind) {
      case 'ipset-replace':
      case 'ipset-delete':
        keep(state.ipSets, m.id);
        break;
      case 'ipset-add-members':
      case 'ipset-remove-members': {
        const s = state.ipSets.get(m.id);
        if (!s) break;
        const flipped = m.members.filter((x) => s.members.has(x) === (m.kind === 'ipset-remove-members'));
        const adding = m.kind === 'ipset-add-members';
        undo.push(() => {
          for (const x of flipped) {
            if (adding) s.members.delete(x);
            else s.members.add(x);
          }
        });
        break;
      }
      case 'policy-upsert':
        keep(state.policies, m.policy.id);
        break;
      case 'policy-remove':
        keep(state.policies, m.id);
        break;
      case 'profile-upsert':
        keep(state.profiles, m.profile.id);
        break;
      case 'profile-remove':
        keep(state.profiles, m.id);
        break;
      case 'workload-endpoint-upsert':
        keep(state.workloadEndpoints, m.endpoint.id);
        break;
      case 'workload-endpoint-remove':
        keep(state.workloadEndpoints, m.id);
        break;
      case 'host-endpoint-upsert':
        keep(state.hostEndpoints, m.endpoint.id);
        break;
      case 'host-endpoint-remove':
        keep(state.hostEndpoints, m.id);
        break;
      case 'host-metadata-upsert':
        keep(state.hosts, m.host.node);
        break;
      case 'host-metadata-remove':
        keep(state.hosts, m.node);
        break;
      case 'in-sync': {
        const was = state.inSync;
        undo.push(() => void (state.inSync = was));
        break;
      }
    }
    violations.push(...applyMessage(state, m));
  }
  if (violations.length > 0) for (const u of undo.reverse()) u();
  return violations;
}

/** Creates the iptables dataplane. Nothing touches the kernel until the first `apply` or `clean`. */
export function createIptablesDataplane(options: IptablesDataplaneOptions = {}): IptablesDataplane {
  const o: ResolvedRenderOptions = resolveRenderOptions(options);
  const runner = options.runner ?? createLocalRunner();
  const backend = options.backend ?? 'default';
  const families = options.families ?? [4];
  const lockOptions: IptablesLockOptions | undefined = options.lock === false ? undefined : options.lock === true || options.lock === undefined ? {} : options.lock;
  const state = emptyDataplaneState();
  const kernel = new Map<4 | 6, KernelState>();
  /** Per family: canonical set name → the name it lives under (its version). */
  const names = new Map<4 | 6, ReadonlyMap<string, string>>();
  /** Per family: the set names the chains in force reference (for the members-only path). */
  const refs = new Map<4 | 6, Set<string>>();
  const last = new Map<4 | 6, Rendered>();
  /** Per family: the last rendering with canonical set names (members-only batches reuse its chains). */
  const lastCanonical = new Map<4 | 6, Rendered>();
  /** Chains of the last rendering, reused when unchanged (a label change re-hashes only the chains it changes). */
  const renderCache = createRenderCache();
  const ownedSet = ownedSetMatcher(o.setPrefix);
  // consume: each plan's model replaces the last one (or none after a failure), never read again.
  const planOptions = { setPrefix: o.setPrefix, commentTag: o.commentTag, consume: true };
  let stats: PlanStats = NO_CHANGES;
  let time: { -readonly [K in keyof ApplyTimings]: ApplyTimings[K] } = { ...NO_TIME };
  /** The host facts of the last full rendering (JSON), for `syncInterfaces`. */
  let lastFacts = '';
  let lock: InstanceLock | undefined;
  let closed = false;

  const must = async (argv: readonly string[], input?: string): Promise<string> =>
    (await runChecked(runner, argv, input === undefined ? { timeoutMs: 600_000 } : { input, timeoutMs: 600_000 })).stdout;

  /** The instance: this network namespace (by inode, read through the runner) and the chain prefix. */
  async function ensureLock(): Promise<void> {
    if (closed) throw new IptablesError('IPTABLES_CLOSED', 'the iptables dataplane is closed');
    if (lock || !lockOptions) return;
    const ns = (await must(['readlink', '/proc/self/ns/net'])).trim();
    const inode = /\[(\d+)\]/.exec(ns)?.[1] ?? ns;
    const name = lockName('iptables', `netns-${inode}`, o.chainPrefix);
    const waitMs = lockOptions.waitMs ?? 0;
    const started = Date.now();
    for (;;) {
      try {
        lock = acquireInstanceLock(name, {
          ...(lockOptions.dir !== undefined ? { dir: lockOptions.dir } : {}),
          ...(lockOptions.purpose !== undefined ? { purpose: lockOptions.purpose } : {}),
        });
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EACCES' || (e as NodeJS.ErrnoException).code === 'EPERM') {
          throw new NotPermittedError(`write access to ${lockOptions.dir ?? DEFAULT_LOCK_DIR}`, `the instance lock ${name}`, { cause: e });
        }
        if (!(e instanceof InstanceLockedError) || Date.now() - started >= waitMs) {
          if (e instanceof InstanceLockedError && waitMs > 0) throw new InstanceLockedError(name, e.holder, Date.now() - started);
          throw e;
        }
        await new Promise((r) => setTimeout(r, Math.min(200, Math.max(1, waitMs - (Date.now() - started)))));
      }
    }
  }

  let session: IpsetSession | undefined;
  let opening: Promise<void> | undefined;
  let sessionFailures = 0;
  const sessionWanted = options.ipsetSession ?? true;
  const openSession = async (): Promise<void> => {
    if (!sessionWanted || closed || sessionFailures >= SESSION_MAX_FAILURES || session?.alive()) return;
    if (opening) return opening;
    opening = openIpsetSession(runner).then((s) => {
      opening = undefined;
      if (closed) void s?.close();
      else if (s) session = s;
      else sessionFailures = SESSION_MAX_FAILURES;
    });
    return opening;
  };
  /** Per family: the persistent restore child (restore-session.ts), its failures and its start in flight. */
  const restoreSessions = new Map<4 | 6, RestoreSession>();
  const restoreOpening = new Map<4 | 6, Promise<void>>();
  let restoreFailures = 0;
  const restoreWanted = options.restoreSession ?? options.ipsetSession ?? true;
  const openRestoreSessions = async (): Promise<void> => {
    await Promise.all(
      families.map((f) => {
        if (!restoreWanted || closed || restoreFailures >= SESSION_MAX_FAILURES || restoreSessions.get(f)?.alive()) return undefined;
        let p = restoreOpening.get(f);
        if (!p) {
          p = openRestoreSession(runner, tools(f, backend).restore).then((s) => {
            restoreOpening.delete(f);
            if (closed) void s?.close();
            else if (s) restoreSessions.set(f, s);
            else restoreFailures = SESSION_MAX_FAILURES;
          });
          restoreOpening.set(f, p);
        }
        return p;
      }),
    );
  };
  const closeSession = async (): Promise<void> => {
    await opening;
    const s = session;
    session = undefined;
    await s?.close();
    await Promise.all(restoreOpening.values());
    const rs = [...restoreSessions.values()];
    restoreSessions.clear();
    await Promise.all(rs.map((r) => r.close()));
  };

  /**
   * One table's transaction: through the family's session when it is up and the transaction is
   * small and safe to re-run, else (and after any session failure) one-shot.
   */
  async function restoreSection(family: 4 | 6, section: { readonly table: Table; readonly lines: readonly string[] }, whileCommitting?: () => void): Promise<void> {
    const lines = [`*${section.table}`, ...section.lines, 'COMMIT'];
    const rs = restoreSessions.get(family);
    if (rs?.alive() && lines.length <= SESSION_MAX_LINES && restoreSessionSafe(lines)) {
      const committed = rs.run(lines);
      if (whileCommitting) {
        // The session writes on a later microtask: once the loop has turned, the transaction is
        // in the child's pipe and the kernel commits it while `whileCommitting` runs here.
        await new Promise<void>((resolve) => setImmediate(resolve));
        whileCommitting();
      }
      if ((await committed) === true) return;
      // Exit or timeout: the outcome is unknown, the transaction is safe to run again.
      restoreFailures++;
      restoreSessions.delete(family);
      await rs.close();
    }
    await must([tools(family, backend).restore, '--noflush'], restoreText({ kind: 'restore', sections: [section] }));
  }

  /**
   * IP set commands: through the session when it is up and the batch is small, else one-shot.
   * A batch with a `swap` always goes one-shot: `ipset restore` stops at the first failing line,
   * the interactive session does not, and a swap after a failed `add` to the temporary would put
   * half the new members in force.
   */
  async function ipsetLines(lines: readonly string[]): Promise<void> {
    const input = `${lines.join('\n')}\n`;
    if (session?.alive() && lines.length <= SESSION_MAX_LINES && !lines.some((l) => l.startsWith('swap '))) {
      const r = await session.run(lines);
      if (r && r.stderr === '') return;
      if (r) throw new CommandFailedError(IPSET_SESSION_ARGV, { code: 1, stdout: '', stderr: r.stderr }, input);
      sessionFailures++;
      await closeSession();
    }
    await must(['ipset', '-exist', 'restore'], input);
  }

  /**
   * A batch of `destroy` lines (the plan's last step: sets nothing names any more), retried while
   * the kernel still holds a set: the nft backend drops a removed rule's reference to its set
   * after the commit has returned (the transaction's release runs as deferred work), so a destroy
   * right behind a commit through the restore session can find it "in use by a kernel component"
   * for a few milliseconds. Under `-exist` a destroy of a set already gone succeeds, so the whole
   * batch is run again. Any other error, or one that outlasts the retries, fails as before.
   */
  async function destroySets(lines: readonly string[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await ipsetLines(lines);
        return;
      } catch (e) {
        if (attempt >= DESTROY_RETRIES || !inUse(e)) throw e;
        await new Promise((r) => setTimeout(r, 2 << attempt));
      }
    }
  }
  const inUse = (e: unknown): boolean => e instanceof CommandFailedError && e.stderr.includes('in use by a kernel component');

  /**
   * Destroy batches the kernel refused as "in use" right behind their commit, left for later
   * instead of waited for inside the apply: a set nothing names decides nothing (plan.ts, rule 1),
   * so it may outlive its apply. They run before anything else touches the kernel again (the next
   * apply or interface re-check, with the retries above; `close()` likewise), so a plan never meets
   * a set its model says is gone; one that then still fails fails that call, and the model is read
   * back afresh.
   */
  let pendingDestroys: string[] = [];
  async function flushDestroys(): Promise<void> {
    if (pendingDestroys.length === 0) return;
    const lines = pendingDestroys;
    pendingDestroys = [];
    const t = performance.now();
    try {
      await destroySets(lines);
    } catch (e) {
      kernel.clear();
      throw e;
    } finally {
      time.ipsetMs += performance.now() - t;
    }
  }

  /**
   * Runs a family's steps in order. `meanwhile` (at most once): work of the agent's own to do
   * while the kernel commits, called right after the first restore transaction has been handed to
   * the family's session (the commit then runs in the child, on another core); called at the end
   * when there is no such transaction. Its time is not counted as restore time.
   */
  async function run(family: 4 | 6, steps: readonly PlanStep[], meanwhile?: () => void): Promise<void> {
    let pending = meanwhile;
    const aside = (): number => {
      const f = pending;
      pending = undefined;
      if (!f) return 0;
      const t = performance.now();
      f();
      return performance.now() - t;
    };
    for (const step of steps) {
      const t = performance.now();
      if (step.kind === 'ipset') {
        if (step.lines.every((l) => l.startsWith('destroy '))) {
          try {
            await ipsetLines(step.lines);
          } catch (e) {
            if (!inUse(e)) throw e;
            pendingDestroys.push(...step.lines);
          }
        } else await ipsetLines(step.lines);
        time.ipsetMs += performance.now() - t;
        continue;
      }
      // One transaction per table (a child, or one write to the session): each COMMIT is its own
      // transaction anyway, and the kill -9 harness can then stop the process between any two of
      // them (the generation stamp covers it).
      let spent = 0;
      for (const section of step.sections) await restoreSection(family, section, () => (spent += aside()));
      time.restoreMs += performance.now() - t - spent;
      time.restores += step.sections.length;
    }
    aside();
  }

  /** Interface addresses, read only when a host endpoint is bound by expected IPs. */
  async function hostFacts(): Promise<HostFacts> {
    if (![...state.hostEndpoints.values()].some((h) => h.binding.kind === 'expected-ips')) return {};
    return { interfaceAddresses: parseIpAddrJson(await must(['ip', '-j', 'addr', 'show'])) };
  }
  const factsKey = (h: HostFacts): string => JSON.stringify([...(h.interfaceAddresses ?? new Map()).entries()].sort());

  async function readBack(family: 4 | 6, ipsetSave: () => Promise<string>): Promise<KernelState> {
    const k = emptyKernelState();
    for (const table of TABLES) parseIptablesSave(table, await must([tools(family, backend).save, '-t', table]), o.chainPrefix, o.commentTag, k, o);
    parseIpsetSave(await ipsetSave(), (n) => (ownedSet(n) === family ? family : undefined), k);
    return k;
  }

  /** Converges one family to `rendered` (canonical set names), rendering the state when not given. */
  async function converge(family: 4 | 6, host: HostFacts, ipsetSave: () => Promise<string>, rendered?: Rendered): Promise<void> {
    if (!kernel.has(family)) kernel.set(family, await readBack(family, ipsetSave));
    await execute(prepare(family, host, rendered)!);
  }

  /** A family's rendering and plan against the model of its tables; `undefined` while that model is unknown (a read-back is due). */
  function prepare(family: 4 | 6, host: HostFacts, rendered?: Rendered): Prepared | undefined {
    const k = kernel.get(family);
    if (!k) return undefined;
    const t0 = performance.now();
    const r = rendered ?? renderState(state, family, o, host, renderCache);
    const t1 = performance.now();
    // The last rendering as written lets sets change in place beside a rule change; the planner
    // uses it only when it is exactly what `k` holds (after a read-back it may not be).
    const plan = planConverge(k, r, planOptions, last.get(family));
    time.renderMs += t1 - t0;
    time.planMs += performance.now() - t1;
    return { family, r, plan };
  }

  /** Runs a prepared plan and keeps its model; `meanwhile`: see `run`. */
  async function execute({ family, r, plan }: Prepared, meanwhile?: () => void): Promise<void> {
    kernel.delete(family); // until every step has run, the model is unknown
    await run(family, plan.steps, meanwhile);
    kernel.set(family, plan.next);
    names.set(family, plan.names);
    refs.set(family, modelRefs(plan.next));
    last.set(family, plan.rendered);
    lastCanonical.set(family, r);
    stats = add(stats, plan.stats);
  }

  /**
   * Converges each family in turn, rendering and planning the next one while the kernel commits
   * the one before (the families' tables are independent; their steps still run one family after
   * the other, so the IP set session never interleaves two plans). A failure stops at that family,
   * as one at a time did: the next family's plan, made meanwhile, is dropped unrun.
   */
  async function convergeAll(list: readonly (4 | 6)[], host: HostFacts, ipsetSave: () => Promise<string>): Promise<void> {
    let ahead: { prepared?: Prepared; error?: unknown } | undefined;
    for (let i = 0; i < list.length; i++) {
      const family = list[i]!;
      const following = list[i + 1];
      try {
        if (ahead?.error !== undefined) throw ahead.error;
        let prepared = ahead?.prepared;
        ahead = undefined;
        if (!prepared) {
          if (!kernel.has(family)) kernel.set(family, await readBack(family, ipsetSave));
          prepared = prepare(family, host)!;
        }
        const next: { prepared?: Prepared; error?: unknown } = {};
        await execute(
          prepared,
          following === undefined
            ? undefined
            : () => {
                try {
                  const p = prepare(following, host);
                  if (p) next.prepared = p;
                } catch (e) {
                  next.error = e;
                }
              },
        );
        ahead = next;
      } catch (e) {
        kernel.delete(family);
        throw e;
      }
    }
  }

  /**
   * Members-only batches (a label change) skip rendering: per family, the changed sets' wanted
   * members go to `planMembers`, which changes them in place when that is safe (plan.ts, rule 3).
   * Returns the families it could not handle (they take the full path).
   */
  async function membersOnly(messages: readonly DataplaneMessage[]): Promise<(4 | 6)[]> {
    const ids = new Set<string>();
    for (const m of messages) {
      if (m.kind === 'in-sync') continue;
      if (m.kind !== 'ipset-add-members' && m.kind !== 'ipset-remove-members') return [...families];
      ids.add(m.id);
    }
    const rest: (4 | 6)[] = [];
    for (const f of families) {
      const k = kernel.get(f);
      const n = names.get(f);
      const r = refs.get(f);
      if (!k || !n || !r) {
        rest.push(f);
        continue;
      }
      const updates = [...ids].map((id) => {
        const entry = state.ipSets.get(id)!;
        const canonical = setName(o.setPrefix, f, false, id);
        return { name: n.get(canonical) ?? canonical, type: entry.type === 'net-port-proto' ? 'hash:net,port' : 'hash:net', family: f, members: setMembers(entry.type, entry.members, f) };
      });
      // The scopes of the chains in force (scope-index.ts: moved from the last plan's, not walked).
      const plan = last.has(f) ? planMembers(k, r, () => scopeIndex(last.get(f)!).sets, updates, planOptions) : undefined;
      if (!plan) {
        // Not safe in place: version the sets (plan.ts, rule 2). Member changes never change rule
        // text, so the last rendering's chains stand; only the sets' members are new.
        const base = lastCanonical.get(f);
        if (!base) {
          rest.push(f);
          continue;
        }
        const wanted = new Map([...ids].map((id, i) => [setName(o.setPrefix, f, false, id), updates[i]!.members] as const));
        const rendered: Rendered = { ...base, sets: base.sets.map((s) => (wanted.has(s.name) ? { ...s, members: wanted.get(s.name)! } : s)) };
        try {
          await converge(f, {}, () => must(['ipset', 'save']), rendered);
        } catch (e) {
          kernel.delete(f);
          throw e;
        }
        continue;
      }
      try {
        await run(f, plan.steps);
      } catch (e) {
        kernel.delete(f);
        throw e;
      }
      plan.apply();
      stats = add(stats, plan.stats);
    }
    return rest;
  }

  /**
   * Group dispatch by IP set: a batch that only moves endpoints between existing groups (and
   * changes set members) goes into the last rendering without rendering (group-moves.ts).
   * Returns the families it could not handle (they take the full path).
   */
  async function movesOnly(messages: readonly DataplaneMessage[], before: EndpointsBefore): Promise<(4 | 6)[]> {
    const rest: (4 | 6)[] = [];
    for (const f of families) {
      const base = lastCanonical.get(f);
      const t = performance.now();
      const r = base && kernel.has(f) ? movedRendering(state, before, messages, base, f, o) : undefined;
      time.renderMs += performance.now() - t;
      if (!r) {
        rest.push(f);
        continue;
      }
      try {
        await execute(prepare(f, {}, r)!);
      } catch (e) {
        kernel.delete(f);
        throw e;
      }
    }
    return rest;
  }

  return {
    async apply(messages) {
      await ensureLock();
      const before = o.groupDispatch === 'ipset' ? endpointsBefore(state, messages) : undefined;
      const violations = applyChecked(state, messages);
      if (violations.length > 0) {
        throw new IptablesError('IPTABLES_CONTRACT_VIOLATION', `the batch breaks the dataplane contract (nothing was written): ${violations.join('; ')}`, { violations });
      }
      // The Engine's sets change in place: the render cache forgets the members of those that did.
      forgetSetMembers(renderCache, messages.flatMap((m) => (m.kind === 'ipset-replace' || m.kind === 'ipset-add-members' || m.kind === 'ipset-remove-members' || m.kind === 'ipset-delete' ? [m.id] : [])));
      stats = NO_CHANGES;
      time = { ...NO_TIME };
      const started = performance.now();
      await flushDestroys();
      const rest = before ? await movesOnly(messages, before) : await membersOnly(messages);
      if (rest.length > 0) {
        const host = await hostFacts(); // one read for every family
        lastFacts = factsKey(host);
        let saved: Promise<string> | undefined;
        const ipsetSave = (): Promise<string> => (saved ??= must(['ipset', 'save']));
        await convergeAll(rest, host, ipsetSave);
      }
      time.totalMs = performance.now() - started;
      // Converged: start the persistent sessions now so the next label change finds them ready.
      await Promise.all([openSession(), openRestoreSessions()]);
    },
    async clean() {
      await ensureLock();
      pendingDestroys = []; // clean destroys every set of ours
      await closeSession();
      for (const f of [4, 6] as const) {
        kernel.delete(f);
        names.delete(f);
        refs.delete(f);
        last.delete(f);
        lastCanonical.delete(f);
      }
      return cleanInstance(runner, { chainPrefix: o.chainPrefix, setPrefix: o.setPrefix, commentTag: o.commentTag });
    },
    rendered: (family) => last.get(family),
    stats: () => stats,
    timings: () => ({ ...time }),
    async close() {
      closed = true;
      try {
        // Before the ipset session goes (the lines run through it) and the lock: a one-shot
        // `gingham enforce` leaves no set behind that its model says is gone.
        await flushDestroys();
      } finally {
        try {
          await closeSession();
        } finally {
          lock?.release();
          lock = undefined;
        }
      }
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
    ipsetSessionPid: () => (session?.alive() ? session.pid : undefined),
    restoreSessionPid: (family) => {
      const rs = restoreSessions.get(family);
      return rs?.alive() ? rs.pid : undefined;
    },
    async syncInterfaces() {
      if (closed || last.size === 0) return;
      const host = await hostFacts();
      const key = factsKey(host);
      if (key === lastFacts) return;
      stats = NO_CHANGES;
      time = { ...NO_TIME };
      const started = performance.now();
      await flushDestroys();
      let saved: Promise<string> | undefined;
      const ipsetSave = (): Promise<string> => (saved ??= must(['ipset', 'save']));
      await convergeAll(families, host, ipsetSave);
      lastFacts = key;
      time.totalMs = performance.now() - started;
    },
  };
}
