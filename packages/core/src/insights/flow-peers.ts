/**
 * From a side of a flow record back to peers `evaluate()` can be asked about. Records aggregate:
 * pods by generate-name prefix (`web-7d9f8b6c4-*`), other addresses by the network set holding
 * them or as the `pub` / `pvt` network, and drop the addresses. So a side stands for a set of
 * peers: the pods of the namespace the name covers (today's pods: by the prefix, or by the
 * workload and labels when the pods were replaced since), a host endpoint, or every address of a
 * network set or network. For addresses, one representative is taken per region that no rule,
 * network set, private range or node address can split (addresses of one region get the same
 * verdict from every policy), so the verdicts of a side are exact: when its peers disagree, the record's own
 * peer is uncertain, and the caller says so.
 */
import type { Snapshot, WorkloadEndpoint } from '../model/types.js';
import { type SnapshotIndex } from '../evaluate/snapshot-index.js';
import { type Cidr, formatIp, type IpAddr, parseCidr, parseIp } from '../net/cidr.js';
import { compareBytewise } from '../convert/strings.js';
import type { FlowEndpointType } from '../flows/types.js';
import { addressSide, PRIVATE_NETWORKS } from './flow-log.js';

export interface ResolvedSide {
  /** Peer references for `evaluate()`: workload ids, host endpoint names or IP addresses. */
  readonly peers: readonly string[];
  /** How the name was matched: exactly (prefix, name), by workload and labels (pods replaced since), or not at all. */
  readonly match: 'exact' | 'workload' | 'none';
}

/** The workload part of an aggregated or pod name: `web-7d9f8b6c4-*` / `web-7d9f8b6c4-x2k9p` → `web`. */
function workloadOf(name: string): string {
  const base = name.endsWith('*') ? name.slice(0, -1).replace(/-$/, '') : name;
  const hashed = /^(.+)-[a-z0-9]{6,10}$/.exec(base);
  if (hashed && /\d/.test(base.slice(hashed[1]!.length))) return hashed[1]!;
  const suffix = /^(.+)-([a-z0-9]{5}|\d+)$/.exec(base);
  return suffix ? suffix[1]! : base;
}

const familyBits = (v: 4 | 6): number => (v === 4 ? 32 : 128);

function bounds(c: Cidr): [bigint, bigint] {
  const lo = BigInt(c.base);
  return [lo, lo + (1n << BigInt(familyBits(c.version) - c.prefix)) - 1n];
}

const toAddr = (v: 4 | 6, x: bigint): IpAddr => (v === 4 ? { version: 4, value: Number(x) } : { version: 6, value: x });

/**
 * Resolves record sides against one snapshot; the address regions are computed once, from every
 * CIDR the policies (enforced and staged), profiles and network sets name.
 */
export class FlowPeerResolver {
  private regions: Map<string, string[]> | undefined;
  private readonly memo = new Map<string, ResolvedSide>();

  constructor(
    private readonly snapshot: Snapshot,
    private readonly index: SnapshotIndex,
  ) {}

  resolve(type: FlowEndpointType, name: string, namespace: string, labels: readonly string[] = []): ResolvedSide {
    const key = `${type}|${namespace}|${name}|${type === 'wep' ? labels.join(',') : ''}`;
    let r = this.memo.get(key);
    if (!r) this.memo.set(key, (r = this.compute(type, name, namespace, labels)));
    return r;
  }

  private byNamespace: Map<string, WorkloadEndpoint[]> | undefined;

  /** The pods of a namespace (indexed on first use: a record side never scans the whole cluster). */
  private podsIn(namespace: string): readonly WorkloadEndpoint[] {
    if (!this.byNamespace) {
      this.byNamespace = new Map();
      for (const w of this.snapshot.workloadEndpoints) {
        const list = this.byNamespace.get(w.namespace);
        if (list) list.push(w);
        else this.byNamespace.set(w.namespace, [w]);
      }
    }
    return this.byNamespace.get(namespace) ?? [];
  }

  private compute(type: FlowEndpointType, name: string, namespace: string, labels: readonly string[]): ResolvedSide {
    if (type === 'hep') return this.index.hosts.has(name) ? { peers: [name], match: 'exact' } : { peers: [], match: 'none' };
    if (type === 'wep') {
      const pods = this.podsIn(namespace);
      const prefix = name.endsWith('*') ? name.slice(0, -1) : undefined;
      const exact = pods.filter((w) => (prefix !== undefined ? w.name.startsWith(prefix) : w.name === name));
      if (exact.length > 0) return { peers: exact.map((w) => w.id).sort(compareBytewise), match: 'exact' };
      const workload = workloadOf(name);
      const wanted = labels.filter((l) => !l.startsWith('projectcalico.org/'));
      const similar = pods.filter((w) => workloadOf(w.name) === workload && wanted.every((l) => {
        const eq = l.indexOf('=');
        return w.labels[l.slice(0, eq)] === l.slice(eq + 1);
      }));
      return similar.length > 0 ? { peers: similar.map((w) => w.id).sort(compareBytewise), match: 'workload' } : { peers: [], match: 'none' };
    }
    const owner = type === 'ns' ? `ns:${namespace === '-' ? '' : `${namespace}/`}${name}` : `net:${name}`;
    const peers = this.addressRegions().get(owner) ?? [];
    return peers.length > 0 ? { peers, match: 'exact' } : { peers: [], match: 'none' };
  }

  /** Owner (`net:pub`, `net:pvt`, `ns:<ns>/<name>`, `ns:<global name>`) → one address per region class. */
  private addressRegions(): Map<string, string[]> {
    if (this.regions) return this.regions;
    const texts = new Set<string>(PRIVATE_NETWORKS);
    const addRule = (r: { source: { nets?: readonly string[]; notNets?: readonly string[] }; destination: { nets?: readonly string[]; notNets?: readonly string[] } }): void => {
      for (const side of [r.source, r.destination]) for (const t of [...(side.nets ?? []), ...(side.notNets ?? [])]) texts.add(t);
    };
    for (const p of this.snapshot.policies) for (const r of [...p.ingress, ...p.egress]) addRule(r);
    for (const p of this.snapshot.profiles) for (const r of [...p.ingress, ...p.egress]) addRule(r);
    for (const s of this.snapshot.networkSets) for (const t of s.nets) texts.add(t);
    // A node's own address is a class of its own: traffic from it to the node's pods is never policed.
    for (const n of this.snapshot.nodes) for (const a of n.addresses) texts.add(a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`);
    const cidrs = [...texts].map((t) => parseCidr(t)).filter((c): c is Cidr => c !== undefined);
    const out = new Map<string, string[]>();
    for (const family of [4, 6] as const) {
      const mine = cidrs.filter((c) => c.version === family).map((c) => ({ c, b: bounds(c), text: `${formatIp(toAddr(family, BigInt(c.base)))}/${c.prefix}` }));
      const cuts = new Set<bigint>([0n]);
      const max = (1n << BigInt(familyBits(family))) - 1n;
      for (const m of mine) {
        cuts.add(m.b[0]);
        if (m.b[1] < max) cuts.add(m.b[1] + 1n);
      }
      const starts = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const seen = new Set<string>();
      starts.forEach((start, i) => {
        const end = i + 1 < starts.length ? starts[i + 1]! - 1n : max;
        const inside = mine.filter((m) => m.b[0] <= start && m.b[1] >= end).map((m) => m.text).sort(compareBytewise).join(',');
        // A representative address of the region that is no endpoint's (endpoint addresses are named as endpoints).
        let rep: IpAddr | undefined;
        for (let x = start, n = 0; x <= end && n < 64; x++, n++) {
          const a = toAddr(family, x);
          if (!this.index.membersAt(a).some((m) => m.kind === 'WorkloadEndpoint' || m.kind === 'HostEndpoint')) {
            rep = a;
            break;
          }
        }
        if (!rep) return;
        const side = addressSide(this.index, rep);
        const owner = side.type === 'ns' ? `ns:${side.namespace === '-' ? '' : `${side.namespace}/`}${side.name}` : `net:${side.name}`;
        const key = `${owner}|${inside}`;
        if (seen.has(key)) return;
        seen.add(key);
        const list = out.get(owner);
        if (list) list.push(formatIp(rep));
        else out.set(owner, [formatIp(rep)]);
      });
    }
    this.regions = out;
    return out;
  }
}

/** Whether a text is an IP address (a peer that is not an endpoint). */
export function isAddressPeer(peer: string): boolean {
  return parseIp(peer) !== undefined;
}
