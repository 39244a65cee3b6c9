/**
 * Reading flow records back, for `gingham flows` and other tools: from a collector's local
 * stream (one request line, then JSON lines) or from JSON lines files, rotated siblings first
 * (`flows.jsonl.5` … `flows.jsonl.1`, then `flows.jsonl`). Lines are handed over as they come;
 * records are checked with core's `validateFlowRecord`, and a bad line is reported with its
 * file and line, never thrown.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { parseFlowRecordLine, type FlowRecord, type Issue } from '@gingham/core';
import { FlowsError, type WindowSummary } from './collector.js';
import type { ReaderRequest } from './outputs/serve.js';

export type FlowLine =
  | { readonly kind: 'record'; readonly record: FlowRecord }
  | { readonly kind: 'window'; readonly summary: WindowSummary }
  | { readonly kind: 'dropped'; readonly records: number }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'invalid'; readonly issue: Issue };

/** Classifies one JSON line of a stream or file. */
export function parseFlowLine(text: string, file: string, line: number): FlowLine | undefined {
  if (text.trim() === '') return undefined;
  if (text.startsWith('{"type":')) {
    try {
      const v = JSON.parse(text) as { type?: string; records?: number; message?: string };
      if (v.type === 'window') return { kind: 'window', summary: v as WindowSummary };
      if (v.type === 'dropped') return { kind: 'dropped', records: Number(v.records ?? 0) };
      if (v.type === 'error') return { kind: 'error', message: String(v.message ?? 'unknown error') };
    } catch {
      // falls through to the record parser, which names the problem
    }
  }
  const r = parseFlowRecordLine(text, file, line);
  return r.ok ? { kind: 'record', record: r.record } : { kind: 'invalid', issue: r.issue };
}

/** The files of a rotated log, oldest first (`path.N` … `path.1`, `path`), those that exist. */
export function rotatedFiles(path: string, keep = 100): string[] {
  const out: string[] = [];
  for (let i = keep; i >= 1; i--) if (existsSync(`${path}.${i}`)) out.push(`${path}.${i}`);
  if (existsSync(path)) out.push(path);
  return out;
}

/** Reads JSON lines files in order, line by line. */
export async function readFlowFiles(files: readonly string[], onLine: (l: FlowLine) => void): Promise<void> {
  for (const file of files) {
    const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    let n = 0;
    for await (const text of rl) {
      n++;
      const l = parseFlowLine(text, file, n);
      if (l) onLine(l);
    }
  }
}

export interface StreamReadOptions {
  readonly path: string;
  readonly request: ReaderRequest;
  readonly signal?: AbortSignal;
}

/** Reads a collector's stream until it ends (or `signal` aborts). */
export function readFlowStream(options: StreamReadOptions, onLine: (l: FlowLine) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(options.path);
    let n = 0;
    let failed = false;
    const abort = (): void => {
      socket.destroy();
    };
    options.signal?.addEventListener('abort', abort, { once: true });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (failed) return;
      failed = true;
      options.signal?.removeEventListener('abort', abort);
      const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? ' (is the agent running with --flow-logs, on this socket? or read files with --file)' : e.code === 'EACCES' ? ' (run as root or a member of its group)' : '';
      reject(new FlowsError('FLOWS_STREAM_FAILED', `cannot read the flow stream ${options.path}: ${e.message}${hint}`, { cause: e }));
    });
    socket.once('connect', () => socket.write(`${JSON.stringify(options.request)}\n`));
    const rl = createInterface({ input: socket, crlfDelay: Infinity });
    rl.on('error', () => undefined); // the socket's own error handler reports it
    rl.on('line', (text) => {
      n++;
      const l = parseFlowLine(text, options.path, n);
      if (l) onLine(l);
    });
    socket.once('close', () => {
      options.signal?.removeEventListener('abort', abort);
      if (!failed) resolve();
    });
  });
}
