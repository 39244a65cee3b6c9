// Writes flow-log.jsonl: an hour of the quick-start shop's traffic as Calico's collector would log
// it (15 s windows, both ends reporting), simulated with @gingham/core's flowLogRecords from the
// manifests in ../quickstart. Run after npm run build: node examples/lifecycle/make-flow-log.mjs
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { buildSnapshot, flowLogRecords, formatPolicyHit, loadManifests } from '@gingham/core';

const here = new URL('.', import.meta.url).pathname;
const dir = `${here}../quickstart/`;
const inputs = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => ({ file: f, text: readFileSync(dir + f, 'utf8') }));
const { snapshot } = buildSnapshot(loadManifests(inputs).resources.map((r) => r.resource));

// What the shop does all day, and a few things it should not.
const traffic = [
  { flow: { src: 'shop/frontend-0', dst: 'shop/backend-0', protocol: 'TCP', dstPort: 8080 }, every: 60 },
  { flow: { src: 'shop/backend-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 }, every: 60 },
  { flow: { src: 'shop/frontend-0', dst: '10.96.0.10', protocol: 'UDP', dstPort: 53 }, every: 300 },
  { flow: { src: 'shop/backend-0', dst: '10.96.0.10', protocol: 'UDP', dstPort: 53 }, every: 300 },
  { flow: { src: '203.0.113.50', dst: 'shop/frontend-0', protocol: 'TCP', dstPort: 8080 }, every: 30 },
  { flow: { src: 'monitoring/prometheus-0', dst: 'shop/frontend-0', protocol: 'TCP', dstPort: 9090 }, every: 120 },
  { flow: { src: 'monitoring/prometheus-0', dst: 'shop/backend-0', protocol: 'TCP', dstPort: 9090 }, every: 120 },
  { flow: { src: 'monitoring/prometheus-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 9090 }, every: 120 },
  { flow: { src: 'monitoring/prometheus-0', dst: '10.96.0.10', protocol: 'UDP', dstPort: 53 }, every: 600 },
  { flow: { src: 'monitoring/prometheus-0', dst: '140.82.121.4', protocol: 'TCP', dstPort: 443 }, every: 1800 },
  { flow: { src: '10.70.0.5', dst: 'monitoring/prometheus-0', protocol: 'TCP', dstPort: 9090 }, every: 900 },
  { flow: { src: 'shop/frontend-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 }, every: 1800 },
  { flow: { src: 'shop/backend-0', dst: '169.254.169.254', protocol: 'TCP', dstPort: 80 }, every: 3600 },
];
const start = 1_765_065_600; // 2025-12-07T00:00:00Z
const observations = [];
for (let t = start; t < start + 3600; t += 30) {
  for (const { flow, every } of traffic) if ((t - start) % every < 30) observations.push({ flow, time: t, connections: 1, packets: 10, bytes: 1500 });
}
const { records } = flowLogRecords(snapshot, observations);
// Policy hits as Calico's hit strings (1|default|knp:shop/db|allow|0): the shorter of the two forms readers accept.
const compact = records.map((r) => ({ ...r, policies: { enforced: r.policies.enforced.map(formatPolicyHit), pending: r.policies.pending.map(formatPolicyHit) } }));
writeFileSync(`${here}flow-log.jsonl`, `${compact.map((r) => JSON.stringify(r)).join('\n')}\n`);
console.log(`${records.length} records written to ${here}flow-log.jsonl`);
