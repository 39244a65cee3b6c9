/**
 * A Node's WireGuard public key changes (issue 11, item 6): on the bare-VM fleet
 * (`examples/bare-vms/run.sh` with KEEP=1: three VMs, etcd, an agent with iptables and WireGuard
 * on each), vm-3's agent is stopped, its key file removed and the agent started again, so it
 * makes a new key and publishes it in its Node. Meanwhile real TCP connections between the other
 * two VMs' workloads are made every few hundred milliseconds through the tunnel: none may fail
 * (the peers update vm-3's entry alone, no tunnel-wide outage), and vm-2 reaches vm-3 again once
 * vm-1 and vm-2 carry the new key. Processes are stopped by PID; the script cleans up the rest.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRun, CLI } from './support/agent-node.js';

const SCRIPT = new URL('../../../examples/bare-vms/run.sh', import.meta.url).pathname;
const missing = [...canRun(), ...(['wg', 'wireguard-go'] as const).filter((t) => spawnSync('which', [t], { stdio: 'ignore' }).status !== 0)];
if (missing.length > 0 && process.env['CI'] === 'true') throw new Error(`the WireGuard key test needs ${missing.join(', ')} (CI=true: not skipping)`);
const P = `ghwk${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One TCP connection from vm-FROM's workload to vm-TO's; true when the answer came back. */
function connects(from: number, to: number): boolean {
  const r = spawnSync('ip', ['netns', 'exec', `${P}-vm${from}-wl`, 'socat', '-T1', '-', `TCP:10.70.${to}.2:8080,connect-timeout=1`], { input: '', encoding: 'utf8', timeout: 5000 });
  return r.stdout.includes(`ok from vm-${to}`);
}
const peerKeys = (vm: number): string[] =>
  spawnSync('ip', ['netns', 'exec', `${P}-vm${vm}`, 'wg', 'show', `${P}-wg${vm}`, 'peers'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort();
const publicKey = (vm: number): string => spawnSync('ip', ['netns', 'exec', `${P}-vm${vm}`, 'wg', 'show', `${P}-wg${vm}`, 'public-key'], { encoding: 'utf8' }).stdout.trim();

describe.skipIf(missing.length > 0)('a Node whose WireGuard key changes', () => {
  let fleet: ChildProcess | undefined;
  let restarted: ChildProcess | undefined;
  let output = '';
  let work = '';

  beforeAll(async () => {
    fleet = spawn('bash', [SCRIPT, 'iptables'], { env: { ...process.env, PREFIX: P, KEEP: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    fleet.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    fleet.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 170_000;
    while (!/running; logs in (\S+);/.test(output)) {
      if (fleet.exitCode !== null || Date.now() > deadline) throw new Error(`the fleet did not come up:\n${output}`);
      await sleep(250);
    }
    work = /running; logs in (\S+);/.exec(output)![1]!;
  });
  afterAll(async () => {
    if (restarted && restarted.exitCode === null) {
      const exited = new Promise((r) => restarted!.once('exit', r));
      restarted.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (restarted.exitCode === null) restarted.kill('SIGKILL');
    }
    if (fleet && fleet.exitCode === null) {
      const exited = new Promise((r) => fleet!.once('exit', r));
      fleet.kill('SIGTERM');
      await exited;
    }
  });

  it('is replaced on its peers while the other tunnels keep carrying connections', async () => {
    const oldKey = publicKey(3);
    expect(peerKeys(1)).toContain(oldKey);
    expect(connects(1, 2)).toBe(true);
    expect(connects(2, 3)).toBe(true);

    // vm-3's agent: stop it (SIGTERM: enforcement and the tunnel stay), drop its key, start again.
    const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout.split('\n');
    const line = ps.find((l) => l.includes(' agent --node vm-3 ') && l.includes(`--wireguard-interface ${P}-wg3 `));
    expect(line, 'vm-3 agent process').toBeDefined();
    const pid = Number(line!.trim().split(/\s+/)[0]);
    const args = line!.trim().split(/\s+/).slice(2); // after the pid and `node`
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && spawnSync('kill', ['-0', String(pid)]).status === 0; i++) await sleep(100);
    const keyFile = `${work}/vm-3.key`;
    expect(existsSync(keyFile)).toBe(true);
    rmSync(keyFile);

    let probes = 0;
    const failures: number[] = [];
    let newKey = '';
    let restartedOut = '';
    restarted = spawn('nsenter', [`--net=/run/netns/${P}-vm3`, process.execPath, CLI, ...args.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] });
    restarted.stdout!.on('data', (c: Buffer) => (restartedOut += c.toString()));
    restarted.stderr!.on('data', (c: Buffer) => (restartedOut += c.toString()));
    const deadline = Date.now() + 60_000;
    for (;;) {
      probes++;
      if (!connects(1, 2)) failures.push(probes);
      newKey = publicKey(3);
      const rotated = newKey !== oldKey && peerKeys(1).includes(newKey) && peerKeys(2).includes(newKey) && !peerKeys(1).includes(oldKey);
      if (rotated && connects(2, 3)) break;
      if (Date.now() > deadline) throw new Error(`vm-3's new key did not reach its peers (key ${newKey}, vm-1 peers ${peerKeys(1).join(' ')})\n${restartedOut.slice(-4000)}`);
      await sleep(200);
    }
    // Every connection between vm-1 and vm-2 during the rotation went through.
    expect(failures, `failed probes out of ${probes}`).toEqual([]);
    expect(probes).toBeGreaterThan(1);
    expect(peerKeys(1)).toHaveLength(2);
    // The new key is in vm-3's Node, where the peers read it.
    const node = spawnSync('ip', ['netns', 'exec', `${P}-etcd`, process.execPath, CLI, 'get', 'node', 'vm-3', '--datastore', 'etcd', '--etcd-endpoints', 'http://192.168.77.10:2379', '-o', 'json'], { encoding: 'utf8' });
    expect(node.stdout).toContain(newKey);
    // And the quarantine still holds: vm-3 reaches nobody, vm-2 reaches vm-3.
    expect(connects(3, 1)).toBe(false);
    expect(connects(2, 3)).toBe(true);
  });
});
