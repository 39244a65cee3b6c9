/**
 * The etcd source: Felix's watcher-syncer over Calico's layout, made stricter where Calico is
 * loose.
 *
 *   list (paged, one pinned revision R) ─▶ resync-started, changes…, deletes for what vanished, in-sync
 *   watch prefix from R+1 with prev_kv ─▶ upsert / delete per watch response (one batch each)
 *   watch canceled (compaction, server cancel) ──────────────▶ relist (only what changed is emitted)
 *   connection lost ─▶ reconnect with jittered backoff from the last revision really processed;
 *                      down longer than relistAfterOutageMs, or an expired auth token ─▶ relist
 *
 * Design notes. One watch covers `/calico/resources/v3/projectcalico.org/` (every kind at one
 * consistent revision; Felix runs one watch per kind). etcd3's own watch reconnect is not used:
 * it resumes from the response header's revision, which can be ahead of the events actually
 * received (a created response, or a catch-up batch), so events could be lost; this source
 * resumes from the highest mod_revision it processed (or a progress notification's revision).
 * Libcalico-go has no compaction handling of its own (five failed re-watches, then a relist);
 * here any cancel relists at once. An invalid value (bad JSON, a policy failing validation) is
 * skipped and reported (status problems, the log, the `invalid` counter) while every other key
 * applies; if the key held a valid resource before, that last good version stays in force
 * (fail closed) until the key is fixed or deleted. Felix instead turns invalid updates into
 * deletes; see docs/datastores.md.
 */
import { GinghamError, ResyncTracker, type ResourceKey, type Source, type SourceMessage, type SourceSink, type SourceStatus } from '@gingham/core';
import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';
import { createBackoff, sleep } from '@gingham/host';
import type { SourceOptions } from '../datastore.js';
import { keyId } from '../resource.js';
import { SourceBook } from '../source-book.js';
import { isAuthError, toDatastoreError } from './client.js';
import { CALICO_RESOURCES_PREFIX, decodeKeyValue, namedByValue, type Decoded } from './layout.js';
import { listPrefixPages } from './list.js';

export interface EtcdSourceOptions extends SourceOptions {
  /** Relist (rather than resume the watch) after the connection was down longer than this. Default 60 s. */
  readonly relistAfterOutageMs?: number;
  /** Also relist-and-diff this often while healthy; 0 (the default) never. */
  readonly resyncIntervalMs?: number;
  /** A watch not confirmed by etcd within this time is recreated on a new connection. Default 15 s. */
  readonly watchConnectTimeoutMs?: number;
}

export interface EtcdSource extends Source {
  readonly name: 'etcd';
}

interface Internal extends EtcdSourceOptions {
  /** For lists (shared with the datastore). */
  readonly client: Etcd3;
  /** A new client for the watch stream: the source replaces it after a watch error. */
  readonly newWatchClient: () => Etcd3;
  readonly endpoints: readonly string[];
  readonly pageSize: number;
  readonly onClose?: () => void;
}

/** A key listed again at the revision it was delivered at (not decoded again). */
interface Unchanged {
  readonly kind: 'unchanged';
  readonly before: Delivered;
}

type WatchEnd = 'canceled' | 'outage' | 'auth' | 'periodic' | 'closed';

interface Delivered {
  readonly key: ResourceKey;
  /**
   * The resource's id in the tracker: the etcd key itself (the same string) for kinds named by
   * their key, `keyId(key)` for policies (`namedByValue`: two etcd keys can name one).
   */
  readonly id: string;
  readonly revision: string;
}

export function createEtcdSource(options: Internal): EtcdSource {
  const { client } = options;
  /*
   * The watch runs on its own client, replaced after any watch error: etcd3 answers a watch that
   * etcd creates-and-cancels in one response (an invalid auth token after an etcd restart) but
   * leaves its attach queue waiting on it, so later watches on that stream are never sent.
   */
  let watchClient = options.newWatchClient();
  const renewWatchClient = () => {
    watchClient.close();
    watchClient = options.newWatchClient();
  };
  const book = new SourceBook(options.log);
  const tracker = new ResyncTracker();
  const backoff = createBackoff(options.backoff);
  const relistAfterOutageMs = options.relistAfterOutageMs ?? 60_000;
  const connectTimeoutMs = options.watchConnectTimeoutMs ?? 15_000;
  const stop = new AbortController();
  /**
   * etcd key → what it delivered (its key and id are the ones the tracker keeps: one of each per
   * resource); resource id → the etcd key that owns it, for the kinds two keys can name (policies:
   * `namedByValue`; any other kind's id follows from its etcd key alone).
   */
  let delivered = new Map<string, Delivered>();
  let owners = new Map<string, string>();
  /** Whether an in-sync was ever emitted (before it, nothing from this source is enforced). */
  let synced = false;
  /** The highest revision whose events were all processed. */
  let revision = 0;
  let sink: SourceSink | undefined;
  let loop: Promise<void> | undefined;
  let closed = false;
  let endWatch: ((reason: WatchEnd) => void) | undefined;

  const emit = (messages: SourceMessage[]): void => {
    if (closed || !sink || messages.length === 0) return;
    try {
      sink(messages);
    } catch (err) {
      book.count('sinkErrors');
      book.error('SINK_FAILED', `the consumer threw while applying ${messages.length} message(s): ${(err as Error).message}`, 'error');
    }
  };

  /** A put (or a listed key), decoded: upsert unless invalid, duplicate or unchanged. */
  const take = (etcdKey: string, d: Decoded | Unchanged, modRevision: string, out: SourceMessage[]): void => {
    if (d.kind === 'ignored' || (d.kind === 'resource' && !d.info.enforced)) return;
    if (d.kind === 'invalid') {
      book.problem(etcdKey, 'INVALID_VALUE', `${d.message}${delivered.has(etcdKey) ? ' (the last valid version stays in force)' : ' (skipped)'}`, d.issues);
      const kept = delivered.get(etcdKey);
      // During a relist, keep the last good version listed so it is not deleted.
      if (kept && tracker.resyncing) {
        tracker.keep(kept.id);
        if (namedByValue(kept.key.kind)) owners.set(kept.id, etcdKey);
      }
      return;
    }
    const owned = namedByValue(d.kind === 'unchanged' ? d.before.key.kind : d.key.kind);
    const id = d.kind === 'unchanged' ? d.before.id : owned ? keyId(d.key) : (delivered.get(etcdKey)?.id ?? etcdKey);
    const owner = owned ? owners.get(id) : undefined;
    if (owner !== undefined && owner !== etcdKey) {
      book.problem(etcdKey, 'DUPLICATE_KEY', `the same resource is also stored at ${owner}; this key is ignored`);
      const prev = delivered.get(etcdKey);
      if (prev) {
        delivered.delete(etcdKey);
        if (owners.get(prev.id) === etcdKey) owners.delete(prev.id);
        const m = tracker.resyncing ? undefined : tracker.delete(prev.key, modRevision, prev.id);
        if (m) out.push(m);
      }
      return;
    }
    if (d.kind === 'unchanged') {
      // Listed again at the revision delivered: no decode, no validation, nothing emitted (a
      // relist of 100k keys after a compaction costs map lookups, not 100k validations).
      delivered.set(etcdKey, d.before);
      if (owned) owners.set(id, etcdKey);
      tracker.keep(id);
      return;
    }
    book.clearProblem(etcdKey);
    const prev = delivered.get(etcdKey);
    if (prev && prev.id !== id) {
      // The value under this key now names another resource (its policy-name annotation changed).
      owners.delete(prev.id);
      const m = tracker.delete(prev.key, modRevision, prev.id);
      if (m) out.push(m);
    }
    const m = tracker.upsert(d.resource, modRevision, { key: d.key, id });
    if (m) out.push(m);
    delivered.set(etcdKey, { key: d.key, id, revision: modRevision });
    if (owned) owners.set(id, etcdKey);
  };

  const onPut = (etcdKey: string, value: string, modRevision: string, out: SourceMessage[]): void => take(etcdKey, decodeKeyValue(etcdKey, value, modRevision), modRevision, out);

  const onDelete = (etcdKey: string, modRevision: string, out: SourceMessage[]): void => {
    book.clearProblem(etcdKey);
    const prev = delivered.get(etcdKey);
    if (!prev) return;
    delivered.delete(etcdKey);
    owners.delete(prev.id);
    const m = tracker.delete(prev.key, modRevision, prev.id);
    if (m) out.push(m);
  };

  const relist = async (): Promise<void> => {
    book.phase = 'resyncing';
    const t0 = performance.now();
    // Each page is decoded (JSON, validation: pure) as it arrives, while etcd reads the next one,
    // and its buffers are dropped; a key listed at the revision already delivered is not decoded
    // (and in a relist not even read: keys only, then the values of new or changed keys).
    //  - The first list (no in-sync emitted yet: nothing from this source is enforced, the
    //    consumer applies nothing before the in-sync) is also taken and emitted a page at a time,
    //    so the consumer's work overlaps etcd's and no page's resources wait for the whole list.
    //    A list that starts again (or fails and is retried) begins a new resync from what was
    //    emitted so far.
    //  - A relist (the consumer's state is in force) takes nothing into the bookkeeping before the
    //    list is complete, and emits it all in one batch: a list that fails or starts again
    //    leaves everything as it was.
    const streaming = !synced;
    let previous = delivered;
    /** Keys with a problem that were listed (the problems of the others go with them). */
    let troubled = new Set<string>();
    let out: SourceMessage[] = [];
    let listedKeys: { readonly etcdKey: string; readonly modRevision: string; readonly decoded: Decoded | Unchanged }[] = [];
    const begin = (): void => {
      previous = delivered;
      delivered = new Map();
      owners = new Map();
      troubled = new Set();
      out = [tracker.beginResync()];
    };
    const takeListed = (etcdKey: string, modRevision: string, decoded: Decoded | Unchanged): void => {
      const before = previous.get(etcdKey);
      if (before) delivered.set(etcdKey, before);
      take(etcdKey, decoded, modRevision, out);
      if (book.hasProblem(etcdKey)) troubled.add(etcdKey);
    };
    if (streaming) begin();
    const { count, revision: listRevision } = await listPrefixPages(client, CALICO_RESOURCES_PREFIX, options.pageSize, {
      onPage: (kvs) => {
        for (const kv of kvs) {
          const etcdKey = kv.key;
          const modRevision = String(kv.modRevision);
          const before = (streaming ? previous : delivered).get(etcdKey);
          const decoded: Decoded | Unchanged = before && before.revision === modRevision ? { kind: 'unchanged', before } : decodeKeyValue(etcdKey, kv.value ?? '', modRevision);
          if (streaming) takeListed(etcdKey, modRevision, decoded);
          else listedKeys.push({ etcdKey, modRevision, decoded });
        }
        if (streaming && !closed) {
          emit(out);
          out = [];
        }
      },
      onRestart: () => {
        if (streaming) begin();
        else listedKeys = [];
      },
      // A relist reads keys and revisions, and values only where the revision is not the one
      // delivered (new or changed keys): the rest is not decoded anyway.
      ...(streaming ? {} : { wantValue: (key: string, modRevision: number) => delivered.get(key)?.revision !== String(modRevision) }),
    });
    if (closed) return;
    book.info('LISTED', `listed and decoded ${count} key(s) at revision ${listRevision} in ${Math.round(performance.now() - t0)} ms`);
    book.connected = true;
    if (!streaming) {
      begin();
      for (const { etcdKey, modRevision, decoded } of listedKeys) takeListed(etcdKey, modRevision, decoded);
      listedKeys = [];
    }
    for (const where of book.problemKeys()) if (!troubled.has(where)) book.clearProblem(where);
    out.push(...tracker.endResync(String(listRevision)));
    revision = listRevision;
    book.revision = String(listRevision);
    book.count('relists');
    book.phase = 'in-sync';
    synced = true;
    emit(out);
    out = [];
    backoff.reset();
    book.info('IN_SYNC', `listed ${count} key(s) at revision ${listRevision}; ${tracker.size} resource(s) delivered`);
  };

  const onWatchData = (res: IWatchResponse): void => {
    const out: SourceMessage[] = [];
    let max = revision;
    for (const ev of res.events) {
      const etcdKey = ev.kv.key.toString();
      if (ev.type === 'Delete') onDelete(etcdKey, ev.kv.mod_revision, out);
      else onPut(etcdKey, ev.kv.value.toString(), ev.kv.mod_revision, out);
      max = Math.max(max, Number(ev.kv.mod_revision));
    }
    // A response without events is a progress notification: everything up to its revision was sent.
    if (res.events.length === 0) max = Math.max(max, Number(res.header.revision));
    else book.count('events', res.events.length);
    revision = max;
    book.revision = String(max);
    emit(out);
  };

  /** Watches from revision+1 until a relist is needed; reconnects itself after short outages. */
  const watch = (): Promise<WatchEnd> =>
    new Promise<WatchEnd>((resolve) => {
      let current: Watcher | undefined;
      let downSince: number | undefined;
      let retry: NodeJS.Timeout | undefined;
      const periodic = options.resyncIntervalMs ? setTimeout(() => finish('periodic'), options.resyncIntervalMs) : undefined;
      let done = false;
      const finish = (reason: WatchEnd): void => {
        if (done) return;
        done = true;
        endWatch = undefined;
        clearTimeout(retry);
        clearTimeout(periodic);
        const w = current;
        current = undefined;
        if (w) void w.cancel().catch(() => undefined);
        resolve(reason);
      };
      endWatch = finish;
      const attach = (): void => {
        if (done) return;
        const w = watchClient.watch().prefix(CALICO_RESOURCES_PREFIX).withPreviousKV().startRevision(String(revision + 1)).watcher();
        current = w;
        // A watch etcd never confirms (and never fails) is recreated on a fresh connection.
        const stuck = setTimeout(() => {
          if (w !== current) return;
          current = undefined;
          void w.cancel().catch(() => undefined);
          book.count('watchStuck');
          book.error('WATCH_STUCK', `etcd did not confirm the watch from revision ${revision + 1} within ${connectTimeoutMs} ms; reconnecting`);
          renewWatchClient();
          retry = setTimeout(attach, backoff.next());
        }, connectTimeoutMs);
        w.on('connected', () => {
          clearTimeout(stuck);
          if (w !== current) return;
          if (downSince !== undefined) {
            book.count('reconnects');
            book.info('RECONNECTED', `watch resumed from revision ${revision + 1} after ${Date.now() - downSince} ms`);
          }
          downSince = undefined;
          book.connected = true;
          book.phase = 'in-sync';
          backoff.reset();
        });
        w.on('data', (res: IWatchResponse) => {
          if (w === current) onWatchData(res);
        });
        w.on('error', (err: Error) => {
          clearTimeout(stuck);
          if (w !== current) return;
          renewWatchClient();
          // etcd cancels a watch below the compacted revision (and sends no reason): relist.
          book.count('watchCanceled');
          book.error('WATCH_CANCELED', `the watch from revision ${revision + 1} was canceled (${err.message.replace(/:\s*$/, '')}): compacted past it, or canceled by the server; relisting`);
          finish('canceled');
        });
        w.on('disconnected', (err: Error) => {
          clearTimeout(stuck);
          if (w !== current) return;
          current = undefined;
          void w.cancel().catch(() => undefined);
          downSince ??= Date.now();
          book.connected = false;
          book.phase = 'waiting';
          book.count('disconnects');
          book.error('DISCONNECTED', toDatastoreError(err, 'watch', options.endpoints).message);
          if (isAuthError(err)) {
            renewWatchClient();
            return finish('auth');
          }
          retry = setTimeout(() => {
            retry = undefined;
            if (downSince !== undefined && Date.now() - downSince > relistAfterOutageMs) finish('outage');
            else attach();
          }, backoff.next());
        });
      };
      attach();
    });

  const run = async (): Promise<void> => {
    while (!closed) {
      try {
        await relist();
        if (closed) return;
        const reason = await watch();
        if (reason === 'closed' || closed) return;
        book.count(`relist.${reason}`);
        book.info('RELIST', `relisting after ${reason === 'canceled' ? 'a canceled watch' : reason === 'outage' ? 'a long outage' : reason === 'auth' ? 'an authentication error' : 'the resync interval'}`);
      } catch (err) {
        if (closed) return;
        const e = toDatastoreError(err, 'list', options.endpoints);
        book.connected = false;
        book.phase = e.code === 'DS_AUTH' ? 'failed' : 'waiting';
        book.count('listErrors');
        book.error(e.code, e.message, e.code === 'DS_AUTH' ? 'error' : 'warn');
        await sleep(backoff.next(), stop.signal);
      }
    }
  };

  const source: EtcdSource = {
    name: 'etcd',
    async start(s: SourceSink) {
      if (sink) throw new GinghamError('SOURCE_ALREADY_STARTED', 'a source is started once');
      if (closed) throw new GinghamError('SOURCE_CLOSED', 'the source is closed');
      sink = s;
      loop = run();
    },
    status(): SourceStatus {
      return book.status(tracker.size);
    },
    async close() {
      if (closed) return;
      closed = true;
      stop.abort();
      endWatch?.('closed');
      await loop;
      watchClient.close();
      book.phase = 'stopped';
      book.connected = false;
      options.onClose?.();
    },
  };
  return source;
}
