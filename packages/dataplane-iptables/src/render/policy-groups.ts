/**
 * Policy-group chains (`<p>gi-<hash>` ingress, `<p>go-<hash>` egress), after Felix's policy
 * groups: the enforced policies of one tier of an endpoint, in order, live in a chain of their
 * own that every endpoint with the same run jumps to, so the endpoint chain holds one jump per tier
 * instead of two rules per policy and a label change that moves an endpoint between existing runs
 * rewrites a few rules of its own chain. Felix splits a tier into runs of consecutive policies
 * that share a selector; the Engine's tier references carry no selectors, so here the run is the
 * tier's whole list of enforced policies (staged and missing ones have no chain and are left
 * out). A run of one policy is inlined, as in Felix: the endpoint chain jumps to the policy chain.
 *
 * A group chain is content-addressed: its name hashes its direction and the policy chains it
 * jumps to, so its rules never change in place; a new run is a new chain, an unused one is
 * deleted (the planner declares new chains before the rules that jump to them, and deletes stale
 * ones after flushing every stale chain, in one restore transaction per table). Flow logs are
 * unchanged: the NFLOG rules stay in the policy chains (per rule) and in the endpoint chain
 * (end of tier, no profile). Pure.
 */
import { ChainBuilder, hex, type RenderContext } from './context.js';
import { hashText, MAX_CHAIN_NAME } from './names.js';
import type { Table } from './options.js';
import type { PolicyChains } from './policy-chains.js';

/** Felix's stride: a group chain returns on a verdict every this many policies. */
const RETURN_STRIDE = 5;

export interface TierTarget {
  /** The policy chains of the tier, in order (the endpoint chain's cache key names them). */
  readonly pols: readonly string[];
  /** What the endpoint chain jumps to for the tier: a group chain, the one policy chain, or nothing. */
  readonly target: string | undefined;
}

/** The chain name of the group of `pols` for direction `dir`. */
export function groupChainName(prefix: string, dir: 'ingress' | 'egress', pols: readonly string[]): string {
  const head = `${prefix}${dir === 'ingress' ? 'gi' : 'go'}-`;
  return head + hashText(`${dir}|${pols.join(' ')}`, MAX_CHAIN_NAME - head.length);
}

/**
 * The policy chains of one tier of an endpoint and what its endpoint chain jumps to, making (or
 * reusing) the policy chains and the group chain. Call inside the endpoint chain's
 * `rc.collect`, so that its key holds them.
 */
export function tierTarget(rc: RenderContext, policies: PolicyChains, table: Table, dir: 'ingress' | 'egress', ids: readonly string[]): TierTarget {
  const { value: pols, keys } = rc.collect(() => {
    const out: string[] = [];
    for (const id of ids) {
      const pc = policies.policy(id, dir, table);
      if (pc !== undefined) out.push(pc);
    }
    return out;
  }, true);
  if (pols.length < 2) {
    // Inlined: the endpoint chain names the policy chain itself.
    for (const k of keys) rc.mention(k);
    return { pols, target: pols[0] };
  }
  // The group chain names its policy chains; the endpoint chain names the group alone, so reusing
  // an endpoint chain adopts one group (once per rendering), not every policy chain again.
  const name = groupChainName(rc.prefix, dir, pols);
  rc.pushCached(`grp|${table}|${name}|${pols.join(' ')}`, () => buildGroupChain(rc, table, name, pols), keys);
  return { pols, target: name };
}

/**
 * Each policy in turn while no verdict is set (a policy chain sets the accept or pass mark and
 * returns, or drops); every `RETURN_STRIDE` policies, return at once when one is set. The
 * endpoint chain clears both marks before its first tier and checks the accept mark after the
 * jump, exactly as it did after each policy.
 */
function buildGroupChain(rc: RenderContext, table: Table, name: string, pols: readonly string[]): ReturnType<ChainBuilder['build']> {
  const c = new ChainBuilder(table, name);
  const verdictMask = hex(rc.marks);
  pols.forEach((pc, i) => {
    if (i === 0) {
      c.add('-j', pc);
      return;
    }
    if (i % RETURN_STRIDE === 0) c.add('-m', 'mark', '!', '--mark', `0x0/${verdictMask}`, '-j', 'RETURN');
    c.add('-m', 'mark', '--mark', `0x0/${verdictMask}`, '-j', pc);
  });
  return c.build();
}
