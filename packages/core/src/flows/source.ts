/**
 * The flow-source port: what a dataplane reports about the connections it decided, for the flow
 * collector (`@gingham/flows`) to attribute, aggregate and publish. Each dataplane has one small
 * source (eBPF: its ring buffer and per-flow counters; iptables: NFLOG and conntrack) behind
 * this shape, so the collector never knows which kernel mechanism produced an event.
 *
 * Hot path: a source calls the sink synchronously from `poll()` and may reuse the event object
 * it hands over once the call returns (no allocation per event); the sink copies what it keeps.
 * Pure types only.
 */

/** What decided one enforcement point, in the dataplane's own terms (resolved to names). */
export type FlowDecision =
  /** A rule of an enforced policy (`policyId` as in the Engine's state: `np/shop/db`, `gnp/x`). */
  | { readonly kind: 'rule'; readonly policyId: string; readonly ruleIndex: number }
  /** A rule of a profile (`kns.shop`, …). */
  | { readonly kind: 'profile'; readonly profile: string; readonly ruleIndex: number }
  /** No rule of an applied tier matched and its default (Deny) applied; the tier when known. */
  | { readonly kind: 'end-of-tier'; readonly tier?: string }
  /** No tier decided and no profile allowed: the final deny. */
  | { readonly kind: 'no-profile' }
  /** The dataplane could not say (an event of a generation whose names are gone). */
  | { readonly kind: 'unknown' };

/**
 * One enforcement point of one packet that took the policy path: the first packet of an allowed
 * connection (each direction evaluated once), or every denied packet. `src`/`dst` are the
 * packet's, so the initiator is `src`.
 */
export interface FlowVerdictEvent {
  /** Unix time in milliseconds. */
  readonly tsMs: number;
  /** `egress`: the source endpoint's egress policy (reporter `src`); `ingress`: the destination's (reporter `dst`). */
  readonly direction: 'ingress' | 'egress';
  readonly action: 'allow' | 'deny';
  readonly decision: FlowDecision;
  readonly family: 4 | 6;
  /** IP protocol number. */
  readonly protocol: number;
  /** Canonical text. */
  readonly src: string;
  readonly dst: string;
  /** TCP/UDP/SCTP ports; ICMP echo: the identifier (both), other ICMP: 0 and type << 8 | code. */
  readonly srcPort: number;
  readonly dstPort: number;
  /** Length of the packet in bytes (0 when the dataplane does not know). */
  readonly bytes: number;
}

/**
 * Cumulative counters of one live connection, keyed by its original direction (initiator →
 * responder, as its verdict event saw it). Sources report each live connection at most once per
 * poll with counters; `closed` when the connection ended (conntrack expiry, TCP close, LRU).
 */
export interface FlowConnectionUpdate {
  readonly family: 4 | 6;
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly packetsOut: number;
  readonly bytesOut: number;
  /** Replies (responder → initiator). */
  readonly packetsIn: number;
  readonly bytesIn: number;
  readonly closed: boolean;
}

/** Where a source delivers. Every method is called synchronously from `poll()`. */
export interface FlowSink {
  verdict(event: FlowVerdictEvent): void;
  connection(update: FlowConnectionUpdate): void;
  /** Events the dataplane had to drop (a full ring buffer, a netlink socket overrun), counted. */
  lost(count: number): void;
}

export interface FlowSourcePollOptions {
  /** Also report connection counters (they cost more than events: a map walk or a conntrack dump). */
  readonly counters?: boolean;
  /** At most this many verdict events (default: all that are there). */
  readonly maxEvents?: number;
}

/** Totals since the source was created. */
export interface FlowSourceStats {
  readonly events: number;
  readonly lost: number;
  readonly connections: number;
  /**
   * Sources that read the kernel through a child process they supervise (iptables: its netlink
   * relay): how often it died and was started again. Each restart is a stretch whose verdict
   * events are missing and not counted in `lost` (nobody was there to count them).
   */
  readonly restarts?: number;
  /** Why that reader last died or could not start (absent while it never did). */
  readonly problem?: string;
}

export interface FlowSource {
  /** `ebpf`, `iptables`, … (for metrics and messages). */
  readonly name: string;
  /** Drains what is there without blocking: verdict events, then (with `counters`) connection updates. */
  poll(sink: FlowSink, options?: FlowSourcePollOptions): void | Promise<void>;
  stats(): FlowSourceStats;
  close(): void | Promise<void>;
}
