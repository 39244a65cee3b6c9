/**
 * The plan, pure and table-driven: a desired state and what is there now (a read-back or a
 * handle's cache) in, the ordered operations out. Pins the order the kernel tests rely on
 * (WireGuard step, addresses, link, one route batch with adds before removes, rules), that a
 * converged interface needs nothing, that untouched peers appear in no operation, that a routing
 * change moves the rule and the routes of the old table, and that diffing against a handle's
 * indexes gives the same plan as diffing against a read-back.
 */
import { describe, expect, it } from 'vitest';
import { generateKeyPair } from '../keys.js';
import type { WireguardPeer } from '../peers.js';
import { prepareDesiredState, type DesiredWireguardState } from './desired.js';
import type { WgDumpPeer } from './dump.js';
import type { RuleInfo } from './ip.js';
import type { Observed } from './observed.js';
import { DEFAULT_FWMARK, type Routing } from './options.js';
import { PeerIndex } from './peerindex.js';
import { planApply, planPeerChanges, type Operation, type PlanInput } from './plan.js';

const me = generateKeyPair();
const [kb, kc, kd] = [generateKeyPair().publicKey, generateKeyPair().publicKey, generateKeyPair().publicKey];
const NAME = 'wg-test';
const routing: Routing = { table: 1, priority: 99, fwmark: DEFAULT_FWMARK };

const peer = (node: string, publicKey: string, allowedIPs: string[], endpoint = `192.168.0.${node.charCodeAt(0) - 96}:51820`): WireguardPeer => ({
  node,
  publicKey,
  endpoint,
  allowedIPs,
  persistentKeepalive: 0,
});
const B = peer('b', kb, ['10.244.2.0/24']);
const C = peer('c', kc, ['10.244.3.0/24', '10.244.30.0/24']);
const D = peer('d', kd, ['fd00:3::/64']);

/** What `wg show dump` says of a peer that is exactly as configured. */
const dumped = (p: WireguardPeer): WgDumpPeer => ({ publicKey: p.publicKey, endpoint: p.endpoint, allowedIPs: p.allowedIPs, latestHandshake: 0, rxBytes: 0, txBytes: 0, persistentKeepalive: p.persistentKeepalive });

const desired = (peers: WireguardPeer[], extra: Partial<DesiredWireguardState['interface']> = {}): DesiredWireguardState => ({
  privateKey: me.privateKey,
  interface: { listenPort: 51820, mtu: 1420, address: '10.99.0.1/32', ...extra },
  peers,
});

const ourRule = (r: Routing = routing): RuleInfo => ({ priority: r.priority, table: String(r.table), not: true, fwmark: r.fwmark, fwmask: r.fwmark });

/** A fresh device: no key, no peers, down, default MTU. */
const empty: Observed = { listenPort: 0, fwmark: 0, peers: [], addresses: [], mtu: 1420, up: false, routes: [], staleRoutes: [], rules: new Map() };

/** A device exactly as `want` and `routing` describe. */
const converged = (want: DesiredWireguardState): Observed => ({
  privateKey: want.privateKey,
  listenPort: want.interface.listenPort,
  fwmark: routing.fwmark,
  peers: want.peers.map(dumped),
  addresses: want.interface.address !== undefined ? [want.interface.address] : [],
  mtu: want.interface.mtu,
  up: true,
  routes: want.peers.flatMap((p) => p.allowedIPs),
  staleRoutes: [],
  rules: new Map([[4, [ourRule()]]]),
});

const recorded = (extra: Partial<PlanInput['recorded']> = {}): PlanInput['recorded'] => ({ table: 1, rulePriority: 99, fwmark: DEFAULT_FWMARK, ruleFamilies: [4], ...extra });

function plan(want: DesiredWireguardState, current: Observed, extra: Partial<PlanInput> = {}) {
  return planApply({ name: NAME, routing, recorded: recorded(), desired: want, prepared: prepareDesiredState(want).prepared, current, ...extra });
}

/** An operation as one line, for readable tables. */
function show(op: Operation): string {
  switch (op.kind) {
    case 'ip':
      return op.argv.join(' ');
    case 'routes':
      return `routes: ${op.lines.join('; ')}`;
    case 'wireguard': {
      const settings = [op.privateKey !== undefined ? 'key' : '', op.listenPort !== undefined ? `port ${op.listenPort}` : '', op.fwmark !== undefined ? `fwmark 0x${op.fwmark.toString(16)}` : ''].filter((s) => s);
      const nodes = (ps: readonly WireguardPeer[]) => ps.map((p) => p.node).join(',');
      const names = new Map([B, C, D].map((p) => [p.publicKey, p.node]));
      return `wireguard: ${[...settings, `+${nodes(op.diff.add)}`, `~${nodes(op.diff.update)}`, `-${op.diff.remove.map((k) => names.get(k)).join(',')}`, `=${op.diff.unchanged}`].join(' ')}`;
    }
  }
}

const RULE_ADD_4 = 'ip -4 rule add not fwmark 0x100000/0x100000 table 1 priority 99';

describe('planApply', () => {
  it.each<[string, DesiredWireguardState, Observed, Partial<PlanInput>, string[]]>([
    [
      'a fresh device: settings and peers, address, link up, routes, rule',
      desired([B, C]),
      empty,
      {},
      [
        'wireguard: key port 51820 fwmark 0x100000 +b,c ~ - =0',
        `ip addr replace 10.99.0.1/32 dev ${NAME}`,
        `ip link set dev ${NAME} mtu 1420 up`,
        `routes: route replace 10.244.2.0/24 dev ${NAME} table 1; route replace 10.244.3.0/24 dev ${NAME} table 1; route replace 10.244.30.0/24 dev ${NAME} table 1`,
        RULE_ADD_4,
      ],
    ],
    ['a converged device: nothing', desired([B, C]), converged(desired([B, C])), {}, []],
    [
      'a peer leaves and another moves: removals in the WireGuard step, its routes deleted, the untouched peer nowhere',
      desired([peer('b', kb, ['10.244.2.0/24'], '192.168.0.22:51820')]),
      converged(desired([B, C])),
      {},
      ['wireguard: + ~b -c =0', `routes: route del 10.244.3.0/24 dev ${NAME} table 1; route del 10.244.30.0/24 dev ${NAME} table 1`],
    ],
    [
      'a peer joins: only it, and its routes',
      desired([B, C]),
      converged(desired([B])),
      {},
      ['wireguard: +c ~ - =1', `routes: route replace 10.244.3.0/24 dev ${NAME} table 1; route replace 10.244.30.0/24 dev ${NAME} table 1`],
    ],
    [
      'an allowed IP moves between peers: added before removed, in one batch',
      desired([peer('b', kb, ['10.244.2.0/24', '10.244.3.0/24']), peer('c', kc, ['10.244.30.0/24'])]),
      converged(desired([B, C])),
      {},
      ['wireguard: + ~b,c - =0'],
    ],
    [
      'a new address and MTU: the old address deleted, the new one set, the link reconfigured',
      desired([B], { address: '10.99.0.9/32', mtu: 1380 }),
      converged(desired([B])),
      {},
      [`ip addr del 10.99.0.1/32 dev ${NAME}`, `ip addr replace 10.99.0.9/32 dev ${NAME}`, `ip link set dev ${NAME} mtu 1380 up`],
    ],
    [
      'a device that is down: only the link',
      desired([B]),
      { ...converged(desired([B])), up: false },
      {},
      [`ip link set dev ${NAME} mtu 1420 up`],
    ],
    [
      'a new port and key: the WireGuard step carries them, peers untouched',
      { ...desired([B], { listenPort: 51999 }), privateKey: generateKeyPair().privateKey },
      converged(desired([B])),
      {},
      ['wireguard: key port 51999 + ~ - =1'],
    ],
    [
      'an IPv6 allowed IP: a route and a rule for family 6 too',
      desired([B, D]),
      converged(desired([B])),
      {},
      ['wireguard: +d ~ - =1', `routes: route replace fd00:3::/64 dev ${NAME} table 1`, 'ip -6 rule add not fwmark 0x100000/0x100000 table 1 priority 99'],
    ],
    [
      'a routing table change: the old rule dropped, the new one added, leftovers of the old table deleted',
      desired([B]),
      { ...converged(desired([B])), routes: [], staleRoutes: ['10.244.2.0/24'], rules: new Map([[4, [ourRule({ ...routing, table: 7 })]]]) },
      { recorded: recorded({ table: 7 }) },
      [
        `routes: route replace 10.244.2.0/24 dev ${NAME} table 1; route del 10.244.2.0/24 dev ${NAME} table 7`,
        'ip -4 rule del not fwmark 0x100000/0x100000 table 7 priority 99',
        RULE_ADD_4,
      ],
    ],
  ])('%s', (_, want, current, extra, expected) => {
    expect(plan(want, current, extra).operations.map(show)).toEqual(expected);
  });

  it('sums up what it does, and records the rule families', () => {
    const p = plan(desired([B, D]), converged(desired([B, C])));
    expect(p.peers).toMatchObject({ unchanged: 1 });
    expect(p.peers.add.map((x) => x.node)).toEqual(['d']);
    expect(p.peers.remove).toEqual([kc]);
    expect(p.routes).toEqual({ added: 1, removed: 2 });
    expect(p.ruleFamilies).toEqual([4, 6]);
  });

  it("a rule removed by someone else is added again, and not when it is there (another's rule left alone)", () => {
    const foreign: RuleInfo = { priority: 99, table: '5', not: false };
    expect(plan(desired([B]), { ...converged(desired([B])), rules: new Map([[4, [foreign]]]) }).operations.map(show)).toEqual([RULE_ADD_4]);
    expect(plan(desired([B]), { ...converged(desired([B])), rules: new Map([[4, [foreign, ourRule()]]]) }).operations).toEqual([]);
  });

  it("against a handle's indexes: the same operations as against a read-back", () => {
    const before = desired([B, C]);
    const index = PeerIndex.fromPrepared(prepareDesiredState(before).prepared.peers);
    // A cache lists no peers or routes: they are in the index.
    const cached: Observed = { ...converged(before), peers: [], routes: [] };
    for (const after of [desired([B, C]), desired([B]), desired([B, C, D]), desired([peer('b', kb, ['10.244.2.0/24'], '192.168.0.9:1'), C]), desired([])]) {
      expect(plan(after, cached, { applied: index }).operations.map(show)).toEqual(plan(after, converged(before)).operations.map(show));
    }
  });

  it('is pure: the same input gives the same plan, and the input is not modified', () => {
    const want = desired([B, C]);
    const current = converged(desired([B]));
    const frozen = JSON.stringify({ want, current: { ...current, rules: [...current.rules] } });
    expect(plan(want, current)).toEqual(plan(want, current));
    expect(JSON.stringify({ want, current: { ...current, rules: [...current.rules] } })).toBe(frozen);
  });
});

describe('planPeerChanges', () => {
  const index = PeerIndex.fromPrepared(prepareDesiredState(desired([B, C])).prepared.peers);

  it.each<[string, Parameters<PeerIndex['plan']>[0], string[], { added: number; removed: number }]>([
    ['a node joins: one WireGuard step, its routes', { upsert: [D] }, ['wireguard: +d ~ - =2', `routes: route replace fd00:3::/64 dev ${NAME} table 1`], { added: 1, removed: 0 }],
    [
      'a node leaves: its routes go',
      { remove: [kc] },
      ['wireguard: + ~ -c =1', `routes: route del 10.244.3.0/24 dev ${NAME} table 1; route del 10.244.30.0/24 dev ${NAME} table 1`],
      { added: 0, removed: 2 },
    ],
    ['a node moves (same prefixes): no route operation', { upsert: [peer('b', kb, ['10.244.2.0/24'], '192.168.0.99:51820')] }, ['wireguard: + ~b - =1'], { added: 0, removed: 0 }],
    ['an unknown key removed, an unchanged peer upserted: nothing', { upsert: [B], remove: [kd] }, [], { added: 0, removed: 0 }],
  ])('%s', (_, changes, expected, routes) => {
    const p = planPeerChanges(NAME, routing, index.plan(changes, me.publicKey), [4, 6]);
    expect(p.operations.map(show)).toEqual(expected);
    expect(p.routes).toEqual(routes);
    expect(p.ruleFamilies).toEqual([4, 6]);
  });
});
