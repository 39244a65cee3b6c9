/**
 * Test helpers (`@gingham/flows/testing`): a flow source that replays what a test scripts, for
 * collector tests and for wiring tests of whoever embeds the collector. Not a dataplane: real
 * dataplanes have their own sources, tested against the kernel.
 */
import type { FlowConnectionUpdate, FlowSink, FlowSource, FlowSourceStats, FlowVerdictEvent } from '@gingham/core';

export interface ScriptedFlowSource extends FlowSource {
  /** Queues verdict events for the next poll. */
  verdict(...events: FlowVerdictEvent[]): void;
  /** Sets a connection's cumulative counters, reported on polls with counters until it is closed. */
  connection(update: FlowConnectionUpdate): void;
  /** Queues a lost-events count. */
  lose(count: number): void;
  readonly closed: boolean;
}

export function createScriptedFlowSource(name = 'scripted'): ScriptedFlowSource {
  const queue: FlowVerdictEvent[] = [];
  const conns = new Map<string, FlowConnectionUpdate>();
  let lost = 0;
  let closed = false;
  const totals = { events: 0, lost: 0, connections: 0 };
  return {
    name,
    verdict: (...events) => void queue.push(...events),
    connection(u) {
      conns.set(`${u.protocol}|${u.src}|${u.srcPort}|${u.dst}|${u.dstPort}`, u);
    },
    lose(n) {
      lost += n;
    },
    get closed() {
      return closed;
    },
    poll(sink: FlowSink, o = {}) {
      const n = Math.min(queue.length, o.maxEvents ?? queue.length);
      for (const e of queue.splice(0, n)) {
        totals.events++;
        sink.verdict(e);
      }
      if (lost > 0) {
        totals.lost += lost;
        sink.lost(lost);
        lost = 0;
      }
      if (o.counters) {
        for (const [k, u] of conns) {
          totals.connections++;
          sink.connection(u);
          if (u.closed) conns.delete(k);
        }
      }
    },
    stats: (): FlowSourceStats => ({ ...totals }),
    close() {
      closed = true;
    },
  };
}
