/**
 * The quick-start example (`examples/quickstart`, what `npm start` analyses) as a dataplane
 * acceptance case: its pods for `createTopology`, the model's matrix over the example's ports,
 * and a probe of every cell with real packets. The suite enforces the example with each
 * dataplane's `gingham enforce` and compares the observed matrix with the model's.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSnapshot, loadManifests, matrix, type MatrixCell } from '@gingham/core';
import { probeTcp, probeUdp } from '../topology/probes.js';
import type { Topology, TopologyPod } from '../topology/topology.js';

/**
 * The repository's `examples/quickstart`, found above this file (from `src/` or `dist/`: the
 * package is private to the workspace and never installed elsewhere).
 */
export function quickstartExampleDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'examples', 'quickstart');
    if (existsSync(join(candidate, '10-pods.yaml'))) return candidate;
    if (dirname(dir) === dir) throw new Error('examples/quickstart not found above the conformance package');
  }
}

export const QUICKSTART_PORTS = [
  { port: 8080, protocol: 'TCP' },
  { port: 5432, protocol: 'TCP' },
  { port: 9090, protocol: 'TCP' },
  { port: 53, protocol: 'UDP' },
] as const;

export interface QuickstartModel {
  /** The example's pods, by id, with their first address. */
  readonly pods: readonly (TopologyPod & { readonly id: string })[];
  /** The model's verdict for every (from, to, port) over `QUICKSTART_PORTS`. */
  readonly cells: readonly MatrixCell[];
}

/** Loads the example's manifests from `exampleDir` and computes the model's matrix. */
export function quickstartModel(exampleDir: string): QuickstartModel {
  const inputs = readdirSync(exampleDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => ({ file: join(exampleDir, f), text: readFileSync(join(exampleDir, f), 'utf8') }));
  const loaded = loadManifests(inputs);
  if (!loaded.ok) throw new Error('the quick-start manifests do not load');
  const { snapshot } = buildSnapshot(loaded.resources.map((r) => r.resource));
  const pods = snapshot.workloadEndpoints
    .map((w) => ({ namespace: w.namespace, name: w.name, ip: w.addresses[0]!.replace(/\/32$/, ''), id: w.id }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  return { pods, cells: matrix(snapshot, pods.map((p) => p.id), QUICKSTART_PORTS) };
}

/** One cell as a line, for comparing observed and expected matrices in a readable diff. */
export function formatCell(c: MatrixCell): string {
  return `${c.from} -> ${c.to} ${c.port}/${c.protocol}: ${c.allowed ? 'allow' : 'deny'}`;
}

/**
 * Probes every cell at once with real TCP/UDP (a denied cell costs one timeout; two for UDP,
 * which retries once) and returns the cells with the observed verdicts.
 */
export async function probeCells(topo: Topology, model: QuickstartModel, timeoutMs = 1000): Promise<MatrixCell[]> {
  const byId = new Map(model.pods.map((p) => [p.id, topo.pod(p.namespace, p.name)]));
  return Promise.all(model.cells.map(async (c) => {
    const from = byId.get(c.from)!;
    const to = byId.get(c.to)!;
    const allowed = c.protocol === 'TCP' ? await probeTcp(topo, from, to, c.port!, timeoutMs) : await probeUdp(topo, from, to, c.port!, timeoutMs);
    return { ...c, allowed };
  }));
}
