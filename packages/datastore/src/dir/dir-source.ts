/**
 * The directory source: a directory of manifests, watched (inotify through `fs.watch` as a
 * trigger, plus a periodic rescan that catches whatever notifications miss).
 *
 *   file changed ─▶ wait until it has been quiet for settleMs ─▶ read ─▶ unchanged while read?
 *     ─▶ validate the whole file ─▶ valid: its resources replace its previous ones, in one batch
 *                                 └▶ invalid: its last valid content stays in force, a problem is reported
 *   file deleted ─▶ its resources are deleted (unless another file also defines them)
 *
 * Atomic per file: a file is applied whole or not at all, and never read while it is being
 * written (it must be unchanged for settleMs, and unchanged across the read). Writers that
 * rename a finished temp file into place (as `gingham apply` does) are atomic by construction;
 * that is the recommended way to write. A missing directory keeps the last state in force
 * (fail closed) and reports `DIR_MISSING`; an existing empty directory means no resources.
 * A resource defined in two files comes from the first in path order; the other is reported.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { GinghamError, ResyncTracker, type Source, type SourceMessage, type SourceSink, type SourceStatus } from '@gingham/core';
import type { SourceOptions } from '../datastore.js';
import { keyId } from '../resource.js';
import { SourceBook } from '../source-book.js';
import { mergeFiles, readAndParse, sameSig, walkTree, type FileSig, type ParsedFile } from './dir-files.js';

export interface DirSourceOptions extends SourceOptions {
  /** A file is read only after it has been unchanged this long. Default 200 ms. */
  readonly settleMs?: number;
  /** Rescan this often even without change notifications. Default 2 s. */
  readonly pollIntervalMs?: number;
}

export interface DirSource extends Source {
  readonly name: 'dir';
}

interface FileState {
  readonly sig: FileSig;
  /** The last content that validated (what is in force for this file). */
  readonly good: ParsedFile | undefined;
}

export function createDirSource(options: DirSourceOptions & { readonly dir: string; readonly onClose?: () => void }): DirSource {
  const { dir } = options;
  const settleMs = options.settleMs ?? 200;
  const pollMs = options.pollIntervalMs ?? 2000;
  const book = new SourceBook(options.log);
  const tracker = new ResyncTracker();
  const files = new Map<string, FileState>();
  const duplicateProblems = new Set<string>();
  let sink: SourceSink | undefined;
  let closed = false;
  let synced = false;
  let generation = 0;
  let watcher: FSWatcher | undefined;
  let poll: NodeJS.Timeout | undefined;
  let timer: NodeJS.Timeout | undefined;
  let missingReported = false;
  /** Scans run one at a time. */
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  };

  const emit = (messages: SourceMessage[]) => {
    if (closed || !sink || messages.length === 0) return;
    generation++;
    book.revision = String(generation);
    try {
      sink(messages);
    } catch (err) {
      book.count('sinkErrors');
      book.error('SINK_FAILED', `the consumer threw while applying ${messages.length} message(s): ${(err as Error).message}`, 'error');
    }
  };

  const ensureWatcher = () => {
    if (watcher || closed) return;
    try {
      watcher = watch(dir, { recursive: true }, () => schedule(settleMs));
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // missing directory or no inotify: the periodic rescan covers it
    }
  };

  const schedule = (delay: number) => {
    if (closed || !synced) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void rescan();
    }, delay);
  };

  /** A scan after the first sync: applies changes, reschedules itself for files still being written. */
  const rescan = () =>
    exclusive(async () => {
      if (closed) return;
      try {
        const pending = await scan();
        if (pending !== undefined) schedule(pending);
      } catch (err) {
        book.error('SCAN_FAILED', `cannot read ${dir}: ${(err as Error).message}`, 'error');
      }
    });

  /**
   * Reads every new or changed file that has been quiet for settleMs; returns the delay after
   * which files still being written should be looked at again (undefined: none).
   */
  const scan = async (): Promise<number | undefined> => {
    const tree = await walkTree(dir);
    if (closed) return undefined;
    if (tree.missing) {
      book.connected = false;
      if (!missingReported) book.error('DIR_MISSING', `${dir} does not exist; the last resources read stay in force until it is back`);
      missingReported = true;
      return undefined;
    }
    missingReported = false;
    book.connected = true;
    ensureWatcher();
    const now = Date.now();
    let pending: number | undefined;
    let changed = false;
    const seen = new Set<string>();
    for (const f of tree.files) {
      seen.add(f.rel);
      const st = files.get(f.rel);
      if (st && sameSig(st.sig, f.sig)) continue;
      const quietFor = now - f.sig.mtimeMs;
      if (quietFor < settleMs) {
        pending = Math.min(pending ?? Infinity, settleMs - quietFor + 5);
        continue;
      }
      const parsed = await readAndParse(f);
      const after = await stat(f.abs).catch(() => undefined);
      if (!after || !sameSig({ size: after.size, mtimeMs: after.mtimeMs, ino: after.ino }, f.sig)) {
        pending = Math.min(pending ?? Infinity, settleMs + 5);
        continue;
      }
      book.count('filesRead');
      if (parsed.ok) {
        book.clearProblem(f.rel);
        files.set(f.rel, { sig: f.sig, good: parsed });
      } else {
        const errors = parsed.issues.filter((i) => i.severity === 'error');
        const first = errors[0];
        const at = first ? `${f.rel}:${first.line}:${first.col}: ${first.kind}/${first.name}${first.path ? ` ${first.path}` : ''}: ${first.message}` : f.rel;
        book.problem(f.rel, 'INVALID_FILE', `${errors.length} error(s), first ${at}${st?.good ? '; its last valid content stays in force' : '; nothing from it applies'}`, errors);
        files.set(f.rel, { sig: f.sig, good: st?.good });
      }
      changed = true;
    }
    for (const rel of [...files.keys()]) {
      if (seen.has(rel)) continue;
      files.delete(rel);
      book.clearProblem(rel);
      book.count('filesRemoved');
      changed = true;
    }
    if (changed && synced) emit(diff());
    return pending;
  };

  /** The merged content of all files in force (first file in path order wins a duplicate). */
  const world = () => {
    const ordered = [...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flatMap(([rel, st]) => (st.good ? [{ rel, parsed: st.good }] : []));
    const view = mergeFiles(ordered);
    const now = new Set<string>();
    for (const p of view.problems) {
      const where = `${p.where} (duplicates)`;
      now.add(where);
      book.problem(where, 'DUPLICATE_RESOURCE', p.message);
    }
    for (const w of duplicateProblems) if (!now.has(w)) book.clearProblem(w);
    duplicateProblems.clear();
    for (const w of now) duplicateProblems.add(w);
    return [...view.entries.values()].filter((e) => e.info.enforced);
  };

  /** Changes since the last batch: upserts for new or changed resources, deletes for the rest. */
  const diff = (): SourceMessage[] => {
    const entries = world();
    const out: SourceMessage[] = [];
    for (const e of entries) {
      const m = tracker.upsert(e.resource, e.resource.metadata.resourceVersion);
      if (m) out.push(m);
    }
    const wanted = new Set(entries.map((e) => keyId(e.key)));
    for (const key of tracker.keys()) {
      if (wanted.has(keyId(key))) continue;
      const m = tracker.delete(key);
      if (m) out.push(m);
    }
    return out;
  };

  const source: DirSource = {
    name: 'dir',
    async start(s: SourceSink) {
      if (sink) throw new GinghamError('SOURCE_ALREADY_STARTED', 'a source is started once');
      if (closed) throw new GinghamError('SOURCE_CLOSED', 'the source is closed');
      sink = s;
      book.phase = 'resyncing';
      // The first sync waits (a bounded time) for files that are still being written.
      const deadline = Date.now() + Math.max(10 * settleMs, 2000);
      for (;;) {
        const pending = await exclusive(async () => {
          try {
            return await scan();
          } catch (err) {
            book.error('SCAN_FAILED', `cannot read ${dir}: ${(err as Error).message}`, 'error');
            return settleMs;
          }
        });
        if (closed) return;
        if (pending === undefined || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, pending));
      }
      const entries = world();
      const out: SourceMessage[] = [tracker.beginResync()];
      for (const e of entries) {
        const m = tracker.upsert(e.resource, e.resource.metadata.resourceVersion);
        if (m) out.push(m);
      }
      out.push(...tracker.endResync());
      synced = true;
      book.phase = 'in-sync';
      emit(out);
      book.info('IN_SYNC', `read ${files.size} file(s) in ${dir}; ${tracker.size} resource(s) delivered`);
      poll = setInterval(() => void rescan(), pollMs);
      schedule(settleMs);
    },
    status(): SourceStatus {
      return book.status(tracker.size);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
      await chain;
      book.phase = 'stopped';
      book.connected = false;
      options.onClose?.();
    },
  };
  return source;
}
