/**
 * Two network namespaces joined by a veth pair, for attach tests with real packets:
 *
 *   <prefix>-a: va 10.231.0.1/24  <── veth ──>  <prefix>-b: vb 10.231.0.2/24
 *
 * Nothing is created in the root namespace (the veth is made with `ip -n`). Every process started
 * here is tracked and killed by pid in `destroy()`, which also deletes both namespaces.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000, ...(input !== undefined ? { input } : {}) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface UdpReceiver {
  readonly port: number;
  received(): string;
}

export class VethPair {
  readonly a: string;
  readonly b: string;
  readonly ipA = '10.231.0.1';
  readonly ipB = '10.231.0.2';
  readonly #children: ChildProcess[] = [];

  constructor() {
    const prefix = `gh-bpf-${randomBytes(3).toString('hex')}`;
    this.a = `${prefix}-a`;
    this.b = `${prefix}-b`;
  }

  create(): void {
    run('ip', ['netns', 'add', this.a]);
    run('ip', ['netns', 'add', this.b]);
    run('ip', ['-n', this.a, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', this.b]);
    for (const [ns, dev, ip] of [[this.a, 'va', this.ipA], [this.b, 'vb', this.ipB]] as const) {
      run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
      run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  /** A socat UDP receiver in namespace b collecting datagrams on `port`. */
  async receiver(port: number): Promise<UdpReceiver> {
    const child = spawn('ip', ['netns', 'exec', this.b, 'socat', '-u', `UDP4-RECVFROM:${port},bind=${this.ipB},fork`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#children.push(child);
    let got = '';
    child.stdout!.on('data', (d: Buffer) => { got += d.toString(); });
    const deadline = Date.now() + 10_000;
    while (!run('ip', ['netns', 'exec', this.b, 'ss', '-Hulnp']).includes(`:${port}`)) {
      if (Date.now() > deadline) throw new Error(`receiver on ${port} did not start`);
      await sleep(50);
    }
    return { port, received: () => got };
  }

  /** Send one datagram from namespace a to b. */
  send(port: number, text: string): void {
    run('ip', ['netns', 'exec', this.a, 'socat', '-u', 'STDIN', `UDP4-SENDTO:${this.ipB}:${port}`], text);
  }

  destroy(): void {
    for (const c of this.#children) {
      if (c.pid !== undefined && c.exitCode === null) {
        try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    for (const ns of [this.a, this.b]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await sleep(25);
  }
  return cond();
}
