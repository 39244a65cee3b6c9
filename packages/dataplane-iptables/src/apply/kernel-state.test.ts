import { applyMessage, emptyDataplaneState } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { labelChangeState } from '../label-change.bench.js';
import { formatIptablesRestore } from '../render/format.js';
import { renderState } from '../render/render.js';
import { simRunner } from '../../test/support/kernel-sim.js';
import { emptyKernelState, type KernelState, ownedSetMatcher, parseIpAddrJson, parseIpsetSave, parseIptablesSave } from './kernel-state.js';
import { planConverge } from './plan.js';

describe('parseIpAddrJson', () => {
  it('maps each interface to its addresses, without prefix lengths', () => {
    const text = JSON.stringify([
      { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }, { family: 'inet6', local: '::1', prefixlen: 128 }] },
      { ifindex: 2, ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.1.10', prefixlen: 24 }] },
      { ifindex: 3, ifname: 'eth1', addr_info: [] },
      { ifindex: 4, ifname: 'eth2' },
    ]);
    expect([...parseIpAddrJson(text)]).toEqual([
      ['lo', ['127.0.0.1', '::1']],
      ['eth0', ['192.168.1.10']],
      ['eth1', []],
      ['eth2', []],
    ]);
  });

  it('rejects output that is not the JSON array ip prints', () => {
    expect(() => parseIpAddrJson('Device "x" does not exist.')).toThrow(expect.objectContaining({ code: 'IPTABLES_COMMAND_FAILED' }));
    expect(() => parseIpAddrJson('{}')).toThrow(/expected a JSON array/);
  });
});

describe('reading our chains back (the id comment on the last rule only)', () => {
  const state = emptyDataplaneState();
  for (const m of labelChangeState(20, 8)) applyMessage(state, m);
  const r = renderState(state, 4);
  const readBack = (text: string): KernelState => {
    const k = emptyKernelState();
    const sections = text.split(/^(?=\*)/m);
    for (const s of sections) parseIptablesSave(s.slice(1, s.indexOf('\n')), s, 'gh-', 'gh:', k);
    return k;
  };
  const o = { setPrefix: 'gh', commentTag: 'gh:' };

  it('knows each chain by its rule count and last id, and a plan against it writes nothing', () => {
    const k = readBack(formatIptablesRestore(r));
    for (const c of r.chains) {
      const ids = k.chains.get(`${c.table}:${c.name}`)!.ids;
      expect(ids).toEqual(c.rules.map((x, i) => (i === c.rules.length - 1 ? x.id : '?')));
    }
    for (const h of r.hooks) k.hooks.set(`${h.table}:${h.chain}`, [...(k.hooks.get(`${h.table}:${h.chain}`) ?? []), h.args.join(' ')]);
    for (const s of r.sets) k.sets.set(s.name, { type: s.type, members: new Set(s.members) });
    const plan = planConverge(k, r, o);
    expect(plan.stats).toMatchObject({ chainsWritten: 0, chainsDeleted: 0 });
  });

  it('rewrites a chain with a rule more or less, or another last rule', () => {
    const target = r.chains.find((c) => c.name.startsWith('gh-tw-'))!;
    const text = formatIptablesRestore(r);
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith(`-A ${target.name} `));
    const variants = [
      [...lines.slice(0, at), `-A ${target.name} -j DROP`, ...lines.slice(at)],
      [...lines.slice(0, at), ...lines.slice(at + 1)],
      lines.map((l) => (l.startsWith(`-A ${target.name} `) && l.includes('--comment') ? l.replace(/gh:[A-Za-z0-9_-]+/, 'gh:AAAAAAAAAAAAAAAA') : l)),
    ];
    for (const v of variants) {
      const k = readBack(v.join('\n'));
      for (const h of r.hooks) k.hooks.set(`${h.table}:${h.chain}`, [...(k.hooks.get(`${h.table}:${h.chain}`) ?? []), h.args.join(' ')]);
      for (const s of r.sets) k.sets.set(s.name, { type: s.type, members: new Set(s.members) });
      const plan = planConverge(k, r, o);
      expect(plan.stats.chainsWritten).toBe(1);
    }
  });
});

describe('reading IP sets back (ipset save as ipset 7.17 prints it)', () => {
  const text = [
    'create gh40if:cali1 hash:net,iface family inet hashsize 1024 maxelem 1 bucketsize 12 initval 0xa575626e',
    'add gh40if:cali1 0.0.0.0/0,cali1',
    'create gh60if:cali1 hash:net,iface family inet6 hashsize 1024 maxelem 1 bucketsize 12 initval 0xcc0e8285',
    'add gh60if:cali1 ::/0,cali1',
    'create gh40x hash:net,iface family inet hashsize 1024 maxelem 4 bucketsize 12 initval 0x1',
    'add gh40x 10.0.0.1,eth0',
    'create gh40gi:AAAA list:set size 8',
    'add gh40gi:AAAA gh40if:cali1',
    'add gh40gi:AAAA foreign',
    'create gh60gi:BBBB list:set size 4',
    'create foreign hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x2',
    'add foreign 10.9.0.1',
    '',
  ].join('\n');

  it('keeps a list:set with its member set names verbatim, and a hash:net,iface with explicit prefix lengths', () => {
    const k = emptyKernelState();
    parseIpsetSave(text, ownedSetMatcher('gh'), k);
    expect([...k.sets.keys()]).toEqual(['gh40if:cali1', 'gh60if:cali1', 'gh40x', 'gh40gi:AAAA', 'gh60gi:BBBB']);
    expect(k.sets.get('gh40if:cali1')).toEqual({ type: 'hash:net,iface', members: new Set(['0.0.0.0/0,cali1']) });
    expect(k.sets.get('gh60if:cali1')).toEqual({ type: 'hash:net,iface', members: new Set(['::/0,cali1']) });
    expect(k.sets.get('gh40x')!.members).toEqual(new Set(['10.0.0.1/32,eth0']));
    expect(k.sets.get('gh40gi:AAAA')).toEqual({ type: 'list:set', members: new Set(['gh40if:cali1', 'foreign']) });
    expect(k.sets.get('gh60gi:BBBB')).toEqual({ type: 'list:set', members: new Set() });
  });

  it('reads back what the simulated kernel holds after the same lines (the simulator prints what the real tool prints)', async () => {
    const sim = simRunner();
    const input = [
      'create foreign hash:net family inet maxelem 65536',
      'add foreign 10.9.0.1/32',
      'create gh40if:cali1 hash:net,iface family inet maxelem 1',
      'add gh40if:cali1 0.0.0.0/0,cali1',
      'create gh60if:cali1 hash:net,iface family inet6 maxelem 1',
      'add gh60if:cali1 ::/0,cali1',
      'create gh40x hash:net,iface family inet maxelem 4',
      'add gh40x 10.0.0.1/32,eth0',
      'create gh40gi:AAAA list:set size 8',
      'add gh40gi:AAAA gh40if:cali1',
      'add gh40gi:AAAA foreign',
      'create gh60gi:BBBB list:set size 4',
    ];
    expect((await sim.run(['ipset', '-exist', 'restore'], { input: input.join('\n') })).stderr).toBe('');
    const fromSim = emptyKernelState();
    parseIpsetSave((await sim.run(['ipset', 'save'])).stdout, ownedSetMatcher('gh'), fromSim);
    const fromText = emptyKernelState();
    parseIpsetSave(text, ownedSetMatcher('gh'), fromText);
    expect(fromSim.sets).toEqual(fromText.sets);
  });
});
