import { fc, test } from '@fast-check/vitest';
import { canonicalCidr } from '@gingham/core';
import { describe, expect, it } from 'vitest';
import { generateKeyPair } from '../keys.js';
import type { WireguardPeer } from '../peers.js';
import { type PeerChanges, PeerIndex } from './peerindex.js';
import { validateDesiredState, type DesiredWireguardState } from './desired.js';

const me = generateKeyPair();
const KEYS = Array.from({ length: 4 }, () => generateKeyPair().publicKey);
const base: Omit<DesiredWireguardState, 'peers'> = { privateKey: me.privateKey, interface: { listenPort: 51820, mtu: 1440 } };
const peer = (extra: Partial<WireguardPeer> = {}): WireguardPeer => ({ node: 'b', publicKey: KEYS[0]!, endpoint: '192.168.0.2:51820', allowedIPs: ['10.244.2.0/24'], persistentKeepalive: 0, ...extra });

function accepts(peers: readonly WireguardPeer[]): boolean {
  try {
    validateDesiredState({ ...base, peers });
    return true;
  } catch {
    return false;
  }
}

/** The full list after a change set (upsert replaces by key in place, new keys go last). */
function applyToList(list: readonly WireguardPeer[], c: PeerChanges): WireguardPeer[] | undefined {
  const up = c.upsert ?? [];
  const keys = up.map((p) => p.publicKey);
  if (new Set(keys).size !== keys.length || (c.remove ?? []).some((k) => keys.includes(k))) return undefined;
  const removed = new Set(c.remove ?? []);
  const byKey = new Map(up.map((p) => [p.publicKey, p]));
  const out = list.filter((p) => !removed.has(p.publicKey)).map((p) => byKey.get(p.publicKey) ?? p);
  for (const p of up) if (!list.some((q) => q.publicKey === p.publicKey)) out.push(p);
  return out;
}

const routesOf = (peers: readonly WireguardPeer[]): Set<string> => new Set(peers.flatMap((p) => p.allowedIPs.map((a) => canonicalCidr(a)!)));

describe('PeerIndex', () => {
  it('plans a join as one add and its routes, without touching the index until commit', () => {
    const idx = new PeerIndex();
    idx.commit(idx.plan({ upsert: [peer()] }, me.publicKey));
    const joiner = peer({ node: 'c', publicKey: KEYS[1]!, allowedIPs: ['10.244.3.0/24', '10.99.0.3'] });
    const plan = idx.plan({ upsert: [joiner] }, me.publicKey);
    expect(plan.diff).toEqual({ add: [joiner], update: [], remove: [], unchanged: 1 });
    expect(plan.routes).toEqual({ add: ['10.244.3.0/24', '10.99.0.3/32'], remove: [] });
    expect(idx.peers.size).toBe(1);
    idx.commit(plan);
    expect(idx.list()).toEqual([peer(), joiner]);
    const leave = idx.plan({ remove: [KEYS[1]!, KEYS[3]!] }, me.publicKey);
    expect(leave.diff).toEqual({ add: [], update: [], remove: [KEYS[1]!], unchanged: 1 });
    expect(leave.routes).toEqual({ add: [], remove: ['10.244.3.0/24', '10.99.0.3/32'] });
  });

  it('counts an identical upsert as unchanged and a changed one as an update', () => {
    const idx = new PeerIndex();
    idx.commit(idx.plan({ upsert: [peer()] }, me.publicKey));
    expect(idx.plan({ upsert: [peer()] }, me.publicKey).diff).toEqual({ add: [], update: [], remove: [], unchanged: 1 });
    const moved = peer({ allowedIPs: ['10.244.9.0/24'] });
    const plan = idx.plan({ upsert: [moved] }, me.publicKey);
    expect(plan.diff).toEqual({ add: [], update: [moved], remove: [], unchanged: 0 });
    expect(plan.routes).toEqual({ add: ['10.244.9.0/24'], remove: ['10.244.2.0/24'] });
  });

  it.each<[string, PeerChanges, string]>([
    ['a malformed key', { upsert: [peer({ node: 'c', publicKey: 'abc', allowedIPs: [] })] }, 'WG_INVALID_KEY'],
    ['our own key', { upsert: [peer({ node: 'c', publicKey: me.publicKey, allowedIPs: [] })] }, 'WG_INVALID_ARGUMENT'],
    ['a prefix claimed by another node', { upsert: [peer({ node: 'c', publicKey: KEYS[1]! })] }, 'WG_INVALID_ARGUMENT'],
    ['a key upserted twice', { upsert: [peer({ node: 'c', publicKey: KEYS[1]!, allowedIPs: [] }), peer({ node: 'd', publicKey: KEYS[1]!, allowedIPs: [] })] }, 'WG_INVALID_ARGUMENT'],
    ['a key upserted and removed', { upsert: [peer({ node: 'c', publicKey: KEYS[1]!, allowedIPs: [] })], remove: [KEYS[1]!] }, 'WG_INVALID_ARGUMENT'],
    ['a bad endpoint', { upsert: [peer({ node: 'c', publicKey: KEYS[1]!, endpoint: 'host:1', allowedIPs: [] })] }, 'WG_INVALID_ARGUMENT'],
  ])('rejects %s with the typed error of full validation, changing nothing', (_, changes, code) => {
    const idx = new PeerIndex();
    idx.commit(idx.plan({ upsert: [peer()] }, me.publicKey));
    expect(() => idx.plan(changes, me.publicKey)).toThrow(expect.objectContaining({ code }));
    expect(idx.list()).toEqual([peer()]);
    expect([...idx.claims.keys()]).toEqual(['10.244.2.0/24']);
  });

  // Small universes so that collisions (shared keys, overlapping claims, own key) happen.
  const arbPeer = fc.record({
    node: fc.constantFrom('n0', 'n1', 'n2', 'n3'),
    publicKey: fc.constantFrom(...KEYS, me.publicKey, 'bad-key'),
    endpoint: fc.constantFrom('192.168.0.2:51820', '[fd00::2]:51820', 'host:1'),
    allowedIPs: fc.subarray(['10.0.0.0/24', '10.0.1.0/24', '10.0.1.0/24', '10.0.2.1', 'fd00::/64', '10.0.0.0/99'], { maxLength: 3 }),
    persistentKeepalive: fc.constantFrom(0, 25, -1),
  });
  // Mostly valid peers, so that long sequences of accepted changes occur.
  const arbGoodPeer = fc.record({
    node: fc.constantFrom('n0', 'n1', 'n2', 'n3'),
    publicKey: fc.constantFrom(...KEYS),
    endpoint: fc.constant('192.168.0.2:51820'),
    allowedIPs: fc.subarray(['10.0.0.0/24', '10.0.1.0/24', '10.0.2.1/32', '10.0.3.0/24', 'fd00::/64'], { maxLength: 2 }),
    persistentKeepalive: fc.constantFrom(0, 25),
  });
  const arbChanges = fc.record({
    upsert: fc.array(fc.oneof({ weight: 4, arbitrary: arbGoodPeer }, { weight: 1, arbitrary: arbPeer }), { maxLength: 3 }),
    remove: fc.array(fc.constantFrom(...KEYS, 'bad-key'), { maxLength: 2 }),
  });

  test.prop([fc.array(arbChanges, { minLength: 1, maxLength: 12 })])('incremental changes = validating the full list: same decisions, same state, same routes', (seq) => {
    const idx = new PeerIndex();
    let list: WireguardPeer[] = [];
    for (const changes of seq) {
      const next = applyToList(list, changes);
      const fullOk = next !== undefined && accepts(next);
      let plan: ReturnType<PeerIndex['plan']> | undefined;
      try {
        plan = idx.plan(changes, me.publicKey);
      } catch (e) {
        expect((e as { code?: string }).code).toMatch(/^WG_INVALID_(KEY|ARGUMENT)$/);
      }
      expect(plan !== undefined).toBe(fullOk);
      if (!plan || !next) {
        expect(idx.list()).toEqual(list);
        continue;
      }
      const before = routesOf(list);
      const after = routesOf(next);
      expect(plan.routes.add).toEqual([...after].filter((r) => !before.has(r)).sort());
      expect(plan.routes.remove).toEqual([...before].filter((r) => !after.has(r)).sort());
      const oldKeys = new Set(list.map((p) => p.publicKey));
      const newKeys = new Set(next.map((p) => p.publicKey));
      expect(plan.diff.add.map((p) => p.publicKey).sort()).toEqual([...newKeys].filter((k) => !oldKeys.has(k)).sort());
      expect(plan.diff.remove).toEqual([...oldKeys].filter((k) => !newKeys.has(k)).sort());
      expect(plan.diff.add.length + plan.diff.update.length + plan.diff.unchanged).toBe(next.length);
      expect(idx.list(plan)).toEqual(next);
      idx.commit(plan);
      list = next;
      expect(idx.list()).toEqual(list);
      expect(new Set(idx.claims.keys())).toEqual(after);
    }
  });
});
