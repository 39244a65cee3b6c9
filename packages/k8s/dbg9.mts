import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { KubeConfig } from '@kubernetes/client-node';
import { applySourceMessages, createEngine, NoopDataplane } from '@gingham/core';
import { createKubernetesSource } from './src/kubernetes-source.js';
const child = spawn(process.execPath, ['bench/api-server-process.mjs', JSON.stringify({ pods: 20000, namespaces: 400, nodes: 100, policies: 2222 })], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
const ready = JSON.parse((await lines.next()).value);
const kc = new KubeConfig(); kc.loadFromString(ready.kubeconfig);
const engine = process.argv[2] === 'engine' ? createEngine({ node: 'node-0', dataplane: new NoopDataplane() }) : undefined;
for (let k = 0; k < 2; k++) {
  const t0 = performance.now();
  const src = createKubernetesSource({ kubeConfig: kc, timing: { resyncPeriodMs: 0 } });
  await src.start((ms) => { if (engine && k === 1) applySourceMessages(engine, ms); });
  await src.synced(600000);
  console.log('sync', k, (performance.now() - t0).toFixed(0));
  await src.close();
}
child.stdin!.write('{"op":"exit"}\n');
