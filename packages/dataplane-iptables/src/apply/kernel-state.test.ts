import { applyMessage, emptyDataplaneState } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { labelChangeState } from '../label-change.bench.js';
import { formatIptablesRestore } from '../render/format.js';
import { renderState } from '../render/render.js';
import { emptyKernelState, type KernelState, parseIpAddrJson, parseIptablesSave } from './kernel-state.js';
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
