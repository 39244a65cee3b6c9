/**
 * The quick-start example on a node namespace, driven by the real `gingham` command as a user
 * runs it (`ip netns exec NODE gingham enforce …`, or `nsenter --net=…`): the topology of its
 * pods with servers on the example's ports, a private bpffs mounted here BEFORE any `ip netns
 * exec` (so it is shared with, and outlives, the command's private mount namespace), variants of
 * the example, and readers of everything the command may leave behind. Never touches the root
 * namespace's network state nor the host's /sys/fs/bpf; `destroy()` removes what it made.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopology, probeTcp, startServers, quickstartModel, type QuickstartModel, type Topology } from '@gingham/dataplane-conformance';
import { mountScratchBpffs, type ScratchBpffs } from '@gingham/ebpf-loader/testing';
import { clsactIn, hooksIn, listTree, removeCliLock, uniqueName } from './kernel-env.js';

export const REPO = new URL('../../../../', import.meta.url).pathname;
export const EXAMPLE = join(REPO, 'examples/quickstart');
/** The built CLI. */
export const GINGHAM = join(REPO, 'packages/cli/bin/gingham.js');

function which(tool: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  const p = (r.stdout ?? '').trim();
  if (!p) throw new Error(`${tool} not found`);
  return p;
}

/** Absolute paths, so that a PATH of shims given to a command never shims the test's own launcher. */
export const IP = which('ip');
export const NSENTER = which('nsenter');

export interface QuickstartNode {
  readonly topo: Topology;
  readonly bpffs: ScratchBpffs;
  readonly model: QuickstartModel;
  /** The dataplane instance name every command here uses. */
  readonly name: string;
  /** argv of `gingham enforce … --dataplane ebpf --bpffs <scratch> --name <name>` (no launcher). */
  enforceArgv(...args: string[]): string[];
  /** Runs the CLI as the README says: `ip netns exec NODE gingham …` (argv after `gingham`). */
  ipNetnsExec(args: readonly string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string>;
  /** The same with `nsenter --net=/run/netns/NODE` (keeps this process's mount namespace). */
  nsenter(args: readonly string[]): SpawnSyncReturns<string>;
  /** The same, asynchronously (for runs at the same time). */
  ipNetnsExecAsync(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }>;
  /** Every pin, tc/tcx hook and clsact qdisc of ours that is left (empty when clean). */
  residue(): string[];
  destroy(): Promise<void>;
}

/** Creates the node, starts the servers and warms the neighbour tables (one connection per pair). */
export async function createQuickstartNode(prefix: string): Promise<QuickstartNode> {
  const model = quickstartModel(EXAMPLE);
  const bpffs = mountScratchBpffs('gh-ebpf-bpffs-');
  const name = uniqueName(prefix);
  let topo: Topology | undefined;
  try {
    topo = createTopology(model.pods, `gh-${prefix}`);
    await startServers(topo, [8080, 5432, 9090], [53], 7000);
    const t = topo;
    const warm = await Promise.all(t.pods.flatMap((p) => t.pods.filter((q) => q !== p).map((q) => probeTcp(t, p, q, 8080, 3000))));
    if (!warm.every(Boolean)) throw new Error('warm-up connections failed');
  } catch (e) {
    await topo?.destroy();
    bpffs.release();
    throw e;
  }
  const t = topo;
  const enforceArgv = (...args: string[]): string[] => ['enforce', ...args, '--dataplane', 'ebpf', '--bpffs', bpffs.path, '--name', name];
  return {
    topo: t,
    bpffs,
    model,
    name,
    enforceArgv,
    ipNetnsExec: (args, env) => spawnSync(IP, ['netns', 'exec', t.node, process.execPath, GINGHAM, ...args], { encoding: 'utf8', timeout: 60_000, ...(env ? { env } : {}) }),
    nsenter: (args) => spawnSync(NSENTER, [`--net=/run/netns/${t.node}`, process.execPath, GINGHAM, ...args], { encoding: 'utf8', timeout: 60_000 }),
    ipNetnsExecAsync: (args) => new Promise((resolve) => {
      const child = spawn(IP, ['netns', 'exec', t.node, process.execPath, GINGHAM, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    }),
    residue: () => [
      ...listTree(bpffs.path).map((p) => `pin ${p}`),
      ...hooksIn(t.node, t.pods.map((p) => p.iface)),
      ...clsactIn(t.node).map((q) => `qdisc ${q.trim()}`),
    ],
    async destroy() {
      try {
        spawnSync(IP, ['netns', 'exec', t.node, process.execPath, GINGHAM, ...enforceArgv('--clean')], { stdio: 'ignore', timeout: 60_000 });
      } finally {
        await t.destroy();
        bpffs.release();
        removeCliLock(bpffs.path, name);
      }
    },
  };
}

/** A copy of the quick-start example plus one more manifest file, removed by `release()`. */
export function exampleVariant(extraYaml: string): { readonly path: string; release(): void } {
  const path = mkdtempSync(join(tmpdir(), 'gh-ebpf-example-'));
  cpSync(EXAMPLE, path, { recursive: true, filter: (src) => !src.endsWith('.sh') });
  writeFileSync(join(path, '90-variant.yaml'), extraYaml);
  return { path, release: () => rmSync(path, { recursive: true, force: true }) };
}

/** The variant used where two different policies are needed: shop/frontend-0 may reach shop/db-0 on 5432. */
export const FRONTEND_TO_DB = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: frontend-to-db, namespace: shop }
spec:
  podSelector: { matchLabels: { app: frontend } }
  policyTypes: [Egress]
  egress: [{ to: [{ podSelector: { matchLabels: { app: db } } }], ports: [{ port: 5432 }] }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: db-from-frontend, namespace: shop }
spec:
  podSelector: { matchLabels: { app: db } }
  policyTypes: [Ingress]
  ingress: [{ from: [{ podSelector: { matchLabels: { app: frontend } } }], ports: [{ port: 5432 }] }]
`;

/** The README's command, verbatim but for the path of the built CLI (argv after `gingham`). */
export const README_ARGS: readonly string[] = ['enforce', '-f', EXAMPLE, '--node', 'node-1', '--dataplane', 'ebpf'];
