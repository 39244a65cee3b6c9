/**
 * `npm run bench:datastore`: the etcd source at scale against a real etcd (started here on free
 * loopback ports, stopped afterwards). N WorkloadEndpoint keys in Calico's layout (default
 * 111,000; GINGHAM_BENCH_ETCD_KEYS), then: the first list + sync, a watch event's latency, and
 * a relist after a compaction past the source's revision while it was cut off (1% of the keys
 * changed meanwhile), where unchanged keys are neither decoded nor re-delivered.
 */
import type { Resource, SourceMessage } from '@gingham/core';
import { Etcd3 } from 'etcd3';
import { createEtcdDatastore } from './etcd/etcd-datastore.js';
import { resolveEtcdConfig } from './etcd/config.js';
import { encodeValue, etcdKey } from './etcd/layout.js';
import { kindOf } from './kinds.js';
import { startEtcd } from './testing/etcd-server.js';
import { startTcpProxy } from './testing/tcp-proxy.js';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

const WEP = kindOf('projectcalico.org/v3', 'WorkloadEndpoint')!;
const wep = (i: number, gen = 0): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'WorkloadEndpoint',
  metadata: { name: `node${i % 1000}-k8s-pod${i}-eth0`, namespace: `ns${i % 100}`, labels: { app: `app${i % 50}`, gen: String(gen) } },
  spec: { node: `node${i % 1000}`, orchestrator: 'k8s', workload: `pod${i}`, endpoint: 'eth0', interfaceName: `cali${i.toString(16).padStart(11, '0')}`, ipNetworks: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`], profiles: [`kns.ns${i % 100}`] },
});
const keyOf = (r: Resource) => etcdKey(WEP, { name: r.metadata.name, namespace: r.metadata.namespace! });

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('bench: timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function runDatastoreBench(emit: Emit): Promise<void> {
  const n = Number(process.env['GINGHAM_BENCH_ETCD_KEYS'] ?? 111_000);
  const server = await startEtcd({ extraArgs: ['--quota-backend-bytes=4294967296'] });
  const raw = new Etcd3({ hosts: [server.endpoint] });
  const proxy = await startTcpProxy(Number(new URL(server.endpoint).port));
  try {
    process.stderr.write(`bench: writing ${n} WorkloadEndpoint keys\n`);
    for (let i = 0; i < n; i += 100) {
      const puts = [];
      for (let j = i; j < Math.min(n, i + 100); j++) puts.push(raw.put(keyOf(wep(j))).value(encodeValue(wep(j), WEP)));
      await raw.if(`/bench/none`, 'Version', '==', 0).then(...puts).commit();
    }
    const ds = createEtcdDatastore({ config: await resolveEtcdConfig({ flags: { endpoints: `http://${proxy.address}` } }), requestTimeoutMs: 60_000 });
    let inSync = 0;
    let upserts = 0;
    let lastUpsertAt = 0;
    const sink = (ms: readonly SourceMessage[]) => {
      for (const m of ms) {
        if (m.kind === 'in-sync') inSync++;
        if (m.kind === 'upsert') {
          upserts++;
          lastUpsertAt = performance.now();
        }
      }
    };
    const source = ds.source({ backoff: { initialMs: 20, maxMs: 200 }, relistAfterOutageMs: 600_000 });
    const t0 = performance.now();
    await source.start(sink);
    await until(() => inSync === 1, 600_000);
    emit({ bench: 'etcd-source', metric: `initial_sync_ms_${n}_keys`, value: performance.now() - t0, unit: 'ms' });
    emit({ bench: 'etcd-source', metric: 'initial_sync_heap_mb', value: process.memoryUsage().heapUsed / 1048576, unit: 'MiB' });

    const lat: number[] = [];
    for (let k = 0; k < 50; k++) {
      const before = upserts;
      const t = performance.now();
      await raw.put(keyOf(wep(k))).value(encodeValue(wep(k, k + 1), WEP));
      await until(() => upserts > before, 10_000);
      lat.push(lastUpsertAt - t);
    }
    lat.sort((a, b) => a - b);
    emit({ bench: 'etcd-source', metric: 'watch_event_p50_ms', value: lat[25]!, unit: 'ms' });

    proxy.cut();
    await until(() => !source.status().connected, 10_000);
    const changed = Math.max(1, Math.floor(n / 100));
    for (let i = 0; i < changed; i++) await raw.put(keyOf(wep(i * 97 % n))).value(encodeValue(wep(i * 97 % n, 1000), WEP));
    await server.compact();
    const before = upserts;
    const t1 = performance.now();
    proxy.restore();
    await until(() => inSync === 2, 600_000);
    emit({ bench: 'etcd-source', metric: `relist_after_compaction_ms_${n}_keys`, value: performance.now() - t1, unit: 'ms' });
    emit({ bench: 'etcd-source', metric: 'relist_upserts', value: upserts - before, unit: 'resources' });
    await ds.close();
  } finally {
    raw.close();
    await proxy.close();
    await server.close();
  }
}
