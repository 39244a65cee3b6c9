/**
 * The simulated kernel's IP sets for `groupDispatch: 'ipset'`: `hash:net,iface` and `list:set`
 * behave as ipset 7.17 on kernel 6.18 did with real packets (test/group-dispatch.kernel.test.ts
 * pins the same facts on the real kernel), so the fail-closed properties built on the simulator
 * mean what they say.
 */
import { describe, expect, it } from 'vitest';
import { flowVerdict, setMatches, simRunner, type SimRunner } from './support/kernel-sim.js';

const restore = (sim: SimRunner, lines: string[]) => sim.run(['ipset', '-exist', 'restore'], { input: `${lines.join('\n')}\n` });
const iptables = (sim: SimRunner, text: string) => sim.run(['iptables-restore', '--noflush'], { input: text });

/** Per-interface sets for cali1 and cali2 (one `/0` member each) and a list G holding cali1's. */
async function twoInterfaces(): Promise<SimRunner> {
  const sim = simRunner();
  const r = await restore(sim, [
    'create gh40if:cali1 hash:net,iface family inet maxelem 1',
    'add gh40if:cali1 0.0.0.0/0,cali1',
    'create gh40if:cali2 hash:net,iface family inet maxelem 1',
    'add gh40if:cali2 0.0.0.0/0,cali2',
    'create gh40gi:G list:set size 8',
    'add gh40gi:G gh40if:cali1',
  ]);
  expect(r.code, r.stderr).toBe(0);
  return sim;
}

const fwd = (inIf: string, outIf: string) => ({ in: inIf, out: outIf, src: '10.0.0.1', dst: '10.0.0.2', dport: 80 });

describe('kernel-sim: hash:net,iface and list:set', () => {
  it('a hash:net,iface member matches on the address AND the interface the second flag picks (src = in, dst = out)', async () => {
    const sim = await twoInterfaces();
    const k = sim.kernel;
    expect(setMatches(k, 'gh40if:cali1', ['dst', 'dst'], fwd('eth0', 'cali1'))).toBe(true);
    expect(setMatches(k, 'gh40if:cali1', ['dst', 'dst'], fwd('cali1', 'eth0'))).toBe(false);
    expect(setMatches(k, 'gh40if:cali1', ['src', 'src'], fwd('cali1', 'eth0'))).toBe(true);
    expect(setMatches(k, 'gh40if:cali1', ['src', 'src'], fwd('eth0', 'cali1'))).toBe(false);
    // The first flag still picks the address: a narrower net filters on it.
    expect((await restore(sim, ['create n hash:net,iface family inet maxelem 4', 'add n 10.0.0.2/32,cali1'])).code).toBe(0);
    expect(setMatches(k, 'n', ['dst', 'dst'], fwd('eth0', 'cali1'))).toBe(true);
    expect(setMatches(k, 'n', ['src', 'dst'], fwd('eth0', 'cali1'))).toBe(false);
  });

  it('a packet without the interface the flag picks does not match (no out-interface before routing or on INPUT, no in-interface on OUTPUT)', async () => {
    const sim = await twoInterfaces();
    expect(setMatches(sim.kernel, 'gh40if:cali1', ['dst', 'dst'], { in: 'cali1', src: '10.0.0.1', dst: '10.0.0.2', dport: 80 })).toBe(false);
    expect(setMatches(sim.kernel, 'gh40if:cali1', ['src', 'src'], { out: 'cali1', src: '10.0.0.1', dst: '10.0.0.2', dport: 80 })).toBe(false);
  });

  it('a list:set matches when one member set matches with the same flags', async () => {
    const sim = await twoInterfaces();
    const k = sim.kernel;
    expect(setMatches(k, 'gh40gi:G', ['dst', 'dst'], fwd('cali2', 'cali1'))).toBe(true);
    expect(setMatches(k, 'gh40gi:G', ['dst', 'dst'], fwd('cali1', 'cali2'))).toBe(false);
    expect(setMatches(k, 'gh40gi:G', ['src', 'src'], fwd('cali1', 'cali2'))).toBe(true);
    expect(setMatches(k, 'gh40gi:G', ['src', 'src'], fwd('cali2', 'cali1'))).toBe(false);
    expect((await restore(sim, ['add gh40gi:G gh40if:cali2', 'del gh40gi:G gh40if:cali1'])).code).toBe(0);
    expect(setMatches(k, 'gh40gi:G', ['dst', 'dst'], fwd('cali2', 'cali1'))).toBe(false);
    expect(setMatches(k, 'gh40gi:G', ['dst', 'dst'], fwd('cali1', 'cali2'))).toBe(true);
  });

  it('a rule with --match-set L dst,dst decides by the out-interface through the hooks (and fails closed when no list holds it)', async () => {
    const sim = await twoInterfaces();
    const r = await iptables(sim, ['*filter', ':gh-d - [0:0]', '-A gh-d -m set --match-set gh40gi:G dst,dst -j ACCEPT', '-A gh-d -j DROP', '-A FORWARD -j gh-d', 'COMMIT', ''].join('\n'));
    expect(r.code, r.stderr).toBe(0);
    expect(flowVerdict(sim.kernel, { hook: 'forward', ...fwd('cali2', 'cali1') })).toBe(true);
    expect(flowVerdict(sim.kernel, { hook: 'forward', ...fwd('cali1', 'cali2') })).toBe(false);
    expect((await restore(sim, ['del gh40gi:G gh40if:cali1'])).code).toBe(0);
    expect(flowVerdict(sim.kernel, { hook: 'forward', ...fwd('cali2', 'cali1') })).toBe(false);
  });

  it('refuses what the kernel refuses: adding a missing set or a list to a list, destroying a listed set, a list with hash options, a hash:net,iface member without an interface', async () => {
    const sim = await twoInterfaces();
    expect((await restore(sim, ['add gh40gi:G nosuch'])).stderr).toMatch(/does not exist/);
    expect((await restore(sim, ['create gh40gi:H list:set size 8', 'add gh40gi:G gh40gi:H'])).stderr).toMatch(/list:set type cannot be added/);
    expect((await restore(sim, ['destroy gh40if:cali1'])).stderr).toMatch(/in use/);
    expect(sim.kernel.sets.has('gh40if:cali1')).toBe(true);
    expect((await restore(sim, ['del gh40gi:G gh40if:cali1', 'destroy gh40if:cali1'])).code).toBe(0);
    expect(sim.kernel.sets.has('gh40if:cali1')).toBe(false);
    expect((await restore(sim, ['create gh40gi:J list:set family inet maxelem 8'])).stderr).toMatch(/unknown argument family/);
    expect((await restore(sim, ['add gh40if:cali2 0.0.0.0/0'])).stderr).toMatch(/second element is missing/);
    // A list named by a rule cannot go either.
    expect((await iptables(sim, ['*filter', '-A FORWARD -m set --match-set gh40gi:G dst,dst -j ACCEPT', 'COMMIT', ''].join('\n'))).code).toBe(0);
    expect((await restore(sim, ['destroy gh40gi:G'])).stderr).toMatch(/in use/);
  });

  it('-exist create compares what the kernel compares: a list size (at least 4), a hash:net,iface maxelem', async () => {
    const sim = await twoInterfaces();
    expect((await restore(sim, ['create gh40gi:G list:set size 8'])).code).toBe(0);
    expect((await restore(sim, ['create gh40gi:G list:set size 16'])).stderr).toMatch(/already exists/);
    expect((await restore(sim, ['create gh40gi:S list:set size 2', 'create gh40gi:S list:set size 4'])).code).toBe(0);
    expect((await restore(sim, ['create gh40if:cali1 hash:net,iface family inet maxelem 1'])).code).toBe(0);
    expect((await restore(sim, ['create gh40if:cali1 hash:net,iface family inet maxelem 2'])).stderr).toMatch(/already exists/);
  });

  it('ipset save prints them as the real tool does', async () => {
    const sim = await twoInterfaces();
    expect((await restore(sim, ['create gh60if:cali1 hash:net,iface family inet6 maxelem 1', 'add gh60if:cali1 ::/0,cali1'])).code).toBe(0);
    expect((await sim.run(['ipset', 'save'])).stdout).toBe(
      [
        'create gh40if:cali1 hash:net,iface family inet hashsize 1024 maxelem 1',
        'add gh40if:cali1 0.0.0.0/0,cali1',
        'create gh40if:cali2 hash:net,iface family inet hashsize 1024 maxelem 1',
        'add gh40if:cali2 0.0.0.0/0,cali2',
        'create gh40gi:G list:set size 8',
        'add gh40gi:G gh40if:cali1',
        'create gh60if:cali1 hash:net,iface family inet6 hashsize 1024 maxelem 1',
        'add gh60if:cali1 ::/0,cali1',
        '',
      ].join('\n'),
    );
  });
});
