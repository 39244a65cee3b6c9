/**
 * `clean()` with the IP sets of `groupDispatch: 'ipset'` on the real kernel, in a namespace of its
 * own: `list:set` group sets holding per-interface `hash:net,iface` sets (which the kernel will
 * not destroy while listed), named by rules in both backends and families, or left behind by a
 * run that died half-way. Everything of ours goes; a foreign list, set and rule stay as they were.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsRunner } from '@gingham/host';
import { cleanInstance } from '../src/apply/clean.js';
import { iptablesResidue } from './support/residue.js';

const missing: string[] = [];
if (process.getuid?.() !== 0) missing.push('root');
for (const t of ['ip', 'ipset', 'iptables-nft-restore', 'ip6tables-legacy-restore']) {
  if (spawnSync('which', [t], { stdio: 'ignore' }).status !== 0) missing.push(t);
}
const run = missing.length === 0 || process.env.CI === 'true';

function ns(netns: string, argv: string[], input?: string): string {
  const r = spawnSync('ip', ['netns', 'exec', netns, ...argv], { input: input ?? '', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Everything in the namespace but counters, comments and the sets' random initval; tables holding
 * nothing but empty built-in chains are dropped (a backend keeps a table once it was touched).
 */
function everything(netns: string): string {
  const tools = ['iptables-nft-save', 'ip6tables-nft-save', 'iptables-legacy-save', 'ip6tables-legacy-save'];
  const rules = tools.map((t) =>
    ns(netns, [t])
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
      .join('\n')
      .split(/^(?=\*)/m)
      .filter((section) => section.split('\n').some((l) => l.startsWith('-A') || /^:(?!(INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) )/.test(l)))
      .join(''),
  );
  return [...rules, ns(netns, ['ipset', 'save']).replace(/ initval 0x[0-9a-f]+/g, '')].join('\n');
}

const opts = { chainPrefix: 'gh-', setPrefix: 'gh', commentTag: 'gh:' };

describe.skipIf(!run)('clean() with group sets (list:set of hash:net,iface)', () => {
  const netns = `gh-gdc-${randomBytes(3).toString('hex')}`;
  const runner = createNetnsRunner(netns);
  let foreign = '';

  const ipset = (lines: string[]): void => void ns(netns, ['ipset', '-exist', 'restore'], `${lines.join('\n')}\n`);
  /** Per-interface sets for cali1..cali3 in both families. */
  const ifSets = (): string[] =>
    ['cali1', 'cali2', 'cali3'].flatMap((i) => [
      `create gh40if:${i} hash:net,iface family inet maxelem 1`,
      `add gh40if:${i} 0.0.0.0/0,${i}`,
      `create gh60if:${i} hash:net,iface family inet6 maxelem 1`,
      `add gh60if:${i} ::/0,${i}`,
    ]);

  beforeAll(() => {
    if (missing.length > 0) throw new Error(`missing capabilities: ${missing.join(', ')}`);
    const r = spawnSync('ip', ['netns', 'add', netns], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip netns add ${netns}: ${r.stderr}`);
    // Foreign state that clean() must leave alone: a list holding a set, named by a rule.
    ipset(['create foreign-set hash:net,iface', 'add foreign-set 0.0.0.0/0,eth9', 'create foreign-list list:set size 8', 'add foreign-list foreign-set']);
    ns(netns, ['iptables-nft-restore', '--noflush'], '*filter\n:foreign - [0:0]\n-A foreign -m set --match-set foreign-list dst,dst -j DROP\n-A FORWARD -j foreign\nCOMMIT\n');
    foreign = everything(netns);
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', netns]);
  });

  it('destroys our lists, the sets they hold and the rules that name them (nft IPv4, legacy IPv6), and nothing else', async () => {
    ipset([
      ...ifSets(),
      'create gh40gi:AAAA list:set size 8',
      'add gh40gi:AAAA gh40if:cali1',
      'add gh40gi:AAAA gh40if:cali2',
      'create gh40gi:BBBB list:set size 8',
      'add gh40gi:BBBB gh40if:cali3',
      'create gh60go:CCCC list:set size 8',
      'add gh60go:CCCC gh60if:cali1',
      'add gh60go:CCCC gh60if:cali2',
    ]);
    ns(
      netns,
      ['iptables-nft-restore', '--noflush'],
      [
        '*filter',
        ':gh-FORWARD - [0:0]',
        ':gh-tdi-default - [0:0]',
        '-A gh-tdi-default -m set --match-set gh40gi:AAAA dst,dst -j DROP',
        '-A gh-tdi-default -m set --match-set gh40gi:BBBB dst,dst -m comment --comment "gh:x1" -j DROP',
        '-A gh-FORWARD -o cali+ -m comment --comment "gh:x2" -j gh-tdi-default',
        '-I FORWARD 1 -m comment --comment "gh:hook" -j gh-FORWARD',
        'COMMIT',
        '',
      ].join('\n'),
    );
    ns(
      netns,
      ['ip6tables-legacy-restore', '--noflush'],
      ['*filter', ':gh-tdo-default - [0:0]', '-A gh-tdo-default -m set --match-set gh60go:CCCC src,src -m comment --comment "gh:x3" -j DROP', '-I FORWARD 1 -m comment --comment "gh:hook" -j gh-tdo-default', 'COMMIT', ''].join('\n'),
    );
    // The kernel refuses to destroy a listed set: the order is what makes clean() work.
    expect(spawnSync('ip', ['netns', 'exec', netns, 'ipset', 'destroy', 'gh40if:cali1'], { encoding: 'utf8' }).stderr).toMatch(/in use by a kernel component/);

    const report = await cleanInstance(runner, opts);
    expect(iptablesResidue(netns)).toEqual([]);
    expect(everything(netns)).toBe(foreign);
    expect(report.sets).toEqual({ 4: 5, 6: 4 });
    expect(report.removed).toEqual([
      { family: 4, backend: 'nft', chains: 2, hookRules: 1 },
      { family: 6, backend: 'legacy', chains: 1, hookRules: 1 },
    ]);
  });

  it('finishes what a run that died half-way left: lists still holding sets with no rule naming them, a temporary list, a list of ours holding a foreign set', async () => {
    ipset([
      ...ifSets(),
      'create gh40gi:AAAA list:set size 8',
      'add gh40gi:AAAA gh40if:cali1',
      'create gh4tgi:AAAA list:set size 8',
      'add gh4tgi:AAAA gh40if:cali1',
      'add gh4tgi:AAAA gh40if:cali2',
      'create gh60gi:DDDD list:set size 8',
      'add gh60gi:DDDD gh60if:cali3',
      'add gh60gi:DDDD foreign-set',
    ]);
    const report = await cleanInstance(runner, opts);
    expect(iptablesResidue(netns)).toEqual([]);
    expect(everything(netns)).toBe(foreign);
    expect(report.sets).toEqual({ 4: 5, 6: 4 });
    expect(report.removed).toEqual([]);
    // And again: nothing of ours is left to find.
    expect(await cleanInstance(runner, opts)).toEqual({ removed: [], sets: { 4: 0, 6: 0 } });
  });
});
