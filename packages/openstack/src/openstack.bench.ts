/**
 * OpenStack benchmarks on a synthetic cloud of 10,000 VM ports on 250 hosts and 1,000 security
 * groups (seven rules each: remote groups, CIDRs, port ranges, ICMP, IPv6):
 *  - the conversion: fresh (every object converted and validated), again with the memo a live
 *    source keeps (nothing changed), and with one port changed; reading the saved API bodies;
 *  - the source against the test Keystone + Neutron over HTTP on loopback (the server runs in
 *    this process, so its JSON encoding is in the times): the first full list in controller and
 *    agent mode (time and bytes), an idle changed_since poll, and a poll that finds one change.
 * Run: `npm run bench:sources` (prints JSON lines).
 */
import { applySourceMessages, createEngine, NoopDataplane, type SourceMessage } from '@gingham/core';
import { convertNeutron, createConversionMemo } from './convert/convert.js';
import { readBodies } from './convert/read-bodies.js';
import { createOpenStackSource } from './source/openstack-source.js';
import { syntheticCloud } from './testing/fixtures.js';
import { createTestCloud } from './testing/test-cloud.js';

type Row = { bench: string; metric: string; value: number; unit: string };

const PORTS = 10_000;
const GROUPS = 1_000;

/** A full collection before a timed section, when `--expose-gc` allows it (the bench script sets it). */
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void, runs: number): number {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    gc();
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return median(out);
}

export async function runOpenStackBench(emit: (row: Row) => void): Promise<void> {
  const bench = 'openstack';
  const cloud = syntheticCloud({ ports: PORTS, securityGroups: GROUPS });

  // The conversion.
  convertNeutron(cloud); // warm up
  const fresh = time(() => convertNeutron(cloud), 5);
  emit({ bench, metric: 'openstack_convert_10k_ports_ms', value: fresh, unit: 'ms' });
  emit({ bench, metric: 'openstack_convert_per_port_us', value: (fresh * 1000) / (PORTS + GROUPS), unit: 'us' });
  const memo = createConversionMemo();
  convertNeutron(cloud, { memo });
  emit({ bench, metric: 'openstack_convert_10k_ports_unchanged_memo_ms', value: time(() => convertNeutron(cloud, { memo }), 5), unit: 'ms' });
  let n = 0;
  const oneChanged = time(() => {
    const ports = [...cloud.ports];
    ports[n % PORTS] = { ...ports[n % PORTS]!, name: `renamed-${n++}` };
    convertNeutron({ ...cloud, ports }, { memo });
  }, 5);
  emit({ bench, metric: 'openstack_convert_10k_ports_one_changed_memo_ms', value: oneChanged, unit: 'ms' });
  const portsText = JSON.stringify({ ports: cloud.ports });
  const sgText = JSON.stringify({ security_groups: cloud.securityGroups });
  emit({ bench, metric: 'openstack_bodies_10k_ports_bytes', value: portsText.length + sgText.length, unit: 'bytes' });
  emit({
    bench,
    metric: 'openstack_read_bodies_10k_ports_ms',
    value: time(() => readBodies([{ collection: 'ports', file: 'p', text: portsText }, { collection: 'securityGroups', file: 's', text: sgText }]), 3),
    unit: 'ms',
  });

  // The source, over HTTP.
  const server = await createTestCloud();
  try {
    for (const p of cloud.ports) server.put('ports', p);
    for (const g of cloud.securityGroups) server.put('securityGroups', g);
    for (const x of cloud.networks) server.put('networks', x);
    for (const x of cloud.subnets) server.put('subnets', x);
    for (const x of cloud.projects) server.putProject(x);
    const putAt = performance.now();
    const keystone = { authUrl: server.authUrl, credentials: { kind: 'password' as const, username: 'admin', password: 'secret', projectName: 'admin' } };
    for (const mode of ['controller', 'agent'] as const) {
      const engine = createEngine({ node: 'compute-0000', dataplane: new NoopDataplane() });
      const source = createOpenStackSource({ keystone, autoPoll: false, ...(mode === 'agent' ? { host: 'compute-0000' } : {}) });
      const batches: SourceMessage[][] = [];
      let engineMs = 0;
      await source.start((ms) => {
        batches.push([...ms]);
        const t0 = performance.now();
        applySourceMessages(engine, ms);
        engineMs += performance.now() - t0;
      });
      try {
        gc();
        let bytes = server.bytesSent;
        let t = performance.now();
        if (!(await source.pollNow())) throw new Error(`full list failed: ${source.status().lastError?.message}`);
        // The source's own work: listing, converting, diffing (the Engine's upserts in the sink are apart).
        emit({ bench, metric: `openstack_source_${mode}_full_sync_ms`, value: performance.now() - t - engineMs, unit: 'ms' });
        emit({ bench, metric: `openstack_source_${mode}_full_sync_engine_upserts_ms`, value: engineMs, unit: 'ms' });
        emit({ bench, metric: `openstack_source_${mode}_full_sync_bytes`, value: server.bytesSent - bytes, unit: 'bytes' });
        emit({ bench, metric: `openstack_source_${mode}_resources`, value: source.status().resources, unit: 'count' });
        await engine.flush();

        // An idle poll asks for what changed since the previous listing minus the source's 10 s
        // slack: within 10 s of the cloud being written every port still counts as changed.
        const settle = 10_500 - (performance.now() - putAt);
        if (settle > 0) await new Promise((resolve) => setTimeout(resolve, settle));
        const idle: number[] = [];
        for (let i = 0; i < 9; i++) {
          gc();
          bytes = server.bytesSent;
          t = performance.now();
          await source.pollNow();
          idle.push(performance.now() - t);
        }
        emit({ bench, metric: `openstack_source_${mode}_idle_poll_ms`, value: median(idle), unit: 'ms' });
        emit({ bench, metric: `openstack_source_${mode}_idle_poll_bytes`, value: server.bytesSent - bytes, unit: 'bytes' });

        const changed: number[] = [];
        for (let i = 0; i < 9; i++) {
          // A VM leaves one of its groups: one endpoint's labels change.
          const port = server.list<{ id: string; security_groups: string[] }>('ports')[i * 37 + (mode === 'agent' ? 1 : 0)]!;
          server.put('ports', { ...port, security_groups: port.security_groups.slice(0, 1) });
          const before = batches.length;
          gc();
          t = performance.now();
          await source.pollNow();
          changed.push(performance.now() - t);
          const delivered = batches.slice(before).flat();
          if (delivered.length !== 1 || delivered[0]!.kind !== 'upsert') throw new Error(`expected one upsert, got ${delivered.map((m) => m.kind).join(', ')}`);
        }
        emit({ bench, metric: `openstack_source_${mode}_poll_one_port_changed_ms`, value: median(changed), unit: 'ms' });
      } finally {
        await source.close();
      }
    }
  } finally {
    await server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runOpenStackBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`));
}
