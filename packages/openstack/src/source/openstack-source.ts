/**
 * The OpenStack source: Keystone and Neutron polled into core's `Source` stream, converted
 * exactly as Calico's OpenStack driver converts (`convertNeutron`).
 *
 * Neutron has no watch, so the source polls (design rationale):
 *   - a full list of every collection at start, after any failed poll, and every
 *     `resyncIntervalMs`: delivered as `resync-started`, the changes, deletes for what vanished,
 *     `in-sync`: the only way to learn of deletions in general, since Neutron forgets them;
 *   - in between, every `pollIntervalMs`, only what changed: `changed_since=<the server's Date
 *     of the previous listing, minus a slack>` per collection (the standard-attr-timestamp
 *     extension), merged into the cache and delivered as upserts and deletes;
 *   - when a changed port claims an address another cached port holds, the holders are asked
 *     for by id at once, so a deleted VM's stale endpoint cannot keep its reused address in the
 *     wrong security groups until the next full list.
 * A poll either completes and is delivered as one batch, or fails and delivers nothing; the
 * previous state stays in force (fail closed: nothing half-listed reaches the Engine) and
 * `status()` says how old it is. A resource that fails validation is left out and reported in
 * `problems`; if its key was delivered before, that last good version stays.
 * In agent mode (`host`), this host's ports are listed in full and everyone else's with only the
 * fields that identity and security group membership need.
 */
import { ResyncTracker, resourceKey, type Resource, type Source, type SourceMessage, type SourceProblem, type SourceSink, type SourceStatus } from '@gingham/core';
import { convertNeutron, createConversionMemo, type NeutronCollection } from '../convert/convert.js';
import { formatNeutronPath } from '../convert/read-bodies.js';
import type { QosSettings } from '../convert/qos.js';
import { OpenStackError } from '../errors.js';
import type { FetchLike } from '../client/http.js';
import { createKeystoneSession, type KeystoneOptions, type KeystoneSession } from '../client/keystone.js';
import { createNeutronClient, type ListQuery, type NeutronClient, type NeutronCollectionName } from '../client/neutron.js';
import type { KeystoneProject, NeutronPort } from '../neutron-types.js';
import { NeutronCache } from './neutron-cache.js';
import { regionProblem } from '../convert/names.js';

export interface OpenStackSourceOptions {
  /** Keystone: where and how to authenticate (or a session to share). */
  readonly keystone: Omit<KeystoneOptions, 'fetch' | 'now' | 'timeoutMs'> | KeystoneSession;
  /** The Neutron URL; default: the `network` endpoint of the token's catalog. */
  readonly neutronUrl?: string;
  /** `[calico] openstack_region`: resources go to namespace `openstack-region-<region>`. */
  readonly region?: string;
  /** Agent mode: this host's ports in full, the rest of the cloud's slim. Default: every port in full. */
  readonly host?: string;
  /** Between polls for changes (default 5,000 ms). */
  readonly pollIntervalMs?: number;
  /** Between full lists (default 300,000 ms). */
  readonly resyncIntervalMs?: number;
  /** How far back each `changed_since` reaches before the previous listing (clock skew between API servers, commits in flight; default 10,000 ms). */
  readonly changedSinceSlackMs?: number;
  /** Retry delays after a failed poll: doubling from `initialMs` to `maxMs` (default 1,000 → 60,000 ms). */
  readonly retry?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Read Keystone projects for the project name and parent labels (default true; a refusal is reported and the labels are left out). */
  readonly projects?: boolean;
  /** `[calico]` QoS settings. */
  readonly qos?: Partial<QosSettings>;
  /** Per request (default 30,000 ms). */
  readonly timeoutMs?: number;
  /** Items per page (default 1000). */
  readonly pageSize?: number;
  /**
   * Poll on a timer after `start` (default true). With false, polls happen only through
   * `pollNow()`: one-shot commands and deterministic tests.
   */
  readonly autoPoll?: boolean;
  /** Skipped resources kept in `status().problems` (default 100). */
  readonly maxProblems?: number;
  readonly fetch?: FetchLike;
  readonly now?: () => number;
}

export interface OpenStackSourceStatus extends SourceStatus {
  /** When the last poll that reached Neutron completed (ISO 8601), if any did. */
  readonly lastSuccessAt?: string;
  /** How old the delivered state is: milliseconds since `lastSuccessAt` (undefined before the first). */
  readonly stalenessMs?: number;
  /** When the last full list completed. */
  readonly lastFullSyncAt?: string;
}

export interface OpenStackSource extends Source {
  status(): OpenStackSourceStatus;
  /**
   * Polls now (a full list when `full`, or when one is due) and resolves when that poll has
   * been delivered or has failed (`false`). Used by one-shot commands and tests.
   */
  pollNow(options?: { readonly full?: boolean }): Promise<boolean>;
}

/** The port fields that endpoint identity and security group membership need (agent mode, other hosts). */
export const SLIM_PORT_FIELDS = [
  'id',
  'device_id',
  'device_owner',
  'binding:host_id',
  'binding:vif_type',
  'mac_address',
  'network_id',
  'project_id',
  'tenant_id',
  'fixed_ips',
  'allowed_address_pairs',
  'security_groups',
  'revision_number',
  'updated_at',
] as const;

const COLLECTIONS: readonly Exclude<NeutronCollectionName, 'ports'>[] = ['securityGroups', 'networks', 'subnets', 'floatingIps', 'qosPolicies'];

type Origin = string;
interface Delivered {
  readonly resource: Resource;
  readonly origin: Origin;
  readonly version: number;
}
const originOf = (collection: NeutronCollection | 'options', id: string | undefined): Origin => `${collection}/${id ?? ''}`;

/** `YYYY-MM-DDTHH:MM:SSZ`, whole seconds (what `changed_since` accepts). */
function neutronTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

interface Counters {
  polls: number;
  fullSyncs: number;
  incrementalPolls: number;
  pollErrors: number;
  upserts: number;
  deletes: number;
  staleAddressChecks: number;
  projectListErrors: number;
}

export function createOpenStackSource(options: OpenStackSourceOptions): OpenStackSource {
  if (options.region) {
    const why = regionProblem(options.region);
    if (why) throw new OpenStackError('OPENSTACK_INVALID_OPTIONS', `invalid region ${JSON.stringify(options.region)}: ${why}`);
  }
  if (options.host === '') throw new OpenStackError('OPENSTACK_INVALID_OPTIONS', 'host must not be empty');
  const now = options.now ?? Date.now;
  const fetchFn = options.fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const session: KeystoneSession =
    'token' in options.keystone ? options.keystone : createKeystoneSession({ ...options.keystone, timeoutMs, now, ...(fetchFn ? { fetch: fetchFn } : {}) });
  const neutron: NeutronClient = createNeutronClient({
    session,
    timeoutMs,
    ...(options.neutronUrl ? { endpoint: options.neutronUrl } : {}),
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
    ...(fetchFn ? { fetch: fetchFn } : {}),
  });
  const pollIntervalMs = options.pollIntervalMs ?? 5_000;
  const resyncIntervalMs = options.resyncIntervalMs ?? 300_000;
  const slackMs = options.changedSinceSlackMs ?? 10_000;
  const retryInitial = options.retry?.initialMs ?? 1_000;
  const retryMax = options.retry?.maxMs ?? 60_000;
  const maxProblems = options.maxProblems ?? 100;
  const readProjects = options.projects ?? true;
  const memo = createConversionMemo();
  const convertOptions = { memo, ...(options.region ? { region: options.region } : {}), ...(options.qos ? { qos: options.qos } : {}) };

  const cache = new NeutronCache();
  const tracker = new ResyncTracker();
  /**
   * Delivered resources by formatted key, with the Neutron object each came from and its
   * version: this source's own counter, bumped whenever a key gets different content (Neutron's
   * revision_number cannot serve: an endpoint also changes with subnets, groups, floating IPs…).
   */
  const delivered = new Map<string, Delivered>();
  let versions = 0;
  /** Per listing (a collection, `ports`, `localPorts`): the server's time when it last answered. */
  const listedAt = new Map<string, number>();
  const counters: Counters = { polls: 0, fullSyncs: 0, incrementalPolls: 0, pollErrors: 0, upserts: 0, deletes: 0, staleAddressChecks: 0, projectListErrors: 0 };

  let sink: SourceSink | undefined;
  let started = false;
  let closed = false;
  let needFull = true;
  let lastFullAt: number | undefined;
  let lastSuccessAt: number | undefined;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const abort = new AbortController();
  let chain: Promise<unknown> = Promise.resolve();
  let status: SourceStatus = { phase: 'waiting', connected: false, resources: 0, problems: [], counters: {} };

  const setStatus = (patch: Partial<SourceStatus>): void => {
    status = { ...status, ...patch, counters: { ...counters, authentications: session.authentications, requests: neutron.requests } };
  };

  /** Lists one collection (all of it, or what changed since it was last listed). */
  const list = async <T>(name: NeutronCollectionName, tag: string, query: ListQuery, incremental: boolean, signal: AbortSignal): Promise<T[]> => {
    const since = incremental ? listedAt.get(tag) : undefined;
    const before = now();
    const listing = await neutron.list<T>(name, { ...query, ...(since !== undefined ? { changedSince: neutronTime(since - slackMs) } : {}) }, signal);
    // The server's clock, so that skew between it and this host does not lose changes.
    listedAt.set(tag, listing.serverTime ?? before);
    return listing.items;
  };

  const listPorts = async (incremental: boolean, signal: AbortSignal): Promise<{ all: NeutronPort[]; local: NeutronPort[] }> => {
    if (options.host === undefined) return { all: await list<NeutronPort>('ports', 'ports', {}, incremental, signal), local: [] };
    const local = await list<NeutronPort>('ports', 'localPorts', { filters: { 'binding:host_id': options.host } }, incremental, signal);
    const all = await list<NeutronPort>('ports', 'ports', { fields: SLIM_PORT_FIELDS }, incremental, signal);
    return { all, local };
  };

  const listProjects = async (signal: AbortSignal): Promise<readonly KeystoneProject[] | undefined> => {
    if (!readProjects) return undefined;
    try {
      return await session.listProjects(signal);
    } catch (e) {
      if (signal.aborted) throw e;
      counters.projectListErrors++;
      const err = e as OpenStackError;
      setStatus({ lastError: { code: err.code ?? 'OPENSTACK_HTTP', message: `projects not readable, project name labels left out: ${err.message}`, at: new Date(now()).toISOString() } });
      return cache.projects;
    }
  };

  /** Asks Neutron whether the other ports holding an address that changed ports claim still exist. */
  const dropStaleHolders = async (changed: readonly NeutronPort[], signal: AbortSignal): Promise<void> => {
    const changedIds = new Set(changed.map((p) => p.id));
    const claimed = new Set<string>();
    for (const p of changed) for (const ip of p.fixed_ips ?? []) claimed.add(ip.ip_address);
    if (claimed.size === 0) return;
    const suspects: string[] = [];
    for (const p of cache.allPorts()) {
      if (changedIds.has(p.id)) continue;
      if ((p.fixed_ips ?? []).some((ip) => claimed.has(ip.ip_address))) suspects.push(p.id);
    }
    for (let i = 0; i < suspects.length; i += 50) {
      const ids = suspects.slice(i, i + 50);
      counters.staleAddressChecks++;
      const alive = new Set((await neutron.list<{ id: string }>('ports', { filters: { id: ids }, fields: ['id'] }, signal)).items.map((p) => p.id));
      for (const id of ids) if (!alive.has(id)) cache.deletePort(id);
    }
  };

  /** Converts the cache and turns the difference from what was delivered into messages. */
  const deliver = (full: boolean): SourceMessage[] => {
    const conversion = convertNeutron(cache.inputs(), convertOptions);
    const errors = conversion.problems.filter((p) => p.severity === 'error');
    const failed = new Set(errors.map((p) => originOf(p.collection, p.id)));
    const desired = new Map<string, Delivered>();
    for (const r of conversion.resources) {
      const key = r.key;
      const was = delivered.get(key);
      // The conversion memo hands back the very object when nothing changed; compare content only otherwise.
      const same = was !== undefined && (was.resource === r.resource || JSON.stringify(was.resource) === JSON.stringify(r.resource));
      desired.set(key, { resource: same ? was.resource : r.resource, origin: originOf(r.collection, r.id), version: same ? was.version : ++versions });
    }
    // A resource whose object fails now keeps its last good version.
    for (const [key, d] of delivered) if (!desired.has(key) && failed.has(d.origin)) desired.set(key, d);

    const out: SourceMessage[] = [];
    const push = (m: SourceMessage | undefined): void => {
      if (m === undefined) return;
      out.push(m);
      if (m.kind === 'upsert') counters.upserts++;
      else if (m.kind === 'delete') counters.deletes++;
    };
    if (full) push(tracker.beginResync());
    for (const [key, d] of desired) if (full || delivered.get(key)?.version !== d.version) push(tracker.upsert(d.resource, String(d.version)));
    if (full) for (const m of tracker.endResync(String(versions))) push(m);
    else for (const [key, d] of delivered) if (!desired.has(key)) push(tracker.delete(resourceKey(d.resource)));
    delivered.clear();
    for (const [key, d] of desired) delivered.set(key, d);

    const problems: SourceProblem[] = errors.slice(-maxProblems).map((p) => ({
      where: `${p.object}${p.path.length > 2 ? ` ${formatNeutronPath(p.path.slice(2))}` : ''}`,
      message: p.message,
      ...(p.issues ? { issues: p.issues } : {}),
    }));
    setStatus({ problems });
    return out;
  };

  /** One poll: list, convert, deliver in one batch; or fail and deliver nothing. */
  const poll = async (full: boolean): Promise<boolean> => {
    const signal = abort.signal;
    counters.polls++;
    try {
      let changed = full;
      if (full) {
        const lists = await Promise.all(COLLECTIONS.map((c) => list<{ id: string }>(c, c, {}, false, signal)));
        const ports = await listPorts(false, signal);
        const projects = await listProjects(signal);
        COLLECTIONS.forEach((c, i) => cache[c].replace(lists[i] as never[]));
        cache.ports.replace(ports.all);
        cache.localPorts.replace(ports.local);
        cache.projects = projects;
      } else {
        // Groups before ports, as the driver writes policy before endpoints.
        for (const c of COLLECTIONS) if (cache[c].merge((await list<{ id: string }>(c, c, {}, true, signal)) as never[])) changed = true;
        const ports = await listPorts(true, signal);
        const a = cache.ports.merge(ports.all);
        const b = cache.localPorts.merge(ports.local);
        if (a || b) {
          changed = true;
          await dropStaleHolders([...ports.all, ...ports.local], signal);
        }
      }
      if (closed) return false;
      const messages = changed ? deliver(full) : [];
      if (closed) return false;
      if (messages.length > 0) sink?.(messages);
      const t = now();
      lastSuccessAt = t;
      if (full) {
        lastFullAt = t;
        counters.fullSyncs++;
      } else counters.incrementalPolls++;
      failures = 0;
      needFull = false;
      setStatus({ phase: 'in-sync', connected: true, resources: tracker.size, ...(versions > 0 ? { revision: String(versions) } : {}) });
      return true;
    } catch (e) {
      if (closed) return false;
      failures++;
      // Changes (and deletions) may have been missed: the next poll lists everything.
      needFull = true;
      counters.pollErrors++;
      const err = e instanceof OpenStackError ? e : new OpenStackError('OPENSTACK_BAD_RESPONSE', (e as Error).message, { cause: e });
      setStatus({
        phase: err.code === 'OPENSTACK_AUTH_FAILED' || err.code === 'OPENSTACK_NO_ENDPOINT' ? 'failed' : 'waiting',
        connected: false,
        lastError: { code: err.code, message: err.message, at: new Date(now()).toISOString() },
      });
      return false;
    }
  };

  /** Polls once, after any poll already running (polls never overlap). */
  const runPoll = (forceFull: boolean): Promise<boolean> => {
    const p = chain.then(() => {
      if (closed) return false;
      const due = lastFullAt === undefined || now() - lastFullAt >= resyncIntervalMs;
      return poll(forceFull || needFull || due);
    });
    chain = p.catch(() => undefined);
    return p;
  };

  const loop = async (): Promise<void> => {
    timer = undefined;
    if (closed) return;
    const ok = await runPoll(false);
    if (closed) return;
    const delay = ok ? pollIntervalMs : Math.min(retryMax, retryInitial * 2 ** (failures - 1));
    timer = setTimeout(() => void loop(), delay);
  };

  return {
    name: 'openstack',
    async start(s) {
      if (started) throw new OpenStackError('SOURCE_ALREADY_STARTED', 'a source is started once');
      started = true;
      sink = s;
      setStatus({});
      if (options.autoPoll ?? true) void loop();
    },
    pollNow(opts = {}) {
      if (!started) return Promise.reject(new OpenStackError('OPENSTACK_INVALID_OPTIONS', 'start the source before polling it'));
      return runPoll(opts.full === true);
    },
    status() {
      return {
        ...status,
        ...(lastSuccessAt !== undefined ? { lastSuccessAt: new Date(lastSuccessAt).toISOString(), stalenessMs: Math.max(0, now() - lastSuccessAt) } : {}),
        ...(lastFullAt !== undefined ? { lastFullSyncAt: new Date(lastFullAt).toISOString() } : {}),
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      abort.abort();
      await chain;
      setStatus({ phase: 'stopped', connected: false });
    },
  };
}
