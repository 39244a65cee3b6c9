import { describe, expect, it } from 'vitest';
import { applyMessage, emptyDataplaneState, type CompiledPolicy, type DataplaneMessage, type DataplaneState, type HostEndpointState, type WorkloadEndpointState } from '@gingham/core';
import { chainName, MAX_CHAIN_NAME, MAX_SET_NAME, setName } from './names.js';
import { formatIpsetRestore, formatIptablesRestore } from './format.js';
import { renderState } from './render.js';
import type { Rendered } from './rendered.js';
import { portChunks } from './rules.js';

/** The generation check of the default mask at generation 1 (generation.ts). */
const CHECK = '-m conntrack ! --ctstate RELATED,ESTABLISHED -m mark ! --mark 0x40000/0x1c0000 -j DROP';

const wep = (over: Partial<WorkloadEndpointState> = {}): WorkloadEndpointState => ({
  id: 'a/web',
  name: 'web',
  node: 'n1',
  interfaceName: 'cali0123456789a',
  addresses: ['10.65.0.11/32'],
  ingressTiers: [],
  egressTiers: [],
  profileIds: ['kns.a'],
  stagedPolicyIds: [],
  ...over,
});

const allowAll = { id: 'kns.a', ingress: [{ action: 'Allow' as const, source: {}, destination: {} }], egress: [{ action: 'Allow' as const, source: {}, destination: {} }] };

function stateOf(messages: DataplaneMessage[]): DataplaneState {
  const s = emptyDataplaneState();
  for (const m of messages) applyMessage(s, m);
  return s;
}

function lines(r: Rendered, chain: string): string[] {
  const c = r.chains.find((x) => x.name === chain);
  if (!c) throw new Error(`no chain ${chain}: ${r.chains.map((x) => x.name).join(', ')}`);
  return c.rules.map((x) => x.args.join(' '));
}

function policy(id: string, ingress: CompiledPolicy['ingress'], over: Partial<CompiledPolicy> = {}): CompiledPolicy {
  return { id, tier: 'default', ingress, egress: [], staged: false, ...over };
}

function withPolicies(policies: CompiledPolicy[], tiers: WorkloadEndpointState['ingressTiers'], extra: DataplaneMessage[] = []): DataplaneState {
  return stateOf([
    ...extra,
    { kind: 'profile-upsert', profile: allowAll },
    ...policies.map((p): DataplaneMessage => ({ kind: 'policy-upsert', policy: p })),
    { kind: 'workload-endpoint-upsert', endpoint: wep({ ingressTiers: tiers }) },
  ]);
}

describe('names', () => {
  it('keeps short plain ids readable and hashes long ones within 28 characters', () => {
    expect(chainName('gh-', 'pi', 'knp/a/np')).toBe('gh-pi-knp/a/np');
    const long = chainName('gh-', 'pi', 'gnp/a-very-long-policy-name-that-does-not-fit');
    expect(long.length).toBeLessThanOrEqual(MAX_CHAIN_NAME);
    expect(long.startsWith('gh-pi_')).toBe(true);
    expect(chainName('gh-', 'pi', 'gnp/a-very-long-policy-name-that-does-not-fit-2')).not.toBe(long);
  });
  it('keeps IP set names within 31 characters', () => {
    const n = setName('gh', 4, false, 's:gu0_onJ0HB0xn6cstnquEurLYs6TQtKLMWC0sQ');
    expect(n.length).toBeLessThanOrEqual(MAX_SET_NAME);
    expect(n.startsWith('gh40')).toBe(true);
    expect(setName('gh', 6, true, 'short').startsWith('gh6t')).toBe(true);
  });
  it('splits multiport lists at 15 slots, a range taking two', () => {
    const ports = Array.from({ length: 20 }, (_, i) => ({ min: 1000 + i, max: 1000 + i }));
    expect(portChunks(ports).map((c) => c.split(',').length)).toEqual([15, 5]);
    expect(portChunks(Array.from({ length: 8 }, (_, i) => ({ min: i * 10 + 1, max: i * 10 + 5 }))).length).toBe(2);
  });
});

describe('renderState', () => {
  it('hooks each built-in chain exactly once and comments the last rule of every chain with its unique id', () => {
    const r = renderState(withPolicies([], []), 4);
    expect(r.hooks.map((h) => `${h.chain} ${h.args.join(' ')}`)).toEqual([
      'FORWARD -m comment --comment gh:hook -j gh-FORWARD',
      'INPUT -m comment --comment gh:hook -j gh-INPUT',
      'OUTPUT -m comment --comment gh:hook -j gh-OUTPUT',
    ]);
    const text = formatIptablesRestore(r);
    const ids = [...text.matchAll(/--comment "gh:([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(r.chains.filter((c) => c.rules.length > 0).map((c) => c.rules[c.rules.length - 1]!.id));
    // Every rule id is still unique (chained), and only the last one of a chain is written.
    const all = r.chains.flatMap((c) => c.rules.map((x) => x.id));
    expect(new Set(all).size).toBe(all.length);
    const lines = text.split('\n').filter((l) => l.startsWith('-A '));
    for (const [i, line] of lines.entries()) {
      const last = lines[i + 1]?.split(' ')[1] !== line.split(' ')[1];
      if (last) expect(line).toMatch(/^-A \S+ -m comment --comment "gh:[A-Za-z0-9_-]{16}" /);
      else expect(line).not.toContain('--comment');
    }
    for (const c of r.chains) expect(c.name.length).toBeLessThanOrEqual(MAX_CHAIN_NAME);
  });

  it('renders the workload chains in Felix order: conntrack, clear marks, profiles, drop', () => {
    const r = renderState(withPolicies([], []), 4);
    expect(lines(r, 'gh-tw-cali0123456789a')).toEqual([
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-m conntrack --ctstate INVALID -j DROP',
      '-j MARK --set-xmark 0x0/0x30000',
      '-j gh-pri-kns.a',
      '-m mark --mark 0x10000/0x10000 -j RETURN',
      '-j DROP',
    ]);
    expect(lines(r, 'gh-from-wl-dispatch')).toEqual(['-i cali0123456789a -g gh-fw-cali0123456789a', '-j DROP']);
    expect(lines(r, 'gh-FORWARD')).toEqual([
      '-j MARK --set-xmark 0x0/0x30000',
      '-i cali+ -j gh-from-wl-dispatch',
      '-o cali+ -j gh-to-wl-dispatch',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
    ]);
  });

  it('ends a Deny tier with a drop when nothing passed, and a Pass tier without one', () => {
    const p1 = policy('gnp/p1', [{ action: 'Pass', source: {}, destination: {} }]);
    const p2 = policy('gnp/p2', [], { tier: 'open' });
    const r = renderState(
      withPolicies(
        [p1, p2],
        [
          { name: 'sec', defaultAction: 'Deny', policyIds: ['gnp/p1'] },
          { name: 'open', defaultAction: 'Pass', policyIds: ['gnp/p2'] },
        ],
      ),
      4,
    );
    expect(lines(r, 'gh-tw-cali0123456789a').slice(3)).toEqual([
      '-j MARK --set-xmark 0x0/0x20000',
      '-m mark --mark 0x0/0x20000 -j gh-pi-gnp/p1',
      '-m mark --mark 0x10000/0x10000 -j RETURN',
      '-m mark --mark 0x0/0x20000 -j DROP',
      '-j MARK --set-xmark 0x0/0x20000',
      '-m mark --mark 0x0/0x20000 -j gh-pi-gnp/p2',
      '-m mark --mark 0x10000/0x10000 -j RETURN',
      '-j gh-pri-kns.a',
      '-m mark --mark 0x10000/0x10000 -j RETURN',
      '-j DROP',
    ]);
    expect(lines(r, 'gh-pi-gnp/p1')).toEqual(['-j MARK --set-xmark 0x20000/0x20000']);
  });

  it('never enforces staged policies, and a tier of only staged policies does not drop', () => {
    const staged = policy('sgnp/x', [{ action: 'Deny', source: {}, destination: {} }], { staged: true });
    const r = renderState(withPolicies([staged], [{ name: 'default', defaultAction: 'Deny', policyIds: ['sgnp/x'] }]), 4);
    expect(r.chains.some((c) => c.name.includes('sgnp'))).toBe(false);
    expect(lines(r, 'gh-tw-cali0123456789a')).not.toContain('-m mark --mark 0x0/0x20000 -j DROP');
  });

  it('matches selectors, named ports and numeric ports, splitting ORs into variants', () => {
    const p = policy('knp/a/np', [
      {
        action: 'Allow',
        protocol: 6,
        source: { ipSetId: 's:src' },
        destination: { namedPortIpSetIds: ['n:http'], ports: [{ min: 9000, max: 9010 }] },
      },
    ]);
    const st = withPolicies([p], [{ name: 'default', defaultAction: 'Deny', policyIds: ['knp/a/np'] }], [
      { kind: 'ipset-replace', id: 's:src', type: 'nets', members: ['10.65.0.12/32', 'fd00::1/128'] },
      { kind: 'ipset-replace', id: 'n:http', type: 'net-port-proto', members: ['10.65.0.11/32,tcp:8080'] },
    ]);
    const r = renderState(st, 4);
    expect(lines(r, 'gh-pi-knp/a/np')).toEqual([
      '-p 6 -m set --match-set gh40s:src src -m multiport --dports 9000:9010 -j MARK --set-xmark 0x10000/0x10000',
      '-m mark --mark 0x10000/0x10000 -j RETURN',
      '-p 6 -m set --match-set gh40s:src src -m set --match-set gh40n:http dst,dst -j MARK --set-xmark 0x10000/0x10000',
    ]);
    expect(formatIpsetRestore(r)).toBe(
      ['create gh40n:http hash:net,port family inet maxelem 1048576', 'add gh40n:http 10.65.0.11/32,tcp:8080', 'create gh40s:src hash:net family inet maxelem 1048576', 'add gh40s:src 10.65.0.12/32', ''].join('\n'),
    );
    const r6 = renderState(st, 6);
    expect(r6.sets.find((s) => s.name === 'gh60s:src')).toEqual({ name: 'gh60s:src', type: 'hash:net', family: 6, members: ['fd00::1/128'] });
  });

  it('keeps nets exact: one CIDR inline, several in a derived set, negations ANDed, /0 means any', () => {
    const rules: CompiledPolicy['ingress'] = [
      { action: 'Deny', source: { nets: ['10.0.0.0/8'] }, destination: {} },
      { action: 'Deny', source: { nets: ['10.0.0.0/8', '192.168.0.0/16'], notNets: ['10.1.0.0/16'] }, destination: {} },
      { action: 'Deny', source: { nets: ['0.0.0.0/0'] }, destination: { notNets: ['10.9.0.0/16', '10.8.0.0/16'] } },
      { action: 'Deny', source: { notNets: ['0.0.0.0/0'] }, destination: {} },
      { action: 'Deny', source: { nets: ['fd00::/8'] }, destination: {} },
      { action: 'Deny', source: {}, destination: { nets: ['10.2.0.0/16'], notNets: ['10.2.3.0/24'] } },
    ];
    const r = renderState(withPolicies([policy('gnp/n', rules)], [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/n'] }]), 4);
    const l = lines(r, 'gh-pi-gnp/n');
    expect(l).toHaveLength(4);
    expect(l[3]).toMatch(/^-d 10\.2\.0\.0\/16 -m set ! --match-set gh40d:\S+ dst -j DROP$/);
    expect(l[0]).toBe('-s 10.0.0.0/8 -j DROP');
    expect(l[1]).toMatch(/^-m set --match-set gh40d:\S+ src ! -s 10\.1\.0\.0\/16 -j DROP$/);
    expect(l[2]).toMatch(/^-m set ! --match-set gh40d:\S+ dst -j DROP$/);
    const derived = r.sets.filter((s) => s.name.startsWith('gh40d:')).map((s) => s.members);
    expect(derived).toContainEqual(['10.0.0.0/8', '192.168.0.0/16']);
    expect(derived).toContainEqual(['10.8.0.0/16', '10.9.0.0/16']);
  });

  it('expands port rules without a protocol to TCP, UDP and SCTP, and honours notProtocol', () => {
    const r = renderState(
      withPolicies(
        [policy('gnp/p', [{ action: 'Allow', notProtocol: 17, source: {}, destination: { notPorts: [{ min: 22, max: 22 }] } }])],
        [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/p'] }],
      ),
      4,
    );
    expect(lines(r, 'gh-pi-gnp/p').filter((x) => x.includes('multiport'))).toEqual([
      '-p 6 -m multiport ! --dports 22 -j MARK --set-xmark 0x10000/0x10000',
      '-p 132 -m multiport ! --dports 22 -j MARK --set-xmark 0x10000/0x10000',
    ]);
  });

  it('renders Log as NFLOG with the prefix, ICMP matches per family, and REJECT when asked', () => {
    const p = policy('gnp/l', [
      { action: 'Log', source: {}, destination: {} },
      { action: 'Deny', protocol: 1, icmp: { type: 8, code: 0 }, source: {}, destination: {} },
      { action: 'Deny', ipVersion: 6, notICMP: { type: 128 }, source: {}, destination: {} },
    ]);
    const st = withPolicies([p], [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/l'] }]);
    const r = renderState(st, 4, { logPrefix: 'audit', denyAction: 'REJECT' });
    expect(lines(r, 'gh-pi-gnp/l')).toEqual([
      '-j NFLOG --nflog-group 1 --nflog-prefix audit',
      '-p 1 -m icmp --icmp-type 8/0 -j REJECT --reject-with icmp-port-unreachable',
    ]);
    const r6 = renderState(st, 6);
    expect(lines(r6, 'gh-pi-gnp/l').slice(1)).toEqual(['-p 58 -m icmp6 ! --icmpv6-type 128 -j DROP']);
  });

  it('renders host endpoints with failsafe chains before policy and forward chains that allow by default', () => {
    const hep: HostEndpointState = {
      id: 'n1-eth0',
      node: 'n1',
      binding: { kind: 'interface', interfaceName: 'eth0' },
      expectedIPs: ['192.168.1.10'],
      ingressTiers: [],
      egressTiers: [],
      untrackedIngressTiers: [],
      untrackedEgressTiers: [],
      preDnatIngressTiers: [],
      forwardIngressTiers: [],
      forwardEgressTiers: [],
      profileIds: [],
      stagedPolicyIds: [],
      failsafeInbound: [
        { protocol: 'tcp', port: 22 },
        { protocol: 'udp', port: 68 },
        { protocol: 'tcp', port: 6443, net: '10.0.0.0/8' },
      ],
      failsafeOutbound: [{ protocol: 'udp', port: 53 }],
    };
    const r = renderState(stateOf([{ kind: 'host-endpoint-upsert', endpoint: hep }]), 4);
    expect(lines(r, 'gh-fsi-eth0')).toEqual(['-p 6 -m tcp --dport 22 -j ACCEPT', '-p 17 -m udp --dport 68 -j ACCEPT', '-p 6 -m tcp --dport 6443 -s 10.0.0.0/8 -j ACCEPT']);
    expect(lines(r, 'gh-fh-eth0').slice(0, 4)).toEqual([
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-m conntrack --ctstate INVALID -j DROP',
      '-j gh-fsi-eth0',
      '-j MARK --set-xmark 0x0/0x30000',
    ]);
    expect(lines(r, 'gh-fhfw-eth0').slice(-2)).toEqual(['-j MARK --set-xmark 0x10000/0x10000', '-j RETURN']);
    expect(lines(r, 'gh-from-host-ep')).toEqual(['-i eth0 -g gh-fh-eth0']);
    expect(lines(r, 'gh-INPUT')).toContain('-j gh-from-host-ep');
  });

  it('renders pre-DNAT policy in mangle and untracked policy in raw, both ending in Pass', () => {
    const deny = policy('gnp/u', [{ action: 'Allow', protocol: 6, source: {}, destination: { ports: [{ min: 80, max: 80 }] } }]);
    const base: HostEndpointState = {
      id: 'h',
      node: 'n1',
      binding: { kind: 'interface', interfaceName: 'eth0' },
      expectedIPs: [],
      ingressTiers: [],
      egressTiers: [],
      untrackedIngressTiers: [{ name: 'default', defaultAction: 'Pass', policyIds: ['gnp/u'] }],
      untrackedEgressTiers: [],
      preDnatIngressTiers: [{ name: 'default', defaultAction: 'Pass', policyIds: ['gnp/u'] }],
      forwardIngressTiers: [],
      forwardEgressTiers: [],
      profileIds: [],
      stagedPolicyIds: [],
      failsafeInbound: [{ protocol: 'tcp', port: 22 }],
      failsafeOutbound: [{ protocol: 'udp', port: 53 }],
    };
    const r = renderState(stateOf([{ kind: 'policy-upsert', policy: deny }, { kind: 'host-endpoint-upsert', endpoint: base }]), 4);
    const chain = (table: string, n: string): string[] => r.chains.find((c) => c.table === table && c.name === n)!.rules.map((x) => x.args.join(' '));
    expect(chain('raw', 'gh-fh-eth0')).toEqual([
      '-j gh-fsi-eth0',
      '-j MARK --set-xmark 0x0/0x30000',
      '-j MARK --set-xmark 0x0/0x20000',
      '-m mark --mark 0x0/0x20000 -j gh-pi-gnp/u',
      '-m mark --mark 0x10000/0x10000 -j NOTRACK',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
    ]);
    // raw failsafes also admit replies to the other list (matched on the source port).
    // Before routing, failsafes guard only the host: not forwarded packets, not packets from workloads.
    expect(chain('raw', 'gh-fsi-eth0')).toEqual([
      '-i cali+ -j RETURN',
      '-m addrtype ! --dst-type LOCAL -j RETURN',
      '-p 6 -m tcp --dport 22 -j ACCEPT',
      '-p 17 -m udp --sport 53 -j ACCEPT',
    ]);
    expect(chain('mangle', 'gh-fsi-eth0').slice(0, 2)).toEqual(['-i cali+ -j RETURN', '-m addrtype ! --dst-type LOCAL -j RETURN']);
    expect(chain('mangle', 'gh-fh-eth0').slice(-2)).toEqual(['-m mark --mark 0x0/0x20000 -j gh-pi-gnp/u', '-m mark --mark 0x10000/0x10000 -j ACCEPT']);
    // Generation stamp (generation.ts): raw stamps generation 1 (bits 18-20 of the default mask),
    // mangle and filter drop new packets carrying another one before deciding anything.
    expect(chain('raw', 'gh-PREROUTING')).toEqual(['-j MARK --set-xmark 0x40000/0x1f0000', '-j gh-from-host-ep']);
    expect(chain('raw', 'gh-OUTPUT')).toEqual(['-j MARK --set-xmark 0x40000/0x1f0000', '-j gh-to-host-ep']);
    expect(chain('mangle', 'gh-PREROUTING')).toEqual([
      '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-m conntrack ! --ctstate RELATED,ESTABLISHED -m mark ! --mark 0x40000/0x1c0000 -j DROP',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
      '-j gh-from-host-ep',
    ]);
    // Workload → host first (its egress policy even when raw/mangle accepted), then what raw/mangle accepted.
    expect(chain('filter', 'gh-INPUT').slice(0, 3)).toEqual([CHECK, '-i cali+ -g gh-wl-to-host', '-m mark --mark 0x10000/0x10000 -j ACCEPT']);
    expect(r.stamp).toMatchObject({ generation: 1, bits: [0x40000, 0x80000, 0x100000], clearMask: 0x30000 });
    expect(r.hooks.map((h) => `${h.table} ${h.chain}`)).toEqual(['filter FORWARD', 'filter INPUT', 'filter OUTPUT', 'mangle PREROUTING', 'raw OUTPUT', 'raw PREROUTING']);
    const star = renderState(stateOf([{ kind: 'policy-upsert', policy: deny }, { kind: 'host-endpoint-upsert', endpoint: { ...base, binding: { kind: 'all-interfaces' } } }]), 4);
    expect(star.chains.filter((c) => c.table === 'raw').map((c) => c.name).sort()).toEqual(['gh-OUTPUT', 'gh-PREROUTING', 'gh-from-host-ep', 'gh-to-host-ep']);
  });

  it('forwards as Felix: arrival endpoint forward policy unless raw/mangle accepted, workloads, departure forward policy; host → own workload unpoliced', () => {
    const star: HostEndpointState = {
      id: 'star', node: 'n1', binding: { kind: 'all-interfaces' }, expectedIPs: [],
      ingressTiers: [], egressTiers: [], untrackedIngressTiers: [], untrackedEgressTiers: [], preDnatIngressTiers: [],
      forwardIngressTiers: [{ name: 'default', defaultAction: 'Deny', policyIds: ['gnp/f'] }], forwardEgressTiers: [],
      profileIds: [], stagedPolicyIds: [], failsafeInbound: [], failsafeOutbound: [],
    };
    const f = policy('gnp/f', [{ action: 'Allow', protocol: 6, source: {}, destination: { ports: [{ min: 80, max: 80 }] } }]);
    const r = renderState(withPolicies([f], [], [{ kind: 'host-endpoint-upsert', endpoint: star }]), 4);
    expect(lines(r, 'gh-FORWARD')).toEqual([
      '-m conntrack ! --ctstate RELATED,ESTABLISHED -m mark ! --mark 0x40000/0x1c0000 -j DROP',
      '-j MARK --set-xmark 0x0/0x20000',
      '-m mark --mark 0x0/0x10000 -j gh-from-hep-fwd',
      '-i cali+ -j gh-from-wl-dispatch',
      '-o cali+ -j gh-to-wl-dispatch',
      '-j gh-to-hep-fwd',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
    ]);
    // The `*` endpoint's forward chains catch every interface, workload veths included.
    expect(lines(r, 'gh-from-hep-fwd')).toEqual(['-g gh-fhfwall']);
    expect(lines(r, 'gh-to-hep-fwd')).toEqual(['-g gh-thfwall']);
    // A tier that applies ends in a drop; otherwise (no tier, or every tier passed) forwarded traffic is allowed.
    expect(lines(r, 'gh-fhfwall').slice(-4)).toEqual([
      '-m mark --mark 0x10000/0x10000 -j RETURN',
      '-m mark --mark 0x0/0x20000 -j DROP',
      '-j MARK --set-xmark 0x10000/0x10000',
      '-j RETURN',
    ]);
    expect(lines(r, 'gh-OUTPUT')).toEqual([
      '-m conntrack ! --ctstate RELATED,ESTABLISHED -m mark ! --mark 0x40000/0x1c0000 -j DROP',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
      '-o cali+ -j RETURN',
      '-j MARK --set-xmark 0x0/0x30000',
      '-j gh-to-host-ep',
      '-m mark --mark 0x10000/0x10000 -j ACCEPT',
    ]);
  });

  it('binds host endpoints given by expected IPs to the interfaces carrying them (explicit names win)', () => {
    const hep = (id: string, binding: HostEndpointState['binding'], expectedIPs: string[]): HostEndpointState => ({
      id, node: 'n1', binding, expectedIPs, ingressTiers: [], egressTiers: [], untrackedIngressTiers: [], untrackedEgressTiers: [],
      preDnatIngressTiers: [], forwardIngressTiers: [], forwardEgressTiers: [], profileIds: [], stagedPolicyIds: [],
      failsafeInbound: [], failsafeOutbound: [],
    });
    const st = stateOf([
      { kind: 'host-endpoint-upsert', endpoint: hep('a-by-ip', { kind: 'expected-ips' }, ['192.168.1.10', '2001:db8::0:1']) },
      { kind: 'host-endpoint-upsert', endpoint: hep('b-eth1', { kind: 'interface', interfaceName: 'eth1' }, []) },
    ]);
    const interfaceAddresses = new Map([
      ['eth0', ['192.168.1.10']],
      ['eth1', ['192.168.1.10']],
      ['eth2', ['2001:db8::1']],
      ['cali123', ['192.168.1.10']],
      ['lo', ['127.0.0.1']],
    ]);
    const r = renderState(st, 4, {}, { interfaceAddresses });
    expect(lines(r, 'gh-from-host-ep')).toEqual(['-i eth0 -g gh-fh-eth0', '-i eth1 -g gh-fh-eth1', '-i eth2 -g gh-fh-eth2']);
    // Without the host's addresses an expected-IP endpoint binds nowhere.
    expect(lines(renderState(st, 4), 'gh-from-host-ep')).toEqual(['-i eth1 -g gh-fh-eth1']);
  });

  it('rejects interface names that could inject tokens', () => {
    expect(() => renderState(stateOf([{ kind: 'workload-endpoint-upsert', endpoint: wep({ interfaceName: 'cali x -j ACCEPT' }) }]), 4)).toThrow(/invalid interface name/);
  });

  it('honours custom prefixes and mark masks', () => {
    const r = renderState(withPolicies([], []), 4, { chainPrefix: 'zz-', setPrefix: 'zz', markMask: 0x0f00, workloadInterfacePrefixes: ['tap'] });
    expect(lines(r, 'zz-FORWARD')).toEqual([
      '-j MARK --set-xmark 0x0/0x300',
      '-i tap+ -j zz-from-wl-dispatch',
      '-o tap+ -j zz-to-wl-dispatch',
      '-m mark --mark 0x100/0x100 -j ACCEPT',
    ]);
    expect(r.commentTag).toBe('zz:');
    expect(r.stamp).toBeUndefined();
  });

  it('is deterministic: equal state in any message order renders the same text', () => {
    const msgs: DataplaneMessage[] = [
      { kind: 'ipset-replace', id: 's:b', type: 'nets', members: ['10.0.0.2/32', '10.0.0.1/32'] },
      { kind: 'profile-upsert', profile: allowAll },
      { kind: 'workload-endpoint-upsert', endpoint: wep() },
      { kind: 'workload-endpoint-upsert', endpoint: wep({ id: 'a/db', interfaceName: 'cali1111111111b', addresses: ['10.65.0.12/32'] }) },
    ];
    const a = renderState(stateOf(msgs), 4);
    const b = renderState(stateOf([...msgs].reverse()), 4);
    expect(formatIptablesRestore(a)).toBe(formatIptablesRestore(b));
    expect(formatIpsetRestore(a)).toBe(formatIpsetRestore(b));
  });
});
