/**
 * `clean()`: find every hook rule, chain and IP set of one instance (chain and set prefix) in
 * both address families and both iptables backends — wherever an earlier run put them, whatever
 * options it had — remove all of it and nothing else, and say what was removed.
 *
 * Everything is read before anything is removed, so a missing tool or a failing read-back
 * changes nothing. Rules go before sets (a set cannot be destroyed while a rule names it), and
 * within a family and backend the tables are emptied filter → mangle → raw: each intermediate
 * state is then "the old verdict, or no policy at all" for every packet (a table's rules decide
 * or pass on; with the later tables already gone, what the earlier ones still decide is what they
 * decided before).
 *
 * Sets go lists first (`groupDispatch: 'ipset'`): the kernel refuses to destroy a set while a
 * `list:set` holds it, and destroying the list releases its members. Name order is not enough
 * (a temporary list `<p>4t…` sorts after the `<p>40…` sets it holds), and the order also covers
 * a run that died half-way (a list still holding per-interface sets, with or without the rules
 * that named it). The one destroy batch is run again while the kernel still reports a set "in use
 * by a kernel component": the nft backend drops a removed rule's hold on its set as deferred work
 * after the commit, and under `-exist` a destroy of a set already gone succeeds.
 */
import { CommandFailedError, runChecked, type CommandRunner } from '@gingham/host';
import { emptyKernelState, ownedSetMatcher, parseIpsetSave, parseIptablesSave } from './kernel-state.js';
import { restoreText, TABLES } from './plan.js';
import type { Table } from '../render/options.js';

export type CleanBackend = 'nft' | 'legacy';

/** What `clean()` removed in one address family and backend. */
export interface CleanEntry {
  readonly family: 4 | 6;
  readonly backend: CleanBackend;
  readonly chains: number;
  readonly hookRules: number;
}

export interface CleanReport {
  /** Per family and backend where something of ours was found. */
  readonly removed: readonly CleanEntry[];
  /** IP sets destroyed, per family. */
  readonly sets: { readonly 4: number; readonly 6: number };
}

export interface CleanOptions {
  readonly chainPrefix: string;
  readonly setPrefix: string;
  readonly commentTag: string;
}

const BACKENDS: readonly CleanBackend[] = ['nft', 'legacy'];
/** Destroy batch retries while a set is still "in use" (about 1 s in all, as the dataplane's). */
const DESTROY_RETRIES = 9;

export async function cleanInstance(runner: CommandRunner, o: CleanOptions): Promise<CleanReport> {
  const must = async (argv: readonly string[], input?: string): Promise<string> =>
    (await runChecked(runner, argv, input === undefined ? { timeoutMs: 600_000 } : { input, timeoutMs: 600_000 })).stdout;
  const found: { family: 4 | 6; backend: CleanBackend; input: string; chains: number; hookRules: number }[] = [];
  for (const family of [4, 6] as const) {
    for (const backend of BACKENDS) {
      const tool = `${family === 4 ? 'iptables' : 'ip6tables'}-${backend}`;
      const k = emptyKernelState();
      for (const table of TABLES) parseIptablesSave(table, await must([`${tool}-save`, '-t', table]), o.chainPrefix, o.commentTag, k);
      const sections = new Map<Table, string[]>();
      const sec = (table: string): string[] => {
        let l = sections.get(table as Table);
        if (!l) sections.set(table as Table, (l = []));
        return l;
      };
      const chains = [...k.chains.keys()].sort();
      let hookRules = 0;
      for (const key of chains) sec(key.slice(0, key.indexOf(':'))).push(`:${key.slice(key.indexOf(':') + 1)} - [0:0]`);
      for (const [key, list] of k.hooks) {
        for (const args of list) {
          sec(key.slice(0, key.indexOf(':'))).push(`-D ${key.slice(key.indexOf(':') + 1)} ${args}`);
          hookRules++;
        }
      }
      for (const key of chains) sec(key.slice(0, key.indexOf(':'))).push(`-X ${key.slice(key.indexOf(':') + 1)}`);
      if (sections.size === 0) continue;
      const order = [...TABLES].reverse().filter((t) => sections.has(t));
      found.push({ family, backend, chains: chains.length, hookRules, input: restoreText({ kind: 'restore', sections: order.map((table) => ({ table, lines: sections.get(table)! })) }) });
    }
  }
  const sets = emptyKernelState();
  parseIpsetSave(await must(['ipset', 'save']), ownedSetMatcher(o.setPrefix), sets);

  for (const f of found) await must([`${f.family === 4 ? 'iptables' : 'ip6tables'}-${f.backend}-restore`, '--noflush'], f.input);
  const names = [...sets.sets.keys()].sort();
  const isList = (n: string): boolean => sets.sets.get(n)!.type === 'list:set';
  const order = [...names.filter(isList), ...names.filter((n) => !isList(n))];
  for (let attempt = 0; order.length > 0; attempt++) {
    try {
      await must(['ipset', '-exist', 'restore'], `${order.map((n) => `destroy ${n}`).join('\n')}\n`);
      break;
    } catch (e) {
      if (attempt >= DESTROY_RETRIES || !(e instanceof CommandFailedError) || !e.stderr.includes('in use by a kernel component')) throw e;
      await new Promise((r) => setTimeout(r, 2 << attempt));
    }
  }
  const count = (fam: string): number => names.filter((n) => n.slice(o.setPrefix.length).startsWith(fam)).length;
  return { removed: found.map(({ family, backend, chains, hookRules }) => ({ family, backend, chains, hookRules })), sets: { 4: count('4'), 6: count('6') } };
}

/** "removed 24 chains, 6 hook rules and 10 IP sets (IPv4, IPv6; nft)" or "nothing of Gingham's was found". */
export function formatCleanReport(r: CleanReport): string {
  const chains = r.removed.reduce((n, e) => n + e.chains, 0);
  const hooks = r.removed.reduce((n, e) => n + e.hookRules, 0);
  const sets = r.sets[4] + r.sets[6];
  if (chains + hooks + sets === 0) return "nothing of Gingham's was found";
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const fams = [...new Set([...r.removed.map((e) => e.family), ...(r.sets[4] > 0 ? [4] : []), ...(r.sets[6] > 0 ? [6] : [])])].sort().map((f) => `IPv${f}`);
  const backends = [...new Set(r.removed.map((e) => e.backend))];
  const where = backends.length > 0 ? `${fams.join(', ')}; ${backends.join(', ')}` : fams.join(', ');
  return `removed ${plural(chains, 'chain')}, ${plural(hooks, 'hook rule')} and ${plural(sets, 'IP set')} (${where})`;
}
