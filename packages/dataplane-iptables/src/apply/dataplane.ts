/**
 * The iptables dataplane: accumulate messages, render, and converge the kernel in one step per
 * `apply`:
 *   1. `ipset restore`: new sets created with their members; changed sets by add/del deltas, or
 *      rebuilt in a temporary set and `swap`ped in when the change is large;
 *   2. one `iptables-restore --noflush` per family: only chains whose rule ids changed are
 *      declared (which flushes them) and rewritten, stale chains of ours flushed and deleted,
 *      missing hook rules inserted at the top of the built-in chains — atomic per table;
 *   3. `ipset restore` destroying sets of ours that nothing references any more.
 * Sets are added before the rules that name them and removed after, so no step references a
 * missing set. On the first apply (and after any failure) the kernel is read back by rule ids:
 * matching chains are adopted untouched, stale ones removed. Nothing outside our prefixes is
 * ever written, except the hook rules. Small IP set batches (label changes) go through one
 * persistent `ipset -exist -` session (`ipset-session.ts`), with a one-shot fallback.
 */
import type { Dataplane, DataplaneMessage } from '@gingham/core';
import { CommandFailedError } from '../errors.js';
import { setName } from '../render/names.js';
import { formatRule, type HostFacts, type Rendered, renderState, setMembers, resolveRenderOptions, type RenderOptions, type ResolvedRenderOptions } from '../render/render.js';
import { applyMessages, emptyState, type IptablesState } from '../render/state.js';
import { emptyKernelState, type KernelState, parseIpAddrJson, parseIpsetSave, parseIptablesSave } from './kernel-state.js';
import { IPSET_SESSION_ARGV, type IpsetSession, openIpsetSession } from './ipset-session.js';
import { type CommandRunner, createExecRunner } from './runner.js';

export type IptablesBackend = 'default' | 'nft' | 'legacy';

export interface IptablesDataplaneOptions extends RenderOptions {
  /** How commands run (default: spawned directly in the current network namespace). */
  readonly runner?: CommandRunner;
  /** `iptables-restore` (default), `iptables-nft-restore` or `iptables-legacy-restore`. */
  readonly backend?: IptablesBackend;
  /** Address families to enforce (default `[4]`). */
  readonly families?: readonly (4 | 6)[];
  /**
   * Keep a persistent `ipset -exist -` child for small IP set batches (default true; needs a
   * runner with `spawn`). Started after the first successful apply, stopped by `close()` and
   * `clean()`; on any session failure the batch runs as a one-shot `ipset restore`.
   */
  readonly ipsetSession?: boolean;
}

export interface ApplyStats {
  readonly chainsWritten: number;
  readonly chainsDeleted: number;
  readonly setsCreated: number;
  readonly setsSwapped: number;
  readonly setMembersChanged: number;
  readonly setsDestroyed: number;
}

export interface IptablesDataplane extends Dataplane {
  apply(messages: readonly DataplaneMessage[]): Promise<void>;
  /** Removes every hook rule, chain and IP set of ours (and nothing else). */
  clean(): Promise<void>;
  /** The last rendering for a family (after an apply). */
  rendered(family: 4 | 6): Rendered | undefined;
  /** What the last apply changed (summed over families). */
  lastStats(): ApplyStats;
  /** Stops the persistent ipset session (by PID if it does not quit); the kernel state stays. */
  close(): Promise<void>;
  /** The PID of the persistent ipset session, when one is running. */
  ipsetSessionPid(): number | undefined;
}

const SWAP_THRESHOLD = 64;
/** Batches up to this many lines go through the persistent session; larger ones one-shot. */
const SESSION_MAX_LINES = 1000;
/** After this many session failures the dataplane stays with one-shot restores. */
const SESSION_MAX_FAILURES = 3;
const TABLES = ['raw', 'mangle', 'filter'] as const;

const split = (key: string): [string, string] => {
  const i = key.indexOf(':');
  return [key.slice(0, i), key.slice(i + 1)];
};

/** One `iptables-restore --noflush` input with a section per table that has lines. */
function restoreInput(sections: Map<string, string[]>): string {
  const out: string[] = [];
  for (const table of TABLES) {
    const lines = sections.get(table);
    if (!lines || lines.length === 0) continue;
    // No spread: a table can hold far more lines than a call has room for arguments.
    out.push(`*${table}`);
    for (const l of lines) out.push(l);
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

function tools(family: 4 | 6, backend: IptablesBackend): { save: string; restore: string } {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  const suffix = backend === 'default' ? '' : `-${backend}`;
  return { save: `${base}${suffix}-save`, restore: `${base}${suffix}-restore` };
}

/** Creates the iptables dataplane. Nothing touches the kernel until the first `apply`. */
export function createIptablesDataplane(options: IptablesDataplaneOptions = {}): IptablesDataplane {
  const o: ResolvedRenderOptions = resolveRenderOptions(options);
  const runner = options.runner ?? createExecRunner();
  const backend = options.backend ?? 'default';
  const families = options.families ?? [4];
  const state: IptablesState = emptyState();
  const kernel = new Map<4 | 6, KernelState>();
  const last = new Map<4 | 6, Rendered>();
  let stats: ApplyStats = { chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setsSwapped: 0, setMembersChanged: 0, setsDestroyed: 0 };

  const ownedSet = (family: 4 | 6) => (name: string): 4 | 6 | undefined => {
    const m = /^(\d)[0t]/.exec(name.slice(o.setPrefix.length));
    return name.startsWith(o.setPrefix) && m && Number(m[1]) === family ? family : undefined;
  };

  async function must(argv: readonly string[], stdin?: string): Promise<string> {
    const r = await runner.run(argv, stdin);
    if (r.code !== 0) throw new CommandFailedError(argv, r.code, r.stderr, stdin);
    return r.stdout;
  }

  let session: IpsetSession | undefined;
  let sessionFailures = 0;
  const sessionWanted = (options.ipsetSession ?? true) && runner.spawn !== undefined;
  const openSession = (): void => {
    if (!sessionWanted || sessionFailures >= SESSION_MAX_FAILURES || session?.alive()) return;
    session = openIpsetSession(runner);
    if (!session) sessionFailures = SESSION_MAX_FAILURES;
  };
  const closeSession = async (): Promise<void> => {
    const s = session;
    session = undefined;
    await s?.close();
  };

  /** IP set commands: through the session when it is up and the batch is small, else one-shot. */
  async function ipsetLines(lines: readonly string[]): Promise<void> {
    const input = `${lines.join('\n')}\n`;
    if (session && lines.length <= SESSION_MAX_LINES) {
      const r = await session.run(lines);
      if (r && r.stderr === '') return;
      if (r) throw new CommandFailedError(IPSET_SESSION_ARGV, 1, r.stderr, input);
      sessionFailures++;
      await closeSession();
    }
    await must(['ipset', '-exist', 'restore'], input);
  }

  /** Interface addresses, read only when a host endpoint is bound by expected IPs. */
  async function hostFacts(): Promise<HostFacts> {
    if (![...state.hostEndpoints.values()].some((h) => h.binding.kind === 'expected-ips')) return {};
    return { interfaceAddresses: parseIpAddrJson(await must(['ip', '-j', 'addr', 'show'])) };
  }

  async function readBack(family: 4 | 6): Promise<KernelState> {
    const k = emptyKernelState();
    for (const table of TABLES) parseIptablesSave(table, await must([tools(family, backend).save, '-t', table]), o.chainPrefix, o.commentTag, k);
    parseIpsetSave(await must(['ipset', 'save']), ownedSet(family), k);
    return k;
  }

  async function converge(family: 4 | 6, host: HostFacts): Promise<void> {
    let k = kernel.get(family);
    if (!k) {
      k = await readBack(family);
      kernel.set(family, k);
    }
    const r = renderState(state, family, o, host);
    const s = { chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setsSwapped: 0, setMembersChanged: 0, setsDestroyed: 0 };
    const fam = family === 4 ? 'inet' : 'inet6';

    // 1. Sets: create, delta, or swap.
    const setLines: string[] = [];
    for (const set of r.sets) {
      const have = k.sets.get(set.name);
      const create = (n: string): string => `create ${n} ${set.type} family ${fam} maxelem 1048576`;
      const want = new Set(set.members);
      if (!have || have.type !== set.type) {
        const target = have ? `${o.setPrefix}${family}t${set.name.slice(o.setPrefix.length + 2)}` : set.name;
        setLines.push(create(target), ...(have ? [`flush ${target}`] : []));
        for (const m of set.members) setLines.push(`add ${target} ${m}`);
        if (have) setLines.push(`swap ${target} ${set.name}`, `destroy ${target}`);
        s.setsCreated += have ? 0 : 1;
        s.setsSwapped += have ? 1 : 0;
        continue;
      }
      const adds = set.members.filter((m) => !have.members.has(m));
      const dels = [...have.members].filter((m) => !want.has(m));
      if (adds.length + dels.length === 0) continue;
      if (adds.length + dels.length > Math.max(SWAP_THRESHOLD, want.size / 2)) {
        const tmp = `${o.setPrefix}${family}t${set.name.slice(o.setPrefix.length + 2)}`;
        setLines.push(create(tmp), `flush ${tmp}`);
        for (const m of set.members) setLines.push(`add ${tmp} ${m}`);
        setLines.push(`swap ${tmp} ${set.name}`, `destroy ${tmp}`);
        s.setsSwapped++;
      } else {
        for (const m of adds) setLines.push(`add ${set.name} ${m}`);
        for (const m of dels) setLines.push(`del ${set.name} ${m}`);
        s.setMembersChanged += adds.length + dels.length;
      }
    }
    if (setLines.length > 0) await ipsetLines(setLines);
    for (const set of r.sets) k.sets.set(set.name, { type: set.type, members: new Set(set.members) });

    // 2. Chains and hooks: one restore, one section (transaction) per table.
    const ck = (c: { table: string; name: string }): string => `${c.table}:${c.name}`;
    const want = new Map(r.chains.map((c) => [ck(c), c]));
    const write = r.chains.filter((c) => {
      const have = k.chains.get(ck(c));
      return !have || have.ids.length !== c.rules.length || have.ids.some((id, i) => id !== c.rules[i]!.id);
    });
    const stale = [...k.chains.keys()].filter((n) => !want.has(n)).sort();
    const hookKey = (h: { table: string; chain: string }): string => `${h.table}:${h.chain}`;
    const hookAdds = r.hooks.filter((h) => !(k.hooks.get(hookKey(h)) ?? []).includes(h.args.join(' ')));
    const hookDels: [string, string][] = [];
    for (const [key, list] of k.hooks) {
      for (const args of list) if (!r.hooks.some((h) => hookKey(h) === key && h.args.join(' ') === args)) hookDels.push([key, args]);
    }
    if (write.length + stale.length + hookAdds.length + hookDels.length > 0) {
      const sections = new Map<string, string[]>();
      const sec = (table: string): string[] => {
        let l = sections.get(table);
        if (!l) sections.set(table, (l = []));
        return l;
      };
      const declared = [...write.map(ck), ...stale];
      for (const key of declared) {
        const [table, name] = split(key);
        sec(table).push(`:${name} - [0:0]`);
      }
      for (const key of declared) {
        const [table, name] = split(key);
        if (k.chains.has(key)) sec(table).push(`-F ${name}`);
      }
      for (const c of write) for (const rule of c.rules) sec(c.table).push(formatRule(c.name, rule, o.commentTag));
      for (const [key, args] of hookDels) {
        const [table, chain] = split(key);
        sec(table).push(`-D ${chain} ${args}`);
      }
      for (const key of stale) {
        const [table, name] = split(key);
        sec(table).push(`-X ${name}`);
      }
      for (const h of hookAdds) sec(h.table).push(`-I ${h.chain} 1 ${h.args.join(' ')}`);
      await must([tools(family, backend).restore, '--noflush'], restoreInput(sections));
    }
    for (const c of write) k.chains.set(ck(c), { ids: c.rules.map((x) => x.id) });
    for (const c of stale) k.chains.delete(c);
    k.hooks.clear();
    for (const h of r.hooks) k.hooks.set(hookKey(h), [...(k.hooks.get(hookKey(h)) ?? []), h.args.join(' ')]);
    s.chainsWritten = write.length;
    s.chainsDeleted = stale.length;

    // 3. Destroy sets nothing references any more.
    const wanted = new Set(r.sets.map((x) => x.name));
    const gone = [...k.sets.keys()].filter((n) => !wanted.has(n)).sort();
    if (gone.length > 0) await ipsetLines(gone.map((n) => `destroy ${n}`));
    for (const n of gone) k.sets.delete(n);
    s.setsDestroyed = gone.length;
    last.set(family, r);
    stats = {
      chainsWritten: stats.chainsWritten + s.chainsWritten,
      chainsDeleted: stats.chainsDeleted + s.chainsDeleted,
      setsCreated: stats.setsCreated + s.setsCreated,
      setsSwapped: stats.setsSwapped + s.setsSwapped,
      setMembersChanged: stats.setMembersChanged + s.setMembersChanged,
      setsDestroyed: stats.setsDestroyed + s.setsDestroyed,
    };
  }

  /**
   * Fast path for the common incremental case (a label change): a batch of only member deltas on
   * sets the kernel already holds becomes `ipset add/del` lines, with no render and no restore
   * of chains (rule text never depends on set members).
   */
  async function membersOnly(messages: readonly DataplaneMessage[]): Promise<boolean> {
    if (messages.length === 0 || !families.every((f) => kernel.has(f))) return false;
    const deltas: { readonly id: string }[] = [];
    for (const m of messages) {
      if (m.kind === 'in-sync') continue;
      if (m.kind !== 'ipset-add-members' && m.kind !== 'ipset-remove-members') return false;
      if (!state.ipSets.has(m.id)) return false;
      deltas.push(m);
    }
    for (const f of families) {
      const k = kernel.get(f)!;
      for (const m of deltas) if (!k.sets.has(setName(o.setPrefix, f, false, m.id))) return false;
    }
    // Compute the resulting membership per set, then diff against the kernel model.
    applyMessages(state, messages);
    stats = { chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setsSwapped: 0, setMembersChanged: 0, setsDestroyed: 0 };
    const ids = [...new Set(deltas.map((m) => m.id))];
    for (const f of families) {
      const k = kernel.get(f)!;
      const lines: string[] = [];
      const updates: [string, Set<string>][] = [];
      for (const id of ids) {
        const name = setName(o.setPrefix, f, false, id);
        const entry = state.ipSets.get(id)!;
        const want = new Set(setMembers(entry.type, entry.members, f));
        const have = k.sets.get(name)!;
        for (const x of want) if (!have.members.has(x)) lines.push(`add ${name} ${x}`);
        for (const x of have.members) if (!want.has(x)) lines.push(`del ${name} ${x}`);
        updates.push([name, want]);
      }
      if (lines.length > 0) {
        try {
          await ipsetLines(lines);
        } catch (e) {
          kernel.delete(f);
          throw e;
        }
      }
      for (const [name, want] of updates) k.sets.set(name, { type: k.sets.get(name)!.type, members: want });
      stats = { ...stats, setMembersChanged: stats.setMembersChanged + lines.length };
    }
    return true;
  }

  return {
    async apply(messages) {
      if (await membersOnly(messages)) {
        openSession();
        return;
      }
      applyMessages(state, messages);
      stats = { chainsWritten: 0, chainsDeleted: 0, setsCreated: 0, setsSwapped: 0, setMembersChanged: 0, setsDestroyed: 0 };
      const host = await hostFacts(); // one read for every family
      for (const family of families) {
        try {
          await converge(family, host);
        } catch (e) {
          kernel.delete(family);
          throw e;
        }
      }
      // Converged: start the persistent session now so the next label change finds it ready.
      openSession();
    },
    async clean() {
      await closeSession();
      for (const family of families) {
        kernel.delete(family);
        const k = await readBack(family);
        const chains = [...k.chains.keys()].sort();
        const sections = new Map<string, string[]>();
        const sec = (table: string): string[] => {
          let l = sections.get(table);
          if (!l) sections.set(table, (l = []));
          return l;
        };
        for (const key of chains) {
          const [table, name] = split(key);
          sec(table).push(`:${name} - [0:0]`);
        }
        for (const [key, list] of k.hooks) {
          const [table, chain] = split(key);
          for (const args of list) sec(table).push(`-D ${chain} ${args}`);
        }
        for (const key of chains) {
          const [table, name] = split(key);
          sec(table).push(`-X ${name}`);
        }
        if (sections.size > 0) await must([tools(family, backend).restore, '--noflush'], restoreInput(sections));
        const sets = [...k.sets.keys()].sort();
        if (sets.length > 0) await must(['ipset', '-exist', 'restore'], `${sets.map((n) => `destroy ${n}`).join('\n')}\n`);
        last.delete(family);
      }
    },
    rendered: (family) => last.get(family),
    lastStats: () => stats,
    close: closeSession,
    ipsetSessionPid: () => (session?.alive() ? session.pid : undefined),
  };
}
