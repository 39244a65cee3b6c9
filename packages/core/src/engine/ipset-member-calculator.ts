/**
 * The IP set member calculator: for every IP set that active rules reference, its members,
 * kept up to date through a label index over every entity in the cluster (workload endpoints'
 * addresses, host endpoints' expectedIPs, network sets' nets). Selector sets are keyed by the
 * canonical selector's unique id, so equal selectors share one set; named-port sets by
 * (selector, protocol, port name). The label index works on label shapes (entities with equal
 * effective labels); a shape's match contributes every member entity's addresses. Members are
 * reference counted (two endpoints may share an address) and every change is recorded as dirty
 * for the next flush. Never emits messages.
 *
 * Memory: members are keyed by the entities' own address strings. A named-port set keeps one
 * address map per port number, and its member text (`<cidr>,<proto>:<port>`) is built only for
 * messages: at 100k endpoints, named-port sets over `all()` hold every pod, and one string per
 * (set, pod) would cost more than the rest of the set state.
 */
import type { EndpointPort } from '../model/types.js';
import type { Selector } from '../selector/index.js';
import type { DataplaneMessage } from '../dataplane/messages.js';
import { compareBytewise } from '../convert/strings.js';
import { protoText } from '../dataplane/model-dataplane.js';
import { LabelIndex } from './label-index.js';

export type IpSetSpec =
  | { readonly kind: 'selector'; readonly selectorId: string; readonly selector: Selector | undefined }
  | { readonly kind: 'named-port'; readonly selectorId: string; readonly selector: Selector | undefined; readonly protocol: number; readonly port: string };

export interface EntityAddresses {
  /** Canonical CIDRs: one string (the common case: no array kept) or several. */
  readonly addrs: string | readonly string[];
  readonly ports: readonly EndpointPort[];
}

type SetEntry =
  | { readonly type: 'nets'; readonly spec: IpSetSpec & { kind: 'selector' }; refs: number; readonly members: Map<string, number> }
  | {
      readonly type: 'net-port-proto';
      readonly spec: IpSetSpec & { kind: 'named-port' };
      refs: number;
      /** port number → address → reference count. */
      readonly members: Map<number, Map<string, number>>;
    };

interface SelectorUse {
  netsSet: string | undefined;
  readonly namedPortSets: Set<string>;
}

export class IpSetMemberCalculator {
  readonly index: LabelIndex;
  readonly sets = new Map<string, SetEntry>();
  private readonly uses = new Map<string, SelectorUse>();
  /**
   * Set id → members whose presence changed since the last flush, with whether each was present
   * then ('all' = send the whole set, or delete it). The emitted membership is never copied:
   * it is the desired membership with these changes undone.
   */
  private readonly dirty = new Map<string, Map<string, boolean> | 'all'>();
  /** Ids of the sets the dataplane holds. */
  private readonly emitted = new Set<string>();

  constructor(
    private readonly shapeMembers: (shapeId: string) => Iterable<EntityAddresses>,
  ) {
    this.index = new LabelIndex(
      (sel, shape) => {
        for (const item of this.shapeMembers(shape)) this.contribute(sel, item, 1);
      },
      (sel, shape) => {
        for (const item of this.shapeMembers(shape)) this.contribute(sel, item, -1);
      },
    );
  }

  addRef(id: string, spec: IpSetSpec): void {
    const existing = this.sets.get(id);
    if (existing) {
      existing.refs++;
      return;
    }
    const entry: SetEntry =
      spec.kind === 'selector' ? { type: 'nets', spec, refs: 1, members: new Map() } : { type: 'net-port-proto', spec, refs: 1, members: new Map() };
    this.sets.set(id, entry);
    this.markAll(id);
    let use = this.uses.get(spec.selectorId);
    const fresh = !use;
    if (!use) this.uses.set(spec.selectorId, (use = { netsSet: undefined, namedPortSets: new Set() }));
    if (spec.kind === 'selector') use.netsSet = id;
    else use.namedPortSets.add(id);
    if (fresh) this.index.upsertSelector(spec.selectorId, spec.selector);
    else for (const shape of this.index.itemsMatching(spec.selectorId)) for (const item of this.shapeMembers(shape)) this.contributeTo(id, entry, item, 1);
  }

  removeRef(id: string): void {
    const entry = this.sets.get(id);
    if (!entry) return;
    if (--entry.refs > 0) return;
    this.sets.delete(id);
    this.markAll(id);
    const use = this.uses.get(entry.spec.selectorId)!;
    if (entry.spec.kind === 'selector') use.netsSet = undefined;
    else use.namedPortSets.delete(id);
    if (use.netsSet === undefined && use.namedPortSets.size === 0) {
      this.uses.delete(entry.spec.selectorId);
      this.index.deleteSelector(entry.spec.selectorId);
    }
  }

  /** Removes one entity's contributions from the sets its shape matches. */
  withdraw(entity: EntityAddresses, shapeId: string): void {
    for (const sel of this.index.selectorsMatching(shapeId)) this.contribute(sel, entity, -1);
  }

  /** Adds one entity's contributions to the sets its (existing) shape matches. */
  restore(entity: EntityAddresses, shapeId: string): void {
    for (const sel of this.index.selectorsMatching(shapeId)) this.contribute(sel, entity, 1);
  }

  private markAll(id: string): void {
    this.dirty.set(id, 'all');
  }

  private contribute(selectorId: string, item: EntityAddresses, delta: number): void {
    const use = this.uses.get(selectorId);
    if (!use) return;
    if (use.netsSet !== undefined) this.contributeTo(use.netsSet, this.sets.get(use.netsSet)!, item, delta);
    for (const id of use.namedPortSets) this.contributeTo(id, this.sets.get(id)!, item, delta);
  }

  private contributeTo(id: string, entry: SetEntry, e: EntityAddresses, delta: number): void {
    const addrs = e.addrs;
    if (entry.type === 'nets') {
      if (typeof addrs === 'string') this.bump(id, entry, entry.members, addrs, 0, delta);
      else for (const c of addrs) this.bump(id, entry, entry.members, c, 0, delta);
      return;
    }
    const spec = entry.spec;
    for (const p of e.ports) {
      if (p.name !== spec.port || p.protocol !== spec.protocol) continue;
      let byAddr = entry.members.get(p.port);
      if (!byAddr) entry.members.set(p.port, (byAddr = new Map()));
      if (typeof addrs === 'string') this.bump(id, entry, byAddr, addrs, p.port, delta);
      else for (const c of addrs) this.bump(id, entry, byAddr, c, p.port, delta);
      if (byAddr.size === 0) entry.members.delete(p.port);
    }
  }

  /** Counts one contribution of `addr` (with `port` in a named-port set); records presence changes. */
  private bump(id: string, entry: SetEntry, counts: Map<string, number>, addr: string, port: number, delta: number): void {
    const before = counts.get(addr) ?? 0;
    const n = before + delta;
    if (n <= 0) counts.delete(addr);
    else counts.set(addr, n);
    if (before > 0 === n > 0) return;
    const d = this.dirty.get(id);
    if (d === 'all') return;
    if (!this.emitted.has(id)) {
      this.dirty.set(id, 'all');
      return;
    }
    const member = entry.type === 'nets' ? addr : memberText(addr, entry.spec.protocol, port);
    if (d) {
      if (!d.has(member)) d.set(member, before > 0);
    } else this.dirty.set(id, new Map([[member, before > 0]]));
  }

  /**
   * The IP set messages since the last flush: creations and member changes (to send before any
   * policy references them) and deletions (to send after every reference is gone). Sorted by id.
   */
  flush(): { readonly updates: DataplaneMessage[]; readonly deletes: DataplaneMessage[] } {
    const updates: DataplaneMessage[] = [];
    const deletes: DataplaneMessage[] = [];
    for (const id of [...this.dirty.keys()].sort(compareBytewise)) {
      const dirty = this.dirty.get(id)!;
      const desired = this.sets.get(id);
      if (!desired) {
        if (this.emitted.delete(id)) deletes.push({ kind: 'ipset-delete', id });
        continue;
      }
      if (dirty === 'all') {
        // New, or deleted and re-created since the last flush: one atomic replace.
        updates.push({ kind: 'ipset-replace', id, type: desired.type, members: sortMembers(allMembers(desired)) });
        this.emitted.add(id);
        continue;
      }
      const add: string[] = [];
      const remove: string[] = [];
      for (const [m, was] of dirty) {
        const now = hasMember(desired, m);
        if (now && !was) add.push(m);
        else if (!now && was) remove.push(m);
      }
      if (remove.length > 0) updates.push({ kind: 'ipset-remove-members', id, members: sortMembers(remove) });
      if (add.length > 0) updates.push({ kind: 'ipset-add-members', id, members: sortMembers(add) });
    }
    this.dirty.clear();
    return { updates, deletes };
  }
}

function memberText(addr: string, protocol: number, port: number): string {
  return `${addr},${protoText(protocol)}:${port}`;
}

function allMembers(entry: SetEntry): string[] {
  if (entry.type === 'nets') return [...entry.members.keys()];
  const out: string[] = [];
  for (const [port, byAddr] of entry.members) for (const addr of byAddr.keys()) out.push(memberText(addr, entry.spec.protocol, port));
  return out;
}

/** Whether a member text (`<cidr>` or `<cidr>,<proto>:<port>`) is in the desired set. */
function hasMember(entry: SetEntry, member: string): boolean {
  if (entry.type === 'nets') return entry.members.has(member);
  const comma = member.lastIndexOf(',');
  const port = Number(member.slice(member.lastIndexOf(':') + 1));
  return entry.members.get(port)?.has(member.slice(0, comma)) ?? false;
}

/**
 * Members in byte order. They are canonical CIDRs, optionally with `,<proto>:<port>`: ASCII, for
 * which the native string order (UTF-16 code units) is byte order, and several times faster than
 * a comparator over the ~10^5 members of a full sync.
 */
function sortMembers(members: string[]): string[] {
  return members.sort();
}
