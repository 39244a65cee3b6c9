/**
 * Printing a rendering as the input of `iptables-restore --noflush` and `ipset restore`. Pure.
 */
import type { Rendered, RenderedRule } from './rendered.js';

/** One `-A` line of a rendered rule (comment first, as Felix writes it). */
export function formatRule(chain: string, rule: RenderedRule, commentTag: string): string {
  return ['-A', chain, '-m', 'comment', '--comment', `"${commentTag}${rule.id}"`, ...rule.args].join(' ');
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
    for (const c of cs) for (const rule of c.rules) out.push(formatRule(c.name, rule, r.commentTag));
    out.push('COMMIT');
  }
  return `${out.join('\n')}\n`;
}

/** `ipset restore` input creating every set of a rendering (for a first apply; see the applier for deltas). */
export function formatIpsetRestore(r: Rendered): string {
  const out: string[] = [];
  for (const s of r.sets) {
    out.push(`create ${s.name} ${s.type} family ${s.family === 4 ? 'inet' : 'inet6'} maxelem 1048576`);
    for (const m of s.members) out.push(`add ${s.name} ${m}`);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
