/**
 * Flow records as JSON lines files, rotated by size and by age: `<path>` is written, and when it
 * would pass `maxBytes` or is older than `maxAgeMs` it becomes `<path>.1` (older ones shift up,
 * the oldest beyond `keep` is deleted), as logrotate would do it. Each window's lines are
 * appended in one write; a window summary line (`"type":"window"`) follows its records, so
 * readers can tell empty windows, overflow and lost events from silence. Never writes outside
 * `<path>` and its numbered siblings.
 */
import { appendFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FlowOutput, FlowWindow } from '../collector.js';
import { FlowsError } from '../collector.js';

export interface FileOutputOptions {
  /** The file written (`/var/log/gingham/flows.jsonl`); its directory is created (0755). */
  readonly path: string;
  /** Rotate before a write would pass this size (default 64 MiB). */
  readonly maxBytes?: number;
  /** Rotate when the current file is older than this (default 1 h; 0: never by age). */
  readonly maxAgeMs?: number;
  /** Rotated files kept (default 5). */
  readonly keep?: number;
  /** Write window summary lines (default true). */
  readonly summaries?: boolean;
  readonly now?: () => number;
}

export interface FileOutput extends FlowOutput {
  readonly path: string;
  /** Rotations done. */
  readonly rotations: number;
}

export function createFileOutput(options: FileOutputOptions): FileOutput {
  const { path } = options;
  if (!path) throw new FlowsError('FLOWS_INVALID_ARGUMENT', 'file output needs a path');
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const maxAgeMs = options.maxAgeMs ?? 3_600_000;
  const keep = options.keep ?? 5;
  if (!(maxBytes > 0) || !(maxAgeMs >= 0) || !Number.isInteger(keep) || keep < 0) {
    throw new FlowsError('FLOWS_INVALID_ARGUMENT', `file output ${path}: maxBytes > 0, maxAgeMs ≥ 0 and an integer keep ≥ 0 are needed`);
  }
  const now = options.now ?? Date.now;
  let size: number | undefined;
  let openedAt: number | undefined;
  let rotations = 0;
  let queue: Promise<void> = Promise.resolve();

  const rotate = async (): Promise<void> => {
    if (keep === 0) await rm(path, { force: true });
    else {
      await rm(`${path}.${keep}`, { force: true });
      for (let i = keep - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
      await rename(path, `${path}.1`).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
    rotations++;
    size = 0;
    openedAt = now();
  };

  const write = async (w: FlowWindow): Promise<void> => {
    const lines = w.records.map((r) => JSON.stringify(r));
    if (options.summaries !== false) lines.push(JSON.stringify(w.summary));
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    const bytes = Buffer.byteLength(text);
    if (size === undefined) {
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      try {
        const st = await stat(path);
        size = st.size;
        openedAt = st.birthtimeMs > 0 ? st.birthtimeMs : st.mtimeMs;
      } catch {
        size = 0;
        openedAt = now();
      }
    }
    if (size > 0 && (size + bytes > maxBytes || (maxAgeMs > 0 && now() - (openedAt ?? now()) >= maxAgeMs))) await rotate();
    await appendFile(path, text, { mode: 0o640 });
    size += bytes;
  };

  return {
    path,
    get rotations() {
      return rotations;
    },
    write(w) {
      queue = queue.catch(() => undefined).then(() => write(w));
      return queue;
    },
    async close() {
      await queue.catch(() => undefined);
    },
  };
}
