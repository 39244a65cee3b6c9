/**
 * Printing a rendering as the input of `iptables-restore --noflush` and `ipset restore`. Pure.
 */
import type { Rendered, RenderedRule } from './rendered.js';

/** One `-A` line of a rendered rule; with `comment`, its id first in a comment (as Felix writes it). */
export function formatRule(chain: string, rule: RenderedRule, commentTag: string, comment = true): string {
  return comment ? ['-A', chain, '-m', 'comment', '--comment', `"${commentTag}${rule.id}"`, ...rule.args].join(' ') : ['-A', chain, ...rule.args].join(' ');
}

/**
 * The `-A` lines of a chain's rules, the id comment on the last rule only. Rule ids are chained
 * (each hashes the one before it), so the last one pins the whole chain: its rules, their order
 * and the chain's name; the read-back compares a chain by its rule count and last id
 * (plan.ts, `sameRules`). A comment on every rule, as Felix writes them, made the kernel's commit
 * (which walks every rule reachable from the hooks, comments included) about a quarter slower at
 * 10k policies (docs/benchmarks.md, "Commit cost by table shape").
 */
export function formatChainRules(chain: string, rules: readonly RenderedRule[], commentTag: string): string[] {
  return rules.map((rule, i) => formatRule(chain, rule, commentTag, i === rules.length - 1));
}

/**
 * Full `iptables-restore --noflush` input for a rendering: declares (and so flushes) every
 * chain of ours, appends every rule. Hook rules are not included (see the applier).
 */
export function formatIptablesRestore(r: Rendered): string {
  const out: string[] = [];
  for (const table of ['raw', 'mangle', 'filter'] as const) {
    const cs = r.chains.filter((c) => c.table === table);
    if (cs.length === 0) continue;
    out.push(`*${table}`);
    for (const c of cs) out.push(`:${c.name} - [0:0]`);
    for (const c of cs) out.push(...formatChainRules(c.name, c.rules, r.commentTag));
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

/**
 * `ipset restore` input creating every set of a rendering (for a first apply; see the applier for
 * deltas). `list:set`s (group dispatch) come last, as their members must exist; they take no
 * family, and their size only bounds the members (a list, not preallocated).
 */
export function formatIpsetRestore(r: Rendered): string {
  const out: string[] = [];
  for (const lists of [false, true]) {
    for (const s of r.sets) {
      if ((s.type === 'list:set') !== lists) continue;
      out.push(s.type === 'list:set' ? `create ${s.name} list:set size ${LIST_SET_SIZE}` : `create ${s.name} ${s.type} family ${s.family === 4 ? 'inet' : 'inet6'} maxelem 1048576`);
      for (const m of s.members) out.push(`add ${s.name} ${m}`);
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** A group's `list:set` holds at most this many interfaces (ipset's default, 8, is too few for a node's pods). */
export const LIST_SET_SIZE = 65536;
