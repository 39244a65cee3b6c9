/**
 * The fail-closed part of the conformance suite, for any dataplane: a label and the policy that
 * matches it flip in one apply while pods probe continuously (no doubly-denied flow may connect,
 * no doubly-allowed one may fail), and `kill -9` of a real `gingham enforce` process at each
 * child process's start and at random moments (then probes, then a second run that must
 * converge). How to run `gingham enforce` for a dataplane is a parameter; the harness owns its
 * namespaces, servers, shims and temporary files and removes them even when a case fails.
 * Test traffic never leaves the namespaces it creates.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSnapshot, evaluate, type Resource } from '@gingham/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE, podManifest, WORLD, WORLD_PODS } from './cases.js';
import { createTopology, probeTcp, type PodHandle, type Topology } from './topology.js';

/** The port of the flip scenario's servers (every pod; they answer "ok" and close). */
export const FLIP_PORT = 9100;

const flipPolicy = (source: string): string => `---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: flip}
spec:
  selector: app == 'web'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: TCP, source: ${source}, destination: {ports: [${FLIP_PORT}]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: db-in}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: TCP, source: {selector: app == 'web'}, destination: {ports: [${FLIP_PORT}]}}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: web-out}
spec:
  selector: app == 'web'
  types: [Egress]
  egress:
  - {action: Allow, destination: {selector: app == 'db'}}
`;

/**
 * State A: b/client is `app=client`; web admits `app == 'db'`. State B (one apply away): b/client
 * becomes `app=db` and web admits only db pods of namespace a. The `app == 'db'` set stays in
 * use (web's egress names it) and gains b/client, so between the two states old rules with new
 * members would admit b/client → a/web, which is denied in both; a/db → a/web is allowed in
 * both; a/db → b/client changes (allowed in A, denied in B: b/client is now a db pod).
 */
export const FLIP_STATES = {
  A: `${WORLD}${flipPolicy("{selector: app == 'db'}")}`,
  B: `${WORLD.replace(podManifest('b', 'client', '10.65.0.13', { app: 'client' }), podManifest('b', 'client', '10.65.0.13', { app: 'db' }))}${flipPolicy("{selector: app == 'db', namespaceSelector: team == 'x'}")}`,
} as const;

export interface FlipProbe {
  readonly from: string;
  readonly to: string;
  /** The verdict in state A and in state B. */
  readonly a: boolean;
  readonly b: boolean;
}

export const FLIP_PROBES: readonly FlipProbe[] = [
  { from: 'b/client', to: 'a/web', a: false, b: false },
  { from: 'a/db', to: 'a/web', a: true, b: true },
  { from: 'a/db', to: 'b/client', a: true, b: false },
];

/** Checks that `evaluate()` gives the flip probes the verdicts the scenario claims. */
export function checkFlipScenario(load: (text: string) => Resource[]): void {
  for (const [state, text] of Object.entries(FLIP_STATES)) {
    const { snapshot } = buildSnapshot(load(text));
    for (const p of FLIP_PROBES) {
      const want = state === 'A' ? p.a : p.b;
      expect(evaluate(snapshot, { src: p.from, dst: p.to, protocol: 'TCP', dstPort: FLIP_PORT }).allowed, `evaluate() in state ${state}: ${p.from} -> ${p.to}`).toBe(want);
    }
  }
}

const SERVER = `const net = require('node:net');
net.createServer((s) => { s.on('error', () => {}); s.end('ok\\n'); }).listen(Number(process.argv[1]));`;

const PROBER = `const net = require('node:net');
const [ip, port, every, timeout] = process.argv.slice(1);
let ok = 0, fail = 0, inflight = 0, stopping = false;
const done = () => { if (stopping && inflight === 0) { process.stdout.write(JSON.stringify({ ok, fail }) + '\\n'); process.exit(0); } };
const once = () => {
  inflight++;
  const s = net.connect(Number(port), ip);
  let settled = false;
  const settle = (good) => { if (settled) return; settled = true; if (good) ok++; else fail++; s.destroy(); inflight--; done(); };
  const t = setTimeout(() => settle(false), Number(timeout));
  s.on('connect', () => { clearTimeout(t); settle(true); });
  s.on('error', () => { clearTimeout(t); settle(false); });
};
const timer = setInterval(once, Number(every));
process.stdin.on('data', () => { stopping = true; clearInterval(timer); done(); });
process.stdout.write('ready\\n');`;

/** Starts the "ok" servers on `FLIP_PORT` in every pod and waits until they listen. */
export async function startFlipServers(topo: Topology): Promise<void> {
  for (const p of topo.pods) topo.spawnIn(p.netns, [process.execPath, '-e', SERVER, String(FLIP_PORT)]);
  for (const p of topo.pods) {
    for (let i = 0; ; i++) {
      const r = spawnSync('ip', ['netns', 'exec', p.netns, 'ss', '-Hltn', `sport = :${FLIP_PORT}`], { encoding: 'utf8' });
      if ((r.stdout ?? '').trim().length > 0) break;
      if (i > 100) throw new Error(`flip server in ${p.netns} did not start`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }
}

export interface Prober {
  /** Stops starting connections, waits for those in flight, and returns the counts. */
  stop(): Promise<{ ok: number; fail: number }>;
}

/**
 * Connects from `from` to `to:FLIP_PORT` every `everyMs` (not waiting for earlier attempts), each
 * attempt given `timeoutMs`: a continuous sample of the verdict while applies happen.
 */
export async function startProber(topo: Topology, from: PodHandle, to: PodHandle, everyMs: number, timeoutMs: number): Promise<Prober> {
  const child = topo.spawnIn(from.netns, [process.execPath, '-e', PROBER, to.ip, String(FLIP_PORT), String(everyMs), String(timeoutMs)]);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prober ${from.name} -> ${to.name} did not start`)), 30_000);
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString('utf8');
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`prober ${from.name} -> ${to.name} exited: ${out}`)));
  });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`prober ${from.name} -> ${to.name} did not stop`)), timeoutMs + 30_000);
        child.once('exit', () => {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as { ok: number; fail: number });
          } catch {
            reject(new Error(`prober ${from.name} -> ${to.name} printed ${JSON.stringify(out)}`));
          }
        });
        child.stdin?.write('stop\n');
      }),
  };
}

const pod = (topo: Topology, id: string): PodHandle => {
  const [ns, name] = id.split('/') as [string, string];
  return topo.pod(ns, name);
};

/** Probes every flip probe once (in parallel) and returns "from -> to: allow|deny" lines. */
export async function probeFlip(topo: Topology, timeoutMs = 800): Promise<string[]> {
  return Promise.all(FLIP_PROBES.map(async (p) => `${p.from} -> ${p.to}: ${(await probeTcp(topo, pod(topo, p.from), pod(topo, p.to), FLIP_PORT, timeoutMs)) ? 'allow' : 'deny'}`));
}

export const expectedFlip = (state: 'A' | 'B'): string[] => FLIP_PROBES.map((p) => `${p.from} -> ${p.to}: ${(state === 'A' ? p.a : p.b) ? 'allow' : 'deny'}`);

/** Lines a state in the middle may show: the doubly-denied and doubly-allowed probes fixed, the others either way. */
function expectOldOrNew(got: string[], at: string): void {
  FLIP_PROBES.forEach((p, i) => {
    if (p.a === p.b) expect(got[i], `${at}: ${p.from} -> ${p.to} must stay ${p.a ? 'allowed' : 'denied'}`).toBe(`${p.from} -> ${p.to}: ${p.a ? 'allow' : 'deny'}`);
  });
}

export interface CrashSafetyOptions {
  /** Fail instead of skipping when not root (set from CI=true). */
  readonly mustRun?: boolean;
  /** argv (program first) of one `gingham enforce` run of node `NODE` over the manifests in `dir`. */
  enforce(dir: string): string[];
  /** argv of `gingham enforce --clean` for this dataplane. */
  readonly clean: readonly string[];
  /** Programs the enforce run starts: each start is a kill point (PATH shims). */
  readonly childTools: readonly string[];
  /** Kills at random moments of a run, in addition (default 4). */
  readonly randomKills?: number;
  /** Extra check on the output of a run that found nothing to change (e.g. "chains written 0"). */
  readonly converged?: (stdout: string) => boolean;
}

interface EnforceRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly killed: boolean;
  readonly ms: number;
}

/**
 * Registers the kill -9 harness for one dataplane: from state A, a run towards state B is
 * SIGKILLed at the start of each child process it spawns (the shim signals, the test kills the
 * enforce process and the shim before the child does any work) and at random moments; after
 * each kill the doubly-denied flow must be denied and the doubly-allowed one allowed, and a
 * second run must converge to B.
 */
export function testCrashSafety(name: string, options: CrashSafetyOptions): void {
  const run = process.getuid?.() === 0 || options.mustRun === true;
  describe.skipIf(!run)(`fail closed under kill -9: ${name}`, () => {
    let topo: Topology;
    let dir: string;
    let shims: string;
    const procs = new Set<ChildProcess>();
    const kill = (pid: number): void => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };

    beforeAll(async () => {
      if (process.getuid?.() !== 0) throw new Error('missing capabilities: root');
      topo = createTopology(WORLD_PODS, 'gh-fc');
      dir = mkdtempSync(join(tmpdir(), 'gh-fc-'));
      for (const s of ['A', 'B'] as const) {
        spawnSync('mkdir', ['-p', join(dir, s)]);
        writeFileSync(join(dir, s, 'world.yaml'), FLIP_STATES[s]);
      }
      shims = join(dir, 'shims');
      spawnSync('mkdir', ['-p', shims]);
      for (const tool of options.childTools) {
        const real = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
        if (!real) throw new Error(`${tool} is not installed`);
        const ctl = shims;
        writeFileSync(
          join(shims, tool),
          `#!/bin/sh
n=$(cat "${ctl}/count" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "${ctl}/count"
echo "$n ${tool} $$" >> "${ctl}/log"
if [ "$n" = "$(cat "${ctl}/kill-at" 2>/dev/null)" ]; then echo "$$" > "${ctl}/hit"; while :; do sleep 0.05; done; fi
exec ${real} "$@"
`,
        );
        chmodSync(join(shims, tool), 0o755);
      }
      await startFlipServers(topo);
    });
    afterAll(async () => {
      try {
        for (const p of procs) if (p.pid !== undefined && p.exitCode === null) kill(p.pid);
        if (topo) spawnSync('ip', ['netns', 'exec', topo.node, ...options.clean], { stdio: 'ignore', timeout: 60_000 });
      } finally {
        await topo?.destroy();
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    });

    const reset = (killAt: number): void => {
      rmSync(join(shims, 'count'), { force: true });
      rmSync(join(shims, 'log'), { force: true });
      rmSync(join(shims, 'hit'), { force: true });
      writeFileSync(join(shims, 'kill-at'), String(killAt));
    };
    /** One enforce run in the node namespace, killed at the `killAt`-th child start or after `killAfterMs`. */
    const enforce = (state: 'A' | 'B', kill9: { atChild?: number; afterMs?: number } = {}): Promise<EnforceRun> => {
      reset(kill9.atChild ?? 0);
      const started = Date.now();
      const child = spawn('ip', ['netns', 'exec', topo.node, 'env', `PATH=${shims}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, ...options.enforce(join(dir, state))], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      procs.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
      let killed = false;
      const timers: NodeJS.Timeout[] = [];
      if (kill9.afterMs !== undefined) {
        timers.push(
          setTimeout(() => {
            killed = child.exitCode === null;
            kill(child.pid!);
          }, kill9.afterMs),
        );
      }
      if (kill9.atChild !== undefined) {
        const poll = setInterval(() => {
          if (!existsSync(join(shims, 'hit'))) return;
          clearInterval(poll);
          // Kill the enforce process first, then the child, which has done nothing yet.
          killed = true;
          kill(child.pid!);
          kill(Number(readFileSync(join(shims, 'hit'), 'utf8').trim()));
        }, 2);
        timers.push(poll);
      }
      return new Promise((resolve) => {
        child.on('exit', (code) => {
          for (const t of timers) clearTimeout(t);
          procs.delete(child);
          resolve({ code, stdout, stderr, killed, ms: Date.now() - started });
        });
      });
    };
    const full = async (state: 'A' | 'B'): Promise<EnforceRun> => {
      const r = await enforce(state);
      expect(r.code, `enforce ${state}: ${r.stderr}`).toBe(0);
      return r;
    };

    let children = 0;
    let duration = 0;

    it('the scenario: A and B enforce as the model says; a run from A to B starts child processes', async () => {
      await full('A');
      expect(await probeFlip(topo)).toEqual(expectedFlip('A'));
      const b = await full('B');
      expect(await probeFlip(topo)).toEqual(expectedFlip('B'));
      children = Number(existsSync(join(shims, 'count')) ? readFileSync(join(shims, 'count'), 'utf8').trim() : '0');
      duration = b.ms;
      if (options.childTools.length > 0) expect(children).toBeGreaterThan(0);
      const again = await full('B');
      if (options.converged) expect(options.converged(again.stdout), again.stdout).toBe(true);
    });

    it('kill -9 at the start of each child process: the flows both states deny stay denied, those both allow stay allowed, and the next run converges', async () => {
      for (let k = 1; k <= children; k++) {
        await full('A');
        const r = await enforce('B', { atChild: k });
        const log = existsSync(join(shims, 'log')) ? readFileSync(join(shims, 'log'), 'utf8').trim().split('\n').at(-1) : '';
        const at = `killed at child ${k} of ${children} (${log})`;
        expect(r.killed, `${at}: the run ended before its child ${k}: ${r.stderr}`).toBe(true);
        expectOldOrNew(await probeFlip(topo), at);
        await full('B');
        expect(await probeFlip(topo), `${at}, then a full run`).toEqual(expectedFlip('B'));
      }
    });

    it('kill -9 at random moments of a run', async () => {
      const kills = options.randomKills ?? 4;
      for (let i = 0; i < kills; i++) {
        await full('A');
        const afterMs = Math.floor(Math.random() * Math.max(1, duration));
        await enforce('B', { afterMs });
        expectOldOrNew(await probeFlip(topo), `killed ${afterMs} ms into a run of ~${duration} ms`);
        await full('B');
        expect(await probeFlip(topo), `killed ${afterMs} ms into a run, then a full run`).toEqual(expectedFlip('B'));
      }
    });
  });
}

/**
 * The probe loop: `enter(state)` brings the dataplane to a state (an apply); starting in A, the
 * dataplane flips A → B → A … at least `flips` times and for at least `minMs`, while b/client →
 * a/web (denied in both) is tried every millisecond and a/db → a/web (allowed in both) every
 * 5 ms, each attempt with a timeout below TCP's first SYN retransmission (so one dropped SYN is a
 * failure). Returns the counts.
 */
export async function flipUnderProbes(topo: Topology, enter: (state: 'A' | 'B') => Promise<void>, flips = 10, minMs = 3000): Promise<{ denied: { ok: number; fail: number }; allowed: { ok: number; fail: number } }> {
  await startFlipServers(topo);
  await enter('A');
  expect(await probeFlip(topo)).toEqual(expectedFlip('A'));
  const denied = await startProber(topo, pod(topo, 'b/client'), pod(topo, 'a/web'), 1, 400);
  const allowed = await startProber(topo, pod(topo, 'a/db'), pod(topo, 'a/web'), 5, 900);
  let failure: unknown;
  try {
    const started = Date.now();
    for (let i = 0; i < flips || Date.now() - started < minMs; i++) {
      await enter(i % 2 === 0 ? 'B' : 'A');
      await new Promise((r) => setTimeout(r, 40));
    }
  } catch (e) {
    failure = e;
  }
  const result = { denied: await denied.stop(), allowed: await allowed.stop() };
  if (failure) throw failure;
  return result;
}
