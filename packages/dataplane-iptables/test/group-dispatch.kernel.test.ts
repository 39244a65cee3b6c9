/**
 * The kernel facts `groupDispatch: 'ipset'` stands on (docs/dataplane-iptables.md, "Group
 * dispatch by IP set"), pinned with real TCP connection attempts through a router namespace the
 * test creates, between two client namespaces on veths `gdA` and `gdB`:
 *  - a `list:set` of per-interface `hash:net,iface` sets (one `/0` member each) matched
 *    `dst,dst` selects by the packet's OUT-interface, `src,src` by its IN-interface;
 *  - moving one interface between two lists by `add` to the new THEN `del` from the old keeps
 *    every new connection decided by one of the two list rules, never by neither (a third,
 *    final rule counts "no list matched"); the reverse order (`del` then `add`) is caught by the
 *    same counter, so the test can see what it claims to rule out;
 *  - a set a list holds cannot be destroyed, and a list cannot take a set that does not exist.
 * Verdicts are read from the rule counters of one chain that only new TCP connections (SYN)
 * enter, so every attempt is counted exactly once, whichever rule decides it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const missing: string[] = [];
if (process.getuid?.() !== 0) missing.push('root');
for (const t of ['ip', 'ipset', 'iptables-nft-restore', 'iptables-nft-save', 'bash', 'timeout']) {
  if (spawnSync('which', [t], { stdio: 'ignore' }).status !== 0) missing.push(t);
}
const run = missing.length === 0 || process.env.CI === 'true';

const id = randomBytes(3).toString('hex');
const R = `gh-gd-${id}-r`;
const A = `gh-gd-${id}-a`;
const B = `gh-gd-${id}-b`;
const ADDR = { a: '10.213.1.2', b: '10.213.2.2' } as const;
const PORT = 9; // nothing listens: an accepted SYN is answered by the client's RST, a rejected one by the router's

function ns(netns: string, argv: string[], input?: string): string {
  const r = spawnSync('ip', ['netns', 'exec', netns, ...argv], { input: input ?? '', encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${netns}: ${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const sh = (argv: string[]): void => {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
};
const ipset = (...args: string[]): void => void ns(R, ['ipset', ...args]);

/** The router's `gdt` chain: its rules (after `-A gdt`), counters zeroed. */
function chain(rules: string[]): void {
  ns(R, ['iptables-nft-restore', '--noflush'], ['*filter', ':gdt - [0:0]', ...rules.map((r) => `-A gdt ${r}`), 'COMMIT', ''].join('\n'));
  ns(R, ['iptables-nft', '-Z', 'gdt']);
}

/** Packets each rule of `gdt` has matched, in rule order. */
function counters(): number[] {
  return ns(R, ['iptables-nft-save', '-c', '-t', 'filter'])
    .split('\n')
    .filter((l) => /^\[\d+:\d+\] -A gdt /.test(l))
    .map((l) => Number(/^\[(\d+):/.exec(l)![1]));
}

/** One connection attempt from client `from` to the other client (refused either way; never waits long). */
function attempt(from: 'a' | 'b'): void {
  const to = from === 'a' ? ADDR.b : ADDR.a;
  spawnSync('ip', ['netns', 'exec', from === 'a' ? A : B, 'timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${to}/${PORT}`], { stdio: 'ignore' });
}

describe.skipIf(!run)('group dispatch by IP set: the kernel facts, with real packets', () => {
  beforeAll(() => {
    if (missing.length > 0) throw new Error(`missing capabilities: ${missing.join(', ')}`);
    for (const n of [R, A, B]) sh(['ip', 'netns', 'add', n]);
    for (const [c, dev, net] of [[A, 'gdA', '10.213.1'], [B, 'gdB', '10.213.2']] as const) {
      sh(['ip', 'link', 'add', dev, 'netns', R, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', c]);
      ns(R, ['ip', 'addr', 'add', `${net}.1/24`, 'dev', dev]);
      ns(R, ['ip', 'link', 'set', dev, 'up']);
      ns(c, ['ip', 'addr', 'add', `${net}.2/24`, 'dev', 'eth0']);
      ns(c, ['ip', 'link', 'set', 'eth0', 'up']);
      ns(c, ['ip', 'link', 'set', 'lo', 'up']);
      ns(c, ['ip', 'route', 'add', 'default', 'via', `${net}.1`]);
    }
    ns(R, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    ipset('create', 'ifA', 'hash:net,iface', 'family', 'inet', 'maxelem', '1');
    ipset('add', 'ifA', '0.0.0.0/0,gdA');
    ipset('create', 'ifB', 'hash:net,iface', 'family', 'inet', 'maxelem', '1');
    ipset('add', 'ifB', '0.0.0.0/0,gdB');
    ipset('create', 'LA', 'list:set', 'size', '8');
    ipset('create', 'LB', 'list:set', 'size', '8');
    // Only the first packet of each connection attempt enters gdt.
    ns(R, ['iptables-nft-restore', '--noflush'], '*filter\n:gdt - [0:0]\n-A FORWARD -p tcp --syn -j gdt\nCOMMIT\n');
  });
  afterAll(() => {
    for (const n of [A, B, R]) spawnSync('ip', ['netns', 'del', n]);
  });

  const LIST = 0;
  const NONE = 1;
  const cases = [
    { flags: 'dst,dst', member: 'ifB', from: 'a', decided: LIST, why: 'out-interface gdB is in the list' },
    { flags: 'dst,dst', member: 'ifB', from: 'b', decided: NONE, why: 'out-interface gdA is not' },
    { flags: 'dst,dst', member: 'ifA', from: 'b', decided: LIST, why: 'out-interface gdA is in the list' },
    { flags: 'dst,dst', member: 'ifA', from: 'a', decided: NONE, why: 'in-interface gdA does not count for dst,dst' },
    { flags: 'src,src', member: 'ifA', from: 'a', decided: LIST, why: 'in-interface gdA is in the list' },
    { flags: 'src,src', member: 'ifA', from: 'b', decided: NONE, why: 'out-interface gdA does not count for src,src' },
    { flags: 'src,src', member: 'ifB', from: 'b', decided: LIST, why: 'in-interface gdB is in the list' },
    { flags: 'src,src', member: 'ifB', from: 'a', decided: NONE, why: 'in-interface gdA is not' },
  ] as const;

  it.each(cases)('--match-set L $flags with L = [$member]: a connection from client $from is decided by rule $decided ($why)', ({ flags, member, from, decided }) => {
    ipset('flush', 'LA');
    ipset('add', 'LA', member);
    chain([`-m set --match-set LA ${flags} -j ACCEPT`, '-p tcp -j REJECT --reject-with tcp-reset']);
    attempt(from);
    expect(counters()).toEqual(decided === LIST ? [1, 0] : [0, 1]);
    ipset('flush', 'LA');
  });

  /**
   * Client a connects in a loop (each attempt refused at once: no retransmissions) while the test
   * moves gdB's set between LA and LB 200 times each way, one `ipset` command per step so each
   * intermediate state lasts milliseconds; returns the counters [LA, LB, neither] and the attempts.
   */
  async function movesUnderLoad(step: (from: string, to: string) => string[][]): Promise<{ counts: number[]; attempts: number }> {
    ipset('flush', 'LA');
    ipset('flush', 'LB');
    ipset('add', 'LA', 'ifB');
    chain(['-m set --match-set LA dst,dst -j ACCEPT', '-m set --match-set LB dst,dst -p tcp -j REJECT --reject-with tcp-reset', '-p tcp -j REJECT --reject-with tcp-reset']);
    const script = `const net = require('node:net'); let n = 0, stop = false;
      process.stdin.on('data', () => {}); process.stdin.on('end', () => { stop = true; });
      const once = () => {
        if (stop) { process.stdout.write(String(n)); process.exit(0); }
        const s = net.connect({ host: '${ADDR.b}', port: ${PORT} });
        let done = false;
        const fin = () => { if (done) return; done = true; s.destroy(); n++; setImmediate(once); };
        s.on('connect', fin); s.on('error', fin); s.setTimeout(3000, fin);
      };
      once();`;
    const client = spawn('ip', ['netns', 'exec', A, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    client.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<void>((resolve) => client.on('exit', () => resolve()));
    try {
      await new Promise((r) => setTimeout(r, 300)); // the client is running
      for (let i = 0; i < 200; i++) {
        for (const args of [...step('LA', 'LB'), ...step('LB', 'LA')]) ipset(...args);
        // Let the client's callbacks run between cycles (the loop above blocks this process only).
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
      }
      client.stdin.end();
      await exited;
    } finally {
      if (client.exitCode === null && client.pid !== undefined && client.pid > 1) process.kill(client.pid);
    }
    return { counts: counters(), attempts: Number(out) };
  }

  it('moving an interface add-then-del between two lists leaves no instant where neither list rule decides a new connection', async () => {
    const { counts, attempts } = await movesUnderLoad((from, to) => [
      ['add', to, 'ifB'],
      ['del', from, 'ifB'],
    ]);
    expect(attempts).toBeGreaterThan(200);
    const [la, lb, neither] = counts as [number, number, number];
    expect(neither).toBe(0);
    expect(la).toBeGreaterThan(0);
    expect(lb).toBeGreaterThan(0);
    expect(la + lb).toBeGreaterThanOrEqual(attempts);
  });

  it('(control) del-then-add does leave such instants, and the counter sees them', async () => {
    const { counts, attempts } = await movesUnderLoad((from, to) => [
      ['del', from, 'ifB'],
      ['add', to, 'ifB'],
    ]);
    expect(attempts).toBeGreaterThan(200);
    expect(counts[2]).toBeGreaterThan(0);
  });

  it('a set a list holds cannot be destroyed until it leaves the list; a list cannot take a set that does not exist', () => {
    ipset('flush', 'LA');
    ipset('flush', 'LB');
    ipset('create', 'ifX', 'hash:net,iface', 'family', 'inet', 'maxelem', '1');
    ipset('add', 'LA', 'ifX');
    const destroy = spawnSync('ip', ['netns', 'exec', R, 'ipset', 'destroy', 'ifX'], { encoding: 'utf8' });
    expect(destroy.status).not.toBe(0);
    expect(destroy.stderr).toMatch(/in use by a kernel component/);
    ipset('del', 'LA', 'ifX');
    ipset('destroy', 'ifX');
    const add = spawnSync('ip', ['netns', 'exec', R, 'ipset', '-exist', 'add', 'LA', 'ifX'], { encoding: 'utf8' });
    expect(add.status).not.toBe(0);
    expect(add.stderr).toMatch(/does not exist/);
  });
});
