/**
 * One reader of the collector's records (a stream client or an HTTP request): the history that
 * matches its filter, then — when following — each window's matching records as it closes.
 * A reader that does not keep up (more than `maxBuffered` bytes waiting) loses records rather
 * than growing the collector's memory; it is told how many with a `"type":"dropped"` line.
 */
import type { FlowRecord } from '@gingham/core';
import type { FlowCollector, FlowWindow } from '../collector.js';
import { type FlowFilter, matchesFilter } from '../filter.js';

export interface ReaderRequest {
  readonly filter?: FlowFilter;
  /** Keep the connection open and send each new window's records. */
  readonly follow?: boolean;
  /** Skip the history (only new windows). */
  readonly noHistory?: boolean;
  /** Only the last N history records. */
  readonly last?: number;
  /** Send window summary lines too. */
  readonly summaries?: boolean;
}

export interface ReaderSink {
  /** Writes text; false when the peer's buffer is full (as `socket.write`). */
  write(text: string): boolean;
  /** Bytes waiting to be sent. */
  buffered(): number;
  end(): void;
}

const MAX_BUFFERED = 8 * 1024 * 1024;

/** Starts serving `req` to `sink`; returns the function that stops (on disconnect). */
export function serveReader(collector: FlowCollector, req: ReaderRequest, sink: ReaderSink, maxBuffered = MAX_BUFFERED): () => void {
  const filter = req.filter ?? {};
  if (!req.noHistory) {
    let past = collector.records(filter);
    if (req.last !== undefined) past = past.slice(Math.max(0, past.length - req.last));
    if (past.length > 0) sink.write(`${past.map((r) => JSON.stringify(r)).join('\n')}\n`);
  }
  if (!req.follow) {
    sink.end();
    return () => undefined;
  }
  let dropped = 0;
  const unsubscribe = collector.subscribe((w: FlowWindow) => {
    const records: FlowRecord[] = w.records.filter((r) => matchesFilter(r, filter));
    const lines = records.map((r) => JSON.stringify(r));
    if (req.summaries) lines.push(JSON.stringify(w.summary));
    if (lines.length === 0) return;
    if (sink.buffered() > maxBuffered) {
      dropped += records.length;
      return;
    }
    if (dropped > 0) {
      lines.unshift(JSON.stringify({ type: 'dropped', records: dropped }));
      dropped = 0;
    }
    sink.write(`${lines.join('\n')}\n`);
  });
  return unsubscribe;
}
