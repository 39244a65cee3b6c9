/**
 * The iptables flow source's capacity (root only; a scratch network namespace created and
 * removed here, processes stopped by pid): NFLOG verdict events from the kernel through the
 * netlink relay child and its pipe into the source, drained every 100 ms as the collector does.
 * A child in the namespace sends UDP datagrams as fast as it can; an NFLOG rule with a flow-log
 * prefix logs each one. JSON lines via `emit`:
 *  - drain (the relay's capacity, not the sender's): the relay is stopped (SIGSTOP) while 8,000
 *    events queue in its 4 MiB receive buffer, then continued while this process polls every
 *    millisecond; `iptables_flow_drain_events_per_s` = 8,000 ÷ the time from SIGCONT to the
 *    last delivered event (median of 5 rounds);
 *  - sustained (200,000 datagrams, the source drained every 100 ms as the collector does):
 *    `udp_sent_per_s` (the sender's rate, an upper bound here), `iptables_flow_events_per_s`
 *    (delivered ÷ first send to last delivery), `…_lost` (NFLOG sequence gaps), `…_missing`
 *    (neither delivered nor counted: sent while a relay was being restarted), `…_relay_restarts`.
 * Run: `npm run bench:iptables-flows`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type { FlowSink } from '@gingham/core';
import { createIptablesFlowSource } from './flows/flow-source.js';

type Row = { bench: string; metric: string; value: number; unit: string };
type Emit = (row: Row) => void;

const POLL_MS = 100;

const DRAIN_EVENTS = 8_000;
const DRAIN_ROUNDS = 5;

function sendScript(count: number): string {
  return `const s=require('dgram').createSocket('udp4');let i=0;const b=Buffer.alloc(32);const t=process.hrtime.bigint();` + `(function go(){for(let k=0;k<256&&i<${count};k++,i++)s.send(b,9,'127.0.0.1',i===${count}-1?()=>{process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));s.close();}:undefined);if(i<${count})setImmediate(go);})();`;
}

async function drain(ns: string, emit: Emit): Promise<void> {
  const source = createIptablesFlowSource({ netns: ns });
  const rates: number[] = [];
  let lostTotal = 0;
  try {
    await source.ready;
    let delivered = 0;
    const sink: FlowSink = { verdict: () => void delivered++, connection: () => undefined, lost: (n) => void (lostTotal += n) };
    for (let round = 0; round < DRAIN_ROUNDS; round++) {
      delivered = 0;
      const pid = source.stats().relayPid!;
      process.kill(pid, 'SIGSTOP');
      let continued: number;
      try {
        const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', sendScript(DRAIN_EVENTS)], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`sender: ${r.stderr}`);
        await new Promise((r) => setTimeout(r, 200)); // NFLOG flushes its batches within 100 ms
      } finally {
        continued = performance.now();
        process.kill(pid, 'SIGCONT');
      }
      let last = continued;
      const deadline = continued + 10_000;
      while (delivered < DRAIN_EVENTS && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
        const before = delivered;
        await source.poll(sink);
        if (delivered !== before) last = performance.now();
      }
      if (delivered < DRAIN_EVENTS) throw new Error(`drain: ${delivered} of ${DRAIN_EVENTS} events arrived (lost ${lostTotal}, restarts ${source.stats().restarts})`);
      rates.push(DRAIN_EVENTS / ((last - continued) / 1000));
    }
  } finally {
    await source.close();
  }
  rates.sort((a, b) => a - b);
  emit({ bench: 'iptables.flows', metric: 'iptables_flow_drain_events_per_s', value: rates[Math.floor(rates.length / 2)]!, unit: 'events/s' });
  emit({ bench: 'iptables.flows', metric: 'iptables_flow_drain_events_lost', value: lostTotal, unit: 'events' });
}

async function burst(ns: string, count: number, emit: Emit, label: string): Promise<void> {
  const source = createIptablesFlowSource({ netns: ns });
  try {
    await source.ready;
    let delivered = 0;
    let lost = 0;
    const sink: FlowSink = { verdict: () => void delivered++, connection: () => undefined, lost: (n) => void (lost += n) };
    const sender = sendScript(count);
    const started = performance.now();
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', sender], { stdio: ['ignore', 'pipe', 'inherit'] });
    let sendMs = '';
    child.stdout.on('data', (d: Buffer) => void (sendMs += d.toString()));
    const sent = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let done = false;
    void sent.then(() => void (done = true));
    let lastChange = performance.now();
    let lastDelivered = -1;
    let finishedAt = started;
    // Drain until everything arrived, or nothing new came for 2 s after the sender finished.
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      await source.poll(sink);
      if (delivered !== lastDelivered) {
        lastDelivered = delivered;
        lastChange = performance.now();
        finishedAt = lastChange;
      }
      if (done && (delivered + lost >= count || performance.now() - lastChange > 2000)) break;
    }
    const stats = source.stats();
    const s = (finishedAt - started) / 1000;
    const row = (metric: string, value: number, unit: string): void => emit({ bench: 'iptables.flows', metric: `${metric}_${label}`, value, unit });
    row('udp_sent_per_s', count / (Number(sendMs) / 1000), 'datagrams/s');
    row('iptables_flow_events_per_s', delivered / s, 'events/s');
    row('iptables_flow_events_delivered', delivered, 'events');
    row('iptables_flow_events_lost', lost, 'events');
    row('iptables_flow_events_missing', Math.max(0, count - delivered - lost), 'events');
    row('iptables_flow_relay_restarts', stats.restarts, 'restarts');
  } finally {
    await source.close();
  }
}

export async function runIptablesFlowsBench(emit: Emit): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench iptables-flows: needs root (it creates a network namespace)');
  const ns = `gh-flbench-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns]).status !== 0) throw new Error(`bench: cannot create network namespace ${ns}`);
  try {
    const inNs = (...argv: string[]) => spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8' });
    inNs('ip', 'link', 'set', 'lo', 'up');
    const r = inNs('iptables', '-A', 'OUTPUT', '-p', 'udp', '--dport', '9', '-j', 'NFLOG', '--nflog-group', '2', '--nflog-prefix', 'APE0|default.p');
    if (r.status !== 0) throw new Error(`iptables: ${r.stderr}`);
    await drain(ns, emit);
    await burst(ns, 200_000, emit, '200k');
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runIptablesFlowsBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`));
}
