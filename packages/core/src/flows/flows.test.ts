import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../convert/index.js';
import { evaluate } from '../evaluate/index.js';
import { loadManifests } from '../load/index.js';
import { formatPolicyHit, parsePolicyHit } from './policy-hit.js';
import { parseFlowRecordLine } from './flow-record.js';
import { policyTraceHits } from './trace-hits.js';

const HITS = [
  '1|default|np:policy-demo/access-nginx|allow|2',
  '0|security|gnp:guardrails|pass|0',
  '2|default|knp:shop/db-in|deny|-1',
  '0|__PROFILE__|pro:kns.shop|allow|0',
  '3|default|eot:__NO_MATCH__|deny|-1',
  '0|namespace-isolation|snp:shop/learned|allow|1',
  '4|kube-admin|kanp:allow-monitoring|allow|0',
];

describe('policy hit strings', () => {
  it('print in the kind-explicit form they were parsed from', () => {
    for (const s of HITS) {
      const p = parsePolicyHit(s);
      expect(p.ok, s).toBe(true);
      if (p.ok) expect(formatPolicyHit(p.hit)).toBe(s);
    }
  });

  it('a rule index of -1 is an end-of-tier hit whose trigger is the named policy', () => {
    expect(parsePolicyHit('2|default|knp:shop/db-in|deny|-1')).toEqual({
      ok: true,
      hit: { kind: 'EndOfTier', name: '', namespace: '', tier: 'default', action: 'deny', policy_index: 2, rule_index: -1, trigger: { kind: 'NetworkPolicy', name: 'db-in', namespace: 'shop', tier: 'default' } },
    });
  });

  it('reads the legacy (≤ 3.31) names and prints them kind-explicit', () => {
    const cases: [string, string][] = [
      ['0|default|policy-demo/knp.default.access-nginx|allow|0', '0|default|knp:policy-demo/access-nginx|allow|0'],
      ['0|default|default.allow-dns|allow|1', '0|default|gnp:allow-dns|allow|1'],
      ['0|security|shop/security.guard|deny|0', '0|security|np:shop/guard|deny|0'],
      ['1|default|shop/staged:knp.default.x|deny|0', '1|default|sknp:shop/x|deny|0'],
      ['1|team|team.staged:wide|deny|0', '1|team|sgnp:wide|deny|0'],
      ['0|__PROFILE__|__PROFILE__.kns.shop|allow|0', '0|__PROFILE__|pro:kns.shop|allow|0'],
    ];
    for (const [legacy, now] of cases) {
      const p = parsePolicyHit(legacy);
      expect(p.ok, legacy).toBe(true);
      if (p.ok) expect(formatPolicyHit(p.hit)).toBe(now);
    }
  });

  it('rejects malformed strings with a reason', () => {
    expect(parsePolicyHit('0|default|np:x|allow|0')).toEqual({ ok: false, error: '"np:x": a CalicoNetworkPolicy needs <namespace>/<name>' });
    expect(parsePolicyHit('a|default|gnp:x|allow|0')).toMatchObject({ ok: false, error: expect.stringMatching(/policy index/) });
    expect(parsePolicyHit('0|default|gnp:x|maybe|0')).toMatchObject({ ok: false, error: expect.stringMatching(/action/) });
    expect(parsePolicyHit('0|default|gnp:x|allow')).toMatchObject({ ok: false, error: expect.stringMatching(/5 fields/) });
  });
});

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: shop, labels: {app: db}}
spec: {nodeName: n1, containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100, defaultAction: Pass}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.guard}
spec: {tier: security, selector: all(), ingress: [{action: Deny, protocol: TCP, destination: {ports: [23]}}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec: {podSelector: {matchLabels: {app: db}}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]}
---
apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: web-lockdown, namespace: shop}
spec: {stagedAction: Set, selector: app == 'web', types: [Egress], egress: [{action: Allow, protocol: UDP, destination: {ports: [53]}}]}
`;

describe('hits from evaluate() traces', () => {
  const loaded = loadManifests([{ file: 'm.yaml', text: MANIFESTS }]);
  const { snapshot } = buildSnapshot(loaded.resources.map((r) => r.resource));

  it('a flow allowed by a rule: the tier that passed, then the deciding policy and rule', () => {
    const r = evaluate(snapshot, { src: 'shop/web-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 });
    expect(policyTraceHits(r, 'dst').enforced.map(formatPolicyHit)).toEqual(['0|security|gnp:security.guard|pass|-1', '1|default|knp:shop/db-in|allow|0']);
  });

  it('a flow denied at the end of a tier names the first selecting policy', () => {
    const r = evaluate(snapshot, { src: 'shop/web-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 80 });
    expect(policyTraceHits(r, 'dst').enforced.map(formatPolicyHit)).toEqual(['0|security|gnp:security.guard|pass|-1', '1|default|knp:shop/db-in|deny|-1']);
  });

  it('pending hits carry the staged policy; enforced ones end in the namespace profile', () => {
    const r = evaluate(snapshot, { src: 'shop/web-0', dst: 'shop/db-0', protocol: 'TCP', dstPort: 5432 });
    const hits = policyTraceHits(r, 'src');
    expect(hits.enforced.map(formatPolicyHit)).toEqual(['0|__PROFILE__|pro:kns.shop|allow|0']);
    expect(hits.pending.map(formatPolicyHit)).toEqual(['0|default|snp:shop/web-lockdown|deny|-1']);
  });
});

describe('flow records from JSON lines', () => {
  const good = {
    source_name: 'web-*', source_namespace: 'shop', source_type: 'wep', dest_name: 'db-*', dest_namespace: 'shop', dest_type: 'wep',
    dest_port: 5432, proto: 'tcp', reporter: 'dst', action: 'allow',
    policies: { enforced: ['0|default|knp:shop/db-in|allow|0'], pending: [] },
    start_time: 100, end_time: 115, source_labels: ['app=web'], dest_labels: ['app=db'], packets_in: 3, bytes_in: 180,
  };

  it('reads a record with hit strings or hit objects, defaulting counters', () => {
    const r = parseFlowRecordLine(JSON.stringify(good), 'f.jsonl', 1);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.record.policies.enforced[0]).toMatchObject({ kind: 'NetworkPolicy', name: 'db-in', rule_index: 0 });
      expect(r.record.packets_out).toBe(0);
    }
  });

  it('reads the per-address fields of unaggregated records, and null as aggregated away', () => {
    const r = parseFlowRecordLine(JSON.stringify({ ...good, source_ip: '10.0.0.1', dest_ip: '10.0.0.2', source_port: 40000 }), 'f.jsonl', 1);
    expect(r).toMatchObject({ ok: true, record: { source_ip: '10.0.0.1', dest_ip: '10.0.0.2', source_port: 40000 } });
    const agg = parseFlowRecordLine(JSON.stringify({ ...good, source_ip: null, source_port: null }), 'f.jsonl', 2);
    expect(agg.ok && 'source_ip' in agg.record).toBe(false);
    expect(parseFlowRecordLine(JSON.stringify({ ...good, source_port: -1 }), 'f.jsonl', 3)).toMatchObject({ ok: false, issue: { path: 'source_port' } });
  });

  it('names the file, line and field of a bad record', () => {
    const r = parseFlowRecordLine(JSON.stringify({ ...good, reporter: 'fwd' }), 'f.jsonl', 7);
    expect(r).toMatchObject({ ok: false, issue: { file: 'f.jsonl', line: 7, path: 'reporter', message: 'reporter must be src or dst' } });
    expect(parseFlowRecordLine('{', 'f.jsonl', 2)).toMatchObject({ ok: false, issue: { line: 2, message: expect.stringMatching(/^not valid JSON/) } });
  });
});
