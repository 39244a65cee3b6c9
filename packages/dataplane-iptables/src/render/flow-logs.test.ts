import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propRuns } from '@gingham/testkit';
import { applyMessage, emptyDataplaneState, type CompiledPolicy, type DataplaneMessage, type WorkloadEndpointState } from '@gingham/core';
import { nflogPrefix, parseNflogPrefix, type NflogDecision } from './nflog-prefix.js';
import { resolveRenderOptions } from './options.js';
import { renderState } from './render.js';
import type { Rendered } from './rendered.js';

const wep = (ingressTiers: WorkloadEndpointState['ingressTiers']): WorkloadEndpointState => ({
  id: 'a/web', name: 'web', node: 'n1', interfaceName: 'cali0123456789a', addresses: ['10.65.0.11/32'], ingressTiers, egressTiers: [], profileIds: ['kns.a'], stagedPolicyIds: [],
});

function render(policies: CompiledPolicy[], options: Parameters<typeof renderState>[2]): Rendered {
  const s = emptyDataplaneState();
  const msgs: DataplaneMessage[] = [
    { kind: 'profile-upsert', profile: { id: 'kns.a', ingress: [{ action: 'Allow', source: {}, destination: {} }], egress: [{ action: 'Allow', source: {}, destination: {} }] } },
    ...policies.map((p): DataplaneMessage => ({ kind: 'policy-upsert', policy: p })),
    { kind: 'workload-endpoint-upsert', endpoint: wep([{ name: 'default', defaultAction: 'Deny', policyIds: policies.map((p) => p.id) }]) },
  ];
  for (const m of msgs) applyMessage(s, m);
  return renderState(s, 4, options);
}

const lines = (r: Rendered, chain: string): string[] => r.chains.find((x) => x.name === chain)!.rules.map((x) => x.args.join(' '));

describe('flow-log NFLOG rules', () => {
  const p: CompiledPolicy = {
    id: 'np/a/web-in', tier: 'default', staged: false, egress: [],
    ingress: [{ action: 'Deny', protocol: 6, source: {}, destination: { ports: [{ min: 22, max: 22 }] } }, { action: 'Allow', source: {}, destination: {} }],
  };

  it('are absent without the option', () => {
    const r = render([p], {});
    expect(r.chains.flatMap((c) => c.rules.map((x) => x.args.join(' '))).filter((l) => l.includes('NFLOG'))).toEqual([]);
  });

  it('log the deciding packet of each Allow and Deny rule, tier end and missing profile with Calico-style prefixes, per direction group', () => {
    const r = render([p], { flowLogs: true });
    expect(lines(r, 'gh-pi-np/a/web-in')).toEqual([
      '-p 6 -m multiport --dports 22 -j NFLOG --nflog-group 1 --nflog-prefix DPI0|np/a/web-in --nflog-size 80',
      '-p 6 -m multiport --dports 22 -j DROP',
      '-j MARK --set-xmark 0x10000/0x10000',
      '-m mark --mark 0x10000/0x10000 -j NFLOG --nflog-group 1 --nflog-prefix API1|np/a/web-in --nflog-size 80',
    ]);
    const all = r.chains.flatMap((c) => c.rules.map((x) => x.args.join(' ')));
    expect(all).toContain('-m mark --mark 0x0/0x20000 -j NFLOG --nflog-group 1 --nflog-prefix DTI|default --nflog-size 80');
    expect(all).toContain('-j NFLOG --nflog-group 2 --nflog-prefix DNE| --nflog-size 80');
    expect(all.some((l) => l.includes('--nflog-prefix ARE0|kns.a'))).toBe(true);
  });

  it('hash names too long for a prefix and say how to resolve them', () => {
    const long: CompiledPolicy = { ...p, id: `np/a/${'x'.repeat(60)}` };
    const r = render([long], { flowLogs: { ingressGroup: 7, egressGroup: 8 } });
    const rule = lines(r, r.chains.find((c) => c.name.startsWith('gh-pi'))!.name)[0]!;
    const prefix = /--nflog-prefix (\S+)/.exec(rule)![1]!;
    expect(prefix.length).toBeLessThanOrEqual(63);
    expect(rule).toContain('--nflog-group 7');
    expect(parseNflogPrefix(prefix, r.nflogNames)).toEqual({ action: 'deny', direction: 'ingress', kind: 'policy', name: long.id, rule: 0 });
  });

  it('refuse invalid groups', () => {
    expect(() => resolveRenderOptions({ flowLogs: { ingressGroup: 70000 } })).toThrow(/flow log ingress group/);
  });

  it('prefixes parse back to their decision', () => {
    const decision = fc.record({
      action: fc.constantFrom('allow' as const, 'deny' as const),
      direction: fc.constantFrom('ingress' as const, 'egress' as const),
      kind: fc.constantFrom('policy' as const, 'profile' as const, 'end-of-tier' as const, 'no-profile' as const),
      name: fc.stringMatching(/^[a-z0-9./-]{1,80}$/),
      rule: fc.nat({ max: 500 }),
    });
    fc.assert(
      fc.property(decision, (d0) => {
        const d: NflogDecision = { ...d0, name: d0.kind === 'no-profile' ? '' : d0.name, rule: d0.kind === 'policy' || d0.kind === 'profile' ? d0.rule : -1 };
        const { prefix, hashed } = nflogPrefix(d);
        expect(prefix.length).toBeLessThanOrEqual(63);
        expect(parseNflogPrefix(prefix, hashed ? new Map([[hashed, d.name]]) : undefined)).toEqual(d);
      }),
      { numRuns: propRuns(200) },
    );
  });
});
