/**
 * `tsx scripts/bench.ts iptables-commit-shape` (root, strace; one scratch network namespace,
 * removed in `finally`): what the kernel's commit of a label change's transaction (one 8-rule
 * endpoint chain flushed and rewritten) costs against filter tables shaped like ours at
 * 100k × 10k, varying one factor at a time. The tables are synthetic, in our layout: hook →
 * `gh-FORWARD` → the to-workload dispatch (`-o IF -g` per endpoint) → endpoint chains, each
 * jumping to one of the policy-group chains (200 policy jumps, a RETURN every 5) → policy chains
 * (a `-m set` + `-m multiport` rule setting the accept mark, and its RETURN). The figure is the
 * `sendmsg` of the nft batch (`strace -T`; the commit and its validation run inside it), median
 * of 7 one-shot `iptables-nft-restore --noflush` children. Variants: fewer endpoint chains
 * jumping to the same groups (more paths, same rules), half the groups unreached, smaller groups,
 * no rule comments, the comment on each chain's last rule only (what the renderer writes), and
 * native matches instead of the `-m set`/`-m multiport` compat ones.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

type Emit = (row: { bench: string; metric: string; value: number; unit: string }) => void;

interface Shape {
  /** Endpoint chains (each reached from the dispatch chain). */
  readonly endpoints: number;
  /** Policy-group chains, and how many of them no endpoint chain jumps to. */
  readonly groups: number;
  readonly unreached: number;
  /** Policies per group (a policy chain each). */
  readonly policies: number;
  readonly comments: 'every' | 'last' | 'none';
  /** `-m set --match-set … src -m multiport --dports P` (compat matches), or `-s NET --dport P` (native). */
  readonly compat: boolean;
}

const BASE: Shape = { endpoints: 250, groups: 50, unreached: 0, policies: 200, comments: 'every', compat: true };
const VARIANTS: readonly [string, Shape][] = [
  ['base', BASE],
  ['endpoints_50', { ...BASE, endpoints: 50 }],
  ['half_groups_unreached', { ...BASE, unreached: 25 }],
  ['policies_100', { ...BASE, policies: 100 }],
  ['no_comments', { ...BASE, comments: 'none' }],
  ['last_rule_comments', { ...BASE, comments: 'last' }],
  ['native_matches', { ...BASE, compat: false }],
];

function tables(s: Shape): { load: string; tx: string; rules: number } {
  const chains = new Map<string, string[]>();
  const add = (chain: string, rule: string): void => {
    let l = chains.get(chain);
    if (!l) chains.set(chain, (l = []));
    l.push(rule);
  };
  add('gh-FORWARD', '-o cali+ -j gh-to-wl-dispatch');
  const epRules = (e: number): string[] => [
    '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-m conntrack --ctstate INVALID -j DROP',
    '-j MARK --set-xmark 0x0/0x30000',
    '-j MARK --set-xmark 0x0/0x20000',
    `-m mark --mark 0x0/0x20000 -j gh-gi-${e % (s.groups - s.unreached)}`,
    '-m mark --mark 0x10000/0x10000 -j RETURN',
    '-m mark --mark 0x0/0x20000 -j DROP',
    '-j DROP',
  ];
  for (let e = 0; e < s.endpoints; e++) {
    add('gh-to-wl-dispatch', `-o cali${e} -g gh-tw-${e}`);
    for (const r of epRules(e)) add(`gh-tw-${e}`, r);
  }
  for (let g = 0; g < s.groups; g++) {
    for (let p = 0; p < s.policies; p++) {
      if (p > 0 && p % 5 === 0) add(`gh-gi-${g}`, '-m mark ! --mark 0x0/0x30000 -j RETURN');
      add(`gh-gi-${g}`, `${p === 0 ? '' : '-m mark --mark 0x0/0x30000 '}-j gh-pi-${g}-${p}`);
      const match = s.compat ? `-p tcp -m set --match-set ghcs-s src -m multiport --dports ${1000 + p}` : `-p tcp -s 10.${g}.${p & 255}.0/24 --dport ${1000 + p}`;
      add(`gh-pi-${g}-${p}`, `${match} -j MARK --set-xmark 0x10000/0x10000`);
      add(`gh-pi-${g}-${p}`, '-m mark --mark 0x10000/0x10000 -j RETURN');
    }
  }
  let n = 0;
  const lines = (chain: string, rules: readonly string[]): string[] =>
    rules.map((r, i) => {
      const comment = s.comments === 'every' || (s.comments === 'last' && i === rules.length - 1) ? ` -m comment --comment "gh:${(n++).toString(36).padStart(16, '0')}"` : '';
      return `-A ${chain}${comment} ${r}`;
    });
  const load = ['*filter', ...[...chains.keys()].map((c) => `:${c} - [0:0]`), ...[...chains].flatMap(([c, rules]) => lines(c, rules)), '-A FORWARD -m comment --comment "gh:hook" -j gh-FORWARD', 'COMMIT', ''];
  const tx = ['*filter', ':gh-tw-0 - [0:0]', '-F gh-tw-0', ...lines('gh-tw-0', epRules(0)), 'COMMIT', ''];
  return { load: load.join('\n'), tx: tx.join('\n'), rules: [...chains.values()].reduce((x, l) => x + l.length, 0) };
}

export async function runCommitShapeBench(emit: Emit): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the commit-shape bench needs root (it works only inside a scratch network namespace)');
  if (spawnSync('strace', ['-V']).status !== 0) throw new Error('the commit-shape bench needs strace (apt-get install --no-install-recommends strace)');
  const name = `gh-iptcs-${randomBytes(3).toString('hex')}`;
  if (spawnSync('ip', ['netns', 'add', name]).status !== 0) throw new Error(`ip netns add ${name} failed`);
  const dir = mkdtempSync(join(tmpdir(), 'gh-iptcs-'));
  const inNs = (argv: string[], input?: string): void => {
    const r = spawnSync('nsenter', [`--net=/run/netns/${name}`, ...argv], { input, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  };
  const commitMs = (tx: string): number => {
    const out = join(dir, 'trace');
    inNs(['strace', '-f', '-qq', '-T', '-e', 'trace=sendmsg', '-o', out, 'iptables-nft-restore', '--noflush'], tx);
    let ms = 0;
    for (const m of readFileSync(out, 'utf8').matchAll(/<(\d+\.\d+)>$/gm)) ms += Number(m[1]) * 1000;
    return ms;
  };
  try {
    inNs(['ipset', 'create', 'ghcs-s', 'hash:net']);
    for (const [label, shape] of VARIANTS) {
      inNs(['iptables-nft', '-t', 'filter', '-F']);
      inNs(['iptables-nft', '-t', 'filter', '-X']);
      const t = tables(shape);
      inNs(['iptables-nft-restore', '--noflush'], t.load);
      const xs = Array.from({ length: 7 }, () => commitMs(t.tx)).sort((a, b) => a - b);
      const b = `iptables.commit_shape.${label}`;
      emit({ bench: b, metric: 'filter_rules', value: t.rules, unit: 'rules' });
      emit({ bench: b, metric: 'commit_sendmsg_p50', value: xs[3]!, unit: 'ms' });
      emit({ bench: b, metric: 'commit_sendmsg_min', value: xs[0]!, unit: 'ms' });
    }
  } finally {
    spawnSync('ip', ['netns', 'del', name]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runCommitShapeBench((row) => process.stdout.write(`${JSON.stringify(row)}\n`));
}
