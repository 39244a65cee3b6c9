/**
 * Per-rule Prometheus metrics from the records of each window, in the shape of Calico
 * Enterprise's policy metrics (names in docs/flow-logs.md beside the Enterprise names): packets,
 * bytes and connections per (tier, policy, namespace, rule index, action, rule direction,
 * traffic direction) summed into every enforced hit of a flow's trace (as Goldmane's
 * statistics), denied packets and bytes per deciding policy, and the collector's own health.
 * A series that has not grown for `expiryMs` (default 60 s, as Enterprise) is dropped.
 */
import type { FlowRecord, PolicyHit } from '@gingham/core';
import { formatPolicyHit } from '@gingham/core';

interface Series {
  readonly labels: string;
  value: number;
  touched: number;
}

type Family = Map<string, Series>;

export interface CollectorHealth {
  readonly events: number;
  readonly lostEvents: number;
  readonly overflowEvents: number;
  readonly aggregatedFlows: number;
  readonly liveConnections: number;
  readonly mismatches: number;
  readonly evaluations: number;
  readonly unattributedConnections: number;
  readonly windows: number;
}

function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([k, v]) => `${k}="${escape(v)}"`).join(',');
}

/** The name a metric's `policy` label carries for a hit: the policy, the trigger of an end of tier, or `__NO_MATCH__`. */
function policyOf(h: PolicyHit): { tier: string; policy: string; namespace: string } {
  if (h.kind === 'EndOfTier') {
    const t = h.trigger;
    return { tier: t?.kind === 'Profile' ? '__PROFILE__' : h.tier, policy: t?.name ?? '__NO_MATCH__', namespace: t?.namespace ?? '' };
  }
  return { tier: h.kind === 'Profile' ? '__PROFILE__' : h.tier, policy: h.name, namespace: h.namespace };
}

const RULE_METRICS = [
  ['gingham_policy_rule_packets_total', 'Packets of flows whose enforced trace went through the rule (Calico Enterprise: cnx_policy_rule_packets).'],
  ['gingham_policy_rule_bytes_total', 'Bytes of flows whose enforced trace went through the rule (cnx_policy_rule_bytes).'],
  ['gingham_policy_rule_connections_total', 'Connections started whose enforced trace went through the rule (cnx_policy_rule_connections).'],
] as const;
const DENIED = [
  ['gingham_denied_packets_total', 'Denied packets per deciding policy hit (calico_denied_packets, without its srcIP label).'],
  ['gingham_denied_bytes_total', 'Denied bytes per deciding policy hit (calico_denied_bytes).'],
] as const;

export class RuleMetrics {
  readonly #expiryMs: number;
  readonly #families = new Map<string, Family>();

  constructor(expiryMs = 60_000) {
    this.#expiryMs = expiryMs;
  }

  #add(metric: string, labels: string, value: number, now: number): void {
    if (value <= 0) return;
    let f = this.#families.get(metric);
    if (!f) this.#families.set(metric, (f = new Map()));
    const s = f.get(labels);
    if (s) {
      s.value += value;
      s.touched = now;
    } else f.set(labels, { labels, value, touched: now });
  }

  /** Label texts of a hit and rule direction: [inbound, outbound, connections as src, as dst]. */
  readonly #labelCache = new Map<string, readonly [string, string, string, string]>();

  #labelsOf(p: { tier: string; policy: string; namespace: string }, h: PolicyHit, ruleDirection: string): readonly [string, string, string, string] {
    const key = `${p.tier}\0${p.policy}\0${p.namespace}\0${h.rule_index}\0${h.action}\0${ruleDirection}`;
    let texts = this.#labelCache.get(key);
    if (!texts) {
      const base: (readonly [string, string])[] = [
        ['tier', p.tier],
        ['policy', p.policy],
        ['namespace', p.namespace],
        ['rule_index', String(h.rule_index)],
        ['action', h.action],
        ['rule_direction', ruleDirection],
      ];
      const inbound = labelText([...base, ['traffic_direction', 'inbound']]);
      const outbound = labelText([...base, ['traffic_direction', 'outbound']]);
      texts = [inbound, outbound, outbound, inbound];
      // Bounded: label texts are rebuilt after policy churn rather than kept forever.
      if (this.#labelCache.size >= 10_000) this.#labelCache.clear();
      this.#labelCache.set(key, texts);
    }
    return texts;
  }

  /** Adds one window's records (`now` in ms). */
  record(records: readonly FlowRecord[], now: number): void {
    for (const r of records) {
      const ruleDirection = r.reporter === 'src' ? 'egress' : 'ingress';
      for (const h of r.policies.enforced) {
        const [inbound, outbound, connSrc, connDst] = this.#labelsOf(policyOf(h), h, ruleDirection);
        this.#add(RULE_METRICS[0][0], inbound, r.packets_in, now);
        this.#add(RULE_METRICS[1][0], inbound, r.bytes_in, now);
        this.#add(RULE_METRICS[0][0], outbound, r.packets_out, now);
        this.#add(RULE_METRICS[1][0], outbound, r.bytes_out, now);
        this.#add(RULE_METRICS[2][0], r.reporter === 'src' ? connSrc : connDst, r.num_connections_started, now);
      }
      const last = r.policies.enforced.at(-1);
      if (r.action === 'deny' && last) {
        const hit = formatPolicyHit(last).replace(/^\d+\|/, '');
        const labels = labelText([['policy', hit]]);
        this.#add(DENIED[0][0], labels, r.packets_in + r.packets_out, now);
        this.#add(DENIED[1][0], labels, r.bytes_in + r.bytes_out, now);
      }
    }
  }

  /** Drops series untouched for the expiry period. */
  expire(now: number): void {
    for (const f of this.#families.values()) for (const [k, s] of f) if (now - s.touched >= this.#expiryMs) f.delete(k);
  }

  /** Number of live series. */
  get series(): number {
    let n = 0;
    for (const f of this.#families.values()) n += f.size;
    return n;
  }

  /** Prometheus text exposition (0.0.4) of the rule metrics and `health`. */
  render(now: number, health?: CollectorHealth, source = ''): string {
    this.expire(now);
    const out: string[] = [];
    for (const [name, help] of [...RULE_METRICS, ...DENIED]) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      const f = this.#families.get(name);
      if (f) for (const s of [...f.values()].sort((a, b) => (a.labels < b.labels ? -1 : 1))) out.push(`${name}{${s.labels}} ${s.value}`);
    }
    if (health) {
      const src = source ? `{source="${escape(source)}"}` : '';
      const line = (name: string, type: 'counter' | 'gauge', help: string, v: number): void => {
        out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${src} ${v}`);
      };
      line('gingham_flowlogs_events_total', 'counter', 'Dataplane verdict events received.', health.events);
      line('gingham_flowlogs_lost_events_total', 'counter', 'Events the dataplane dropped under pressure (ring buffer full, netlink overrun) (felix_bpf_events{type="lost"}).', health.lostEvents);
      line('gingham_flowlogs_overflow_events_total', 'counter', 'Events not aggregated because the window held the most flows it may.', health.overflowEvents);
      line('gingham_flowlogs_aggregated_flows', 'gauge', 'Aggregated flows in the current window (goldmane_aggr_num_unique_flows).', health.aggregatedFlows);
      line('gingham_flowlogs_live_connections', 'gauge', 'Connections tracked for counters.', health.liveConnections);
      line('gingham_flowlogs_trace_mismatches_total', 'counter', "Flows whose kernel decision was not evaluate()'s last enforced hit.", health.mismatches);
      line('gingham_flowlogs_policy_evaluations_total', 'counter', 'evaluate() runs for traces and pending verdicts (felix_collector_policy_eval_flows_total).', health.evaluations);
      line('gingham_flowlogs_unattributed_connections_total', 'counter', 'Connection counter updates with no verdict event seen (started before the collector, or their event was lost).', health.unattributedConnections);
      line('gingham_flowlogs_windows_total', 'counter', 'Aggregation windows flushed.', health.windows);
    }
    return `${out.join('\n')}\n`;
  }
}
