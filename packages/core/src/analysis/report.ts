/**
 * The analysis for people: changes grouped by (source, destination) namespace/workload prefix,
 * protocol and ports, and plain-text renderings of a diff and of a reachability answer (one fact
 * a line, no colours, no trailing spaces).
 */
import type { Decision } from '../evaluate/types.js';
import { describeDecision } from '../evaluate/explain.js';
import type { ChangeGroup, DiffResult, FlowChange, L4Spec, PeerSet, NumberRange, ReachabilityResult, VerdictSummary } from './types.js';

/**
 * The workload a pod name belongs to: a Deployment pod `web-7d9f8b6c4-x2k9p` → `web`, a
 * StatefulSet pod `db-0` → `db`, a DaemonSet or Job pod `agent-4kx9z` → `agent`; other names as
 * they are.
 */
export function workloadPrefix(name: string): string {
  const deployment = /^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$/.exec(name);
  if (deployment && /\d/.test(name.slice(deployment[1]!.length))) return deployment[1]!;
  const ordinal = /^(.+)-\d+$/.exec(name);
  if (ordinal) return ordinal[1]!;
  const suffix = /^(.+)-([a-z0-9]{5})$/.exec(name);
  if (suffix && /\d/.test(suffix[2]!)) return suffix[1]!;
  return name;
}

/** How a peer is grouped: `namespace/workload`, `host <name>`, or the address itself. */
export function peerGroup(peer: string): string {
  const slash = peer.indexOf('/');
  if (slash > 0) return `${peer.slice(0, slash)}/${workloadPrefix(peer.slice(slash + 1))}`;
  if (/^[0-9.]+$/.test(peer) || peer.includes(':')) return peer;
  return `host ${peer}`;
}

function rangeText(r: NumberRange): string {
  return r.from === r.to ? String(r.from) : `${r.from}-${r.to}`;
}

function isFull(rs: readonly NumberRange[] | undefined, max: number, min: number): boolean {
  return rs !== undefined && rs.length === 1 && rs[0]!.from === min && rs[0]!.to === max;
}

/** `5432`, `8000-9000, 9090`, `all ports`; ICMP `type 8`, `all types`; empty for other protocols. */
export function portsText(l4: L4Spec): string {
  if (l4.dstPorts) {
    const dst = isFull(l4.dstPorts, 65535, 1) ? 'all ports' : l4.dstPorts.map(rangeText).join(', ');
    const src = isFull(l4.srcPorts, 65535, 1) ? '' : ` from source ports ${(l4.srcPorts ?? []).map(rangeText).join(', ')}`;
    return `${dst}${src}`;
  }
  if (l4.icmpTypes) {
    const types = isFull(l4.icmpTypes, 255, 0) ? 'all types' : `type ${l4.icmpTypes.map(rangeText).join(', ')}`;
    const codes = isFull(l4.icmpCodes, 255, 0) ? '' : ` code ${(l4.icmpCodes ?? []).map(rangeText).join(', ')}`;
    return `${types}${codes}`;
  }
  return '';
}

export function protocolText(l4: L4Spec): string {
  return l4.protocol.name === 'other' ? 'other protocols' : l4.protocol.name;
}

function labelsOf(set: PeerSet): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of set.endpoints) {
    const g = peerGroup(e);
    out.set(g, (out.get(g) ?? 0) + 1);
  }
  if (set.outside.length > 0) out.set('outside', (out.get('outside') ?? 0) + 1);
  return out;
}

/** The step that made the difference: the direction whose decision changed (denying one first). */
function decisive(v: VerdictSummary, other: VerdictSummary): Decision {
  const changed = (d: 'egress' | 'ingress'): boolean => JSON.stringify(v[d]) !== JSON.stringify(other[d]);
  if (!v.allowed) return v.egress.action === 'Deny' ? v.egress : v.ingress;
  if (changed('ingress') && v.ingress.stage !== 'no-policy') return v.ingress;
  if (changed('egress')) return v.egress;
  return v.ingress.stage !== 'no-policy' ? v.ingress : v.egress;
}

/** Why a change happened, as a short phrase: the deciding step after it. */
export function changeReason(c: FlowChange): string {
  return describeDecision(decisive(c.after, c.before));
}

/** Groups changes by (change, source group, destination group, protocol, ports). */
export function groupChanges(changes: readonly FlowChange[]): ChangeGroup[] {
  const groups = new Map<string, { change: 'opened' | 'closed'; from: string; to: string; protocol: string; ports: string; ipVersions: Set<4 | 6>; pairs: number; decidedBy: Set<string>; changes: number[] }>();
  changes.forEach((c, i) => {
    const from = labelsOf(c.from);
    const to = labelsOf(c.to);
    const protocol = protocolText(c);
    const ports = portsText(c);
    const reason = changeReason(c);
    for (const [f, nf] of from) {
      for (const [t, nt] of to) {
        let pairs = nf * nt;
        if (f === t) pairs -= c.from.endpoints.filter((e) => peerGroup(e) === f && c.to.endpoints.includes(e)).length;
        if (pairs <= 0) continue;
        const key = [c.change, f, t, protocol, ports].join('\u0000');
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { change: c.change, from: f, to: t, protocol, ports, ipVersions: new Set(), pairs: 0, decidedBy: new Set(), changes: [] }));
        g.ipVersions.add(c.ipVersion);
        g.pairs += pairs;
        g.decidedBy.add(reason);
        if (g.changes[g.changes.length - 1] !== i) g.changes.push(i);
      }
    }
  });
  return [...groups.values()].map((g) => ({
    change: g.change,
    from: g.from,
    to: g.to,
    protocol: g.protocol,
    ports: g.ports,
    ipVersions: [...g.ipVersions].sort(),
    pairs: g.pairs,
    decidedBy: [...g.decidedBy].sort(),
    changes: g.changes,
  }));
}

function groupLine(g: ChangeGroup): string {
  const family = g.ipVersions.length === 1 ? ` (IPv${g.ipVersions[0]} only)` : '';
  const what = [g.protocol, g.ports].filter((s) => s !== '').join(' ');
  return `${g.from} -> ${g.to}  ${what}${family}  ${g.pairs} ${g.pairs === 1 ? 'pair' : 'pairs'}`;
}

/** A diff for people: what opens, what closes, grouped, with the rule that decides it now. */
export function formatDiff(result: DiffResult, options: { readonly maxGroups?: number } = {}): string {
  const max = options.maxGroups ?? 200;
  const out: string[] = [];
  const { added, removed, readdressed } = result.endpoints;
  if (result.empty) {
    out.push('no change: every flow between the compared peers has the same verdict before and after');
    return out.join('\n');
  }
  const opened = result.groups.filter((g) => g.change === 'opened');
  const closed = result.groups.filter((g) => g.change === 'closed');
  out.push(`${opened.length} group${opened.length === 1 ? '' : 's'} of flows opened, ${closed.length} closed`);
  for (const [title, list] of [
    ['OPENED (denied before, allowed after):', opened],
    ['CLOSED (allowed before, denied after):', closed],
  ] as const) {
    if (list.length === 0) continue;
    out.push('', title);
    for (const g of list.slice(0, max)) {
      out.push(`  ${groupLine(g)}`);
      out.push(`    ${g.change === 'opened' ? 'now allowed by' : 'now denied by'} ${g.decidedBy.join('; ')}`);
    }
    if (list.length > max) out.push(`  … and ${list.length - max} more groups (--json lists every change)`);
  }
  const notCompared: string[] = [];
  if (added.length > 0) notCompared.push(`only after (added): ${added.join(', ')}`);
  if (removed.length > 0) notCompared.push(`only before (removed): ${removed.join(', ')}`);
  if (readdressed.length > 0) notCompared.push(`addresses changed: ${readdressed.join(', ')}`);
  if (notCompared.length > 0) out.push('', 'Endpoints not compared:', ...notCompared.map((l) => `  ${l}`));
  return out.join('\n');
}

/** A reachability answer for people: reachable or not, and the allowed flows grouped. */
export function formatReachability(result: ReachabilityResult, options: { readonly maxPaths?: number } = {}): string {
  const max = options.maxPaths ?? 50;
  if (!result.reachable) return `no path: no flow from the ${result.matched.from} source peer(s) to the ${result.matched.to} destination peer(s) is allowed`;
  const out = [`reachable: ${result.paths.length} set${result.paths.length === 1 ? '' : 's'} of allowed flows`];
  for (const p of result.paths.slice(0, max)) {
    const what = [protocolText(p), portsText(p)].filter((s) => s !== '').join(' ');
    const from = [...p.from.endpoints, ...p.from.outside].slice(0, 3).join(', ');
    const to = [...p.to.endpoints, ...p.to.outside].slice(0, 3).join(', ');
    out.push(`  ${from}${p.from.endpoints.length + p.from.outside.length > 3 ? ', …' : ''} -> ${to}${p.to.endpoints.length + p.to.outside.length > 3 ? ', …' : ''}  ${what}  (IPv${p.ipVersion}, ${p.pairs} ${p.pairs === 1 ? 'pair' : 'pairs'})`);
    out.push(`    allowed by ${describeDecision(p.verdict.ingress.stage === 'no-policy' ? p.verdict.egress : p.verdict.ingress)}`);
  }
  if (result.paths.length > max) out.push(`  … and ${result.paths.length - max} more`);
  return out.join('\n');
}
