/**
 * Policy and profile chains (`<p>pi-`/`<p>po-` per policy and direction, per table; `<p>pri-`/
 * `<p>pro-` per profile), made only when an endpoint chain first references them. A rule that
 * decides sets the accept or pass mark and returns (the chain's last rule just ends it); with flow logs, filter-table policy and
 * profile chains NFLOG the deciding packet first. Staged policies never get a chain. Keyed by
 * their rules for the render cache (render-cache.ts). Pure.
 */
import type { CompiledRule } from '@gingham/core';
import { ChainBuilder, type RenderContext } from './context.js';
import { chainName } from './names.js';
import type { Table } from './options.js';
import { matchVariants } from './rules.js';

/** The owner of a chain's rules, for flow logs. */
interface LogOwner {
  readonly kind: 'policy' | 'profile';
  readonly name: string;
  readonly direction: 'ingress' | 'egress';
}

export interface PolicyChains {
  /** The chain of a policy's rules for one direction and table; undefined for a missing or staged policy. */
  policy(id: string, dir: 'ingress' | 'egress', table?: Table): string | undefined;
  /** The chain of a profile's rules for one direction; undefined for a missing profile. */
  profile(id: string, dir: 'ingress' | 'egress'): string | undefined;
}

function ruleChain(rc: RenderContext, c: ChainBuilder, rules: readonly CompiledRule[], log?: LogOwner): void {
  const o = rc.o;
  const out: string[][] = [];
  rules.forEach((r, index) => {
    for (const v of matchVariants(r, rc.rules)) {
      switch (r.action) {
        case 'Allow':
          out.push([...v, ...rc.setMark(o.acceptMark)]);
          if (log && o.flowLogs) out.push([...rc.ifMark(o.acceptMark), ...rc.flowLog({ ...log, action: 'allow', rule: index })]);
          out.push([...rc.ifMark(o.acceptMark), '-j', 'RETURN']);
          break;
        case 'Pass':
          out.push([...v, ...rc.setMark(o.passMark)]);
          out.push([...rc.ifMark(o.passMark), '-j', 'RETURN']);
          break;
        case 'Deny':
          if (log && o.flowLogs) out.push([...v, ...rc.flowLog({ ...log, action: 'deny', rule: index })]);
          out.push([...v, ...rc.deny()]);
          break;
        case 'Log':
          out.push([...v, '-j', 'NFLOG', '--nflog-group', String(o.nflogGroup), '--nflog-prefix', o.logPrefix]);
          break;
      }
    }
  });
  // The chain ends there anyway: "mark set → RETURN" as its last rule only repeats what falling
  // off its end does (return to the caller, marks kept). Each rule reachable from the hooks costs
  // every commit's validation (docs/benchmarks.md, "Commit cost by table shape"); at 10k
  // one-rule policies this is a quarter of the filter table.
  const last = out[out.length - 1];
  if (last && last[0] === '-m' && last[1] === 'mark' && last[last.length - 2] === '-j' && last[last.length - 1] === 'RETURN') out.pop();
  for (const args of out) c.add(...args);
}

/** The chain of a policy's rules for one direction (any table: tables are separate namespaces). */
export function policyChainName(chainPrefix: string, dir: 'ingress' | 'egress', id: string): string {
  return chainName(chainPrefix, dir === 'ingress' ? 'pi' : 'po', id);
}

/** A rule list as text, for cache keys; kept by list (compiled rules are immutable, an upsert brings new ones). */
const rulesTexts = new WeakMap<readonly CompiledRule[], string>();
function rulesText(rules: readonly CompiledRule[]): string {
  let t = rulesTexts.get(rules);
  if (t === undefined) rulesTexts.set(rules, (t = JSON.stringify(rules)));
  return t;
}

export function createPolicyChains(rc: RenderContext): PolicyChains {
  // Chains made this rendering, by kind|table|dir|id: name and cache key (mentioned again to whoever collects them).
  const made = new Map<string, { n: string; key: string }>();
  const chainOf = (kind: 'pol' | 'prof', table: Table, dir: 'ingress' | 'egress', id: string, rules: readonly CompiledRule[], log: LogOwner | undefined): string => {
    const key = `${kind}|${kind === 'pol' ? `${table}|` : ''}${dir}|${id}`;
    const known = made.get(key);
    if (known) {
      rc.mention(known.key);
      return known.n;
    }
    const chain = kind === 'pol' ? policyChainName(rc.prefix, dir, id) : rc.name(dir === 'ingress' ? 'pri' : 'pro', id);
    const cacheKey = `${key}|${rulesText(rules)}`;
    made.set(key, { n: chain, key: cacheKey });
    rc.pushCached(cacheKey, () => {
      const c = new ChainBuilder(table, chain);
      ruleChain(rc, c, rules, log);
      return c.build();
    });
    return chain;
  };
  return {
    policy(id, dir, table = 'filter') {
      const pol = rc.state.policies.get(id);
      if (!pol || pol.staged) return undefined;
      return chainOf('pol', table, dir, id, dir === 'ingress' ? pol.ingress : pol.egress, table === 'filter' ? { kind: 'policy', name: id, direction: dir } : undefined);
    },
    profile(id, dir) {
      const prof = rc.state.profiles.get(id);
      if (!prof) return undefined;
      return chainOf('prof', 'filter', dir, id, dir === 'ingress' ? prof.ingress : prof.egress, { kind: 'profile', name: id, direction: dir });
    },
  };
}
