/**
 * Test harness: a test API server, a source on it with short timings, and an Engine fed by the
 * source (recording dataplane), plus polling helpers. Closes everything it made.
 */
import { applySourceMessages, canonicalDataplaneState, createEngine, RecordingDataplane, type Engine, type Resource, type SourceMessage } from '@gingham/core';
import { createKubernetesSource, type KubernetesSource, type KubernetesSourceOptions } from '../../src/index.js';
import { createTestApiServer, type TestApiServer, type TestApiServerOptions } from '../../src/testing.js';

/** Timings short enough for tests (milliseconds, not minutes). */
export const FAST_TIMING = {
  pageSize: 3,
  watchTimeoutSeconds: [30, 60] as [number, number],
  maxIdleMs: 400,
  watchdogIntervalMs: 50,
  resyncPeriodMs: 0,
  requestIdleTimeoutMs: 2000,
  shortWatchMs: 50,
  discoveryIntervalMs: 100,
  backoff: { initialMs: 10, maxMs: 80, factor: 2, jitter: 0.5 },
};

export interface Fed {
  readonly source: KubernetesSource;
  readonly messages: SourceMessage[];
  readonly batches: SourceMessage[][];
  readonly engine: Engine;
  readonly dataplane: RecordingDataplane;
  /** The canonical dataplane state after flushing. */
  state(): Promise<unknown>;
  close(): Promise<void>;
}

export async function startServer(options: TestApiServerOptions = {}): Promise<TestApiServer> {
  return createTestApiServer({ bookmarkIntervalMs: 100, ...options });
}

/** Starts a source on `server` feeding an Engine for `node`. */
export async function feed(server: TestApiServer, options: Partial<KubernetesSourceOptions> = {}, node = 'node-1'): Promise<Fed> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromString(await server.kubeconfig());
  const source = createKubernetesSource({ kubeConfig: kc, ...options, timing: { ...FAST_TIMING, ...options.timing } });
  const dataplane = new RecordingDataplane({ keepBatches: false });
  const engine = createEngine({ node, dataplane });
  const messages: SourceMessage[] = [];
  const batches: SourceMessage[][] = [];
  await source.start((ms) => {
    batches.push([...ms]);
    messages.push(...ms);
    applySourceMessages(engine, ms);
  });
  return {
    source,
    messages,
    batches,
    engine,
    dataplane,
    async state() {
      await engine.flush();
      return canonicalDataplaneState(dataplane.state);
    },
    close: () => source.close(),
  };
}

/** The canonical dataplane state of an Engine for `node` fed `resources` directly. */
export async function referenceState(resources: readonly Resource[], node = 'node-1'): Promise<unknown> {
  const dataplane = new RecordingDataplane({ keepBatches: false });
  const engine = createEngine({ node, dataplane });
  for (const r of resources) engine.upsert(r);
  await engine.flush();
  return canonicalDataplaneState(dataplane.state);
}

/** Polls `check` until it returns true (or throws its last failure after `timeoutMs`). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every informer is watching and has seen the server's newest change to its resource. */
export function caughtUp(source: KubernetesSource, server: TestApiServer): boolean {
  return source.informers().every((i) => {
    if (i.state === 'absent') return true;
    if (i.state !== 'watching') return false;
    const last = BigInt(server.lastChange(i.resource));
    return i.resourceVersion !== '' && BigInt(i.resourceVersion) >= last;
  });
}

export const ns = (name: string, labels: Record<string, string> = {}): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });

export const pod = (namespace: string, name: string, labels: Record<string, string>, ip: string, node = 'node-1', extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels, annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-rs`, uid: 'u', controller: true }] },
  spec: {
    nodeName: node,
    serviceAccountName: 'default',
    containers: [{ name: 'app', image: 'nginx:1.27', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { containerPort: 9090 }], env: [{ name: 'A', value: 'b' }] }],
    ...extra,
  },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
});

export const knp = (namespace: string, name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});
