import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubernetesSource } from './src/kubernetes-source.js';
const n = Number(process.argv[2] ?? 20000);
const child = spawn(process.execPath, ['bench/api-server-process.mjs', JSON.stringify({ pods: n, namespaces: n / 50, nodes: 100, policies: Math.round(n / 9) })], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
const ready = JSON.parse((await lines.next()).value);
const kc = new KubeConfig(); kc.loadFromString(ready.kubeconfig);
const heap = () => { (globalThis as any).gc(); (globalThis as any).gc(); return process.memoryUsage().heapUsed; };
const before = heap();
const src = createKubernetesSource({ kubeConfig: kc, timing: { resyncPeriodMs: 0 } });
await src.start(() => {});
await src.synced(600000);
const after = heap();
console.log('bytes/pod', ((after - before) / n).toFixed(0), 'MB', ((after - before) / 1048576).toFixed(1));
// Pods only: drop everything else and measure again.
await src.close();
child.stdin!.write('{"op":"exit"}\n');
