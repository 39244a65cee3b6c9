/**
 * Policy and profile chains (`<p>pi-`/`<p>po-` per policy and direction, per table; `<p>pri-`/
 * `<p>pro-` per profile), made only when an endpoint chain first references them. A rule that
 * decides sets the accept or pass mark and returns; with flow logs, filter-table policy and
 * profile chains NFLOG the deciding packet first. Staged policies never get a chain. Keyed by
 * their rules for the render cache (render-cache.ts). Pure.
 */
import type { CompiledRule } from '@gingham/core';
import { ChainBuilder, type RenderContext } from './context.js';
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
  rules.forEach((r, index) => {
    for (const v of matchVariants(r, rc.rules)) {
      switch (r.action) {
        case 'Allow':
          c.add(...v, ...rc.setMark(o.acceptMark));
          if (log && o.flowLogs) c.add(...rc.ifMark(o.acceptMark), ...rc.flowLog({ ...log, action: 'allow', rule: index }));
          c.add(...rc.ifMark(o.acceptMark), '-j', 'RETURN');
          break;
        case 'Pass':
          c.add(...v, ...rc.setMark(o.passMark));
          c.add(...rc.ifMark(o.passMark), '-j', 'RETURN');
          break;
        case 'Deny':
          if (log && o.flowLogs) c.add(...v, ...rc.flowLog({ ...log, action: 'deny', rule: index }));
          c.add(...v, ...rc.deny());
          break;
        case 'Log':
          c.add(...v, '-j', 'NFLOG', '--nflog-group', String(o.nflogGroup), '--nflog-prefix', o.logPrefix);
          break;
      }
    }
  });
}

/** A rule list as text, for cache keys; kept by list (compiled rules are immutable, an upsert brings new ones). */
const rulesTexts = new WeakMap<readonly CompiledRule[], string>();
function rulesText(rules: readonly CompiledRule[]): string {
  let t = rulesTexts.get(rules);
  if (t === undefined) rulesTexts.set(rules, (t = JSON.stringify(rules)));
  return t;
}

export function createPolicyChains(rc: RenderContext): PolicyChains {
  const policyChains = new Map<string, string>();
  const profileChains = new Map<string, string>();
  return {
    policy(id, dir, table = 'filter') {
      const pol = rc.state.policies.get(id);
      if (!pol || pol.staged) return undefined;
      const key = `${table}|${dir}|${id}`;
      let n = policyChains.get(key);
      if (n === undefined) {
        const chain = rc.name(dir === 'ingress' ? 'pi' : 'po', id);
        n = chain;
        policyChains.set(key, n);
        const rules = dir === 'ingress' ? pol.ingress : pol.egress;
        rc.pushCached(`pol|${key}|${rulesText(rules)}`, () => {
          const c = new ChainBuilder(table, chain);
          ruleChain(rc, c, rules, table === 'filter' ? { kind: 'policy', name: id, direction: dir } : undefined);
          return c.build();
        });
      }
      return n;
    },
    profile(id, dir) {
      const prof = rc.state.profiles.get(id);
      if (!prof) return undefined;
      const key = `${dir}|${id}`;
      let n = profileChains.get(key);
      if (n === undefined) {
        const chain = rc.name(dir === 'ingress' ? 'pri' : 'pro', id);
        n = chain;
        profileChains.set(key, n);
        const rules = dir === 'ingress' ? prof.ingress : prof.egress;
        rc.pushCached(`prof|${key}|${rulesText(rules)}`, () => {
          const c = new ChainBuilder('filter', chain);
          ruleChain(rc, c, rules, { kind: 'profile', name: id, direction: dir });
          return c.build();
        });
      }
      return n;
    },
  };
}
