/*
 * Gingham eBPF datapath: map layouts and constants shared with the TypeScript side.
 *
 * The source of truth for the seven policy maps is src/wire.ts; the shared maps (conntrack,
 * events, counters, meta) are fixed by the datapath ABI and decoded by src/datapath.ts. Every
 * struct here must keep its exact size (checked with _Static_assert below): a change is an ABI
 * change for the TS dataplane, the benches and pinned maps of running nodes.
 *
 * Conventions: LPM trie keys are `prefixlen` (host order) followed by big-endian data, most
 * significant field first; hash keys and all values are host-order (little-endian) integers;
 * addresses are 16 bytes with IPv4 in the first four.
 */
#ifndef GINGHAM_H
#define GINGHAM_H

#include <linux/types.h>

/* Verdict values (wire.ts). */
#define ACTION_DENY 0
#define ACTION_ALLOW 1
#define FLAG_LOG 1
#define FLAG_DEFAULT 2
#define FLAG_PROFILE 4
#define FLAG_FAILSAFE 8
#define FLAG_UNTRACKED 16
#define FLAG_FORWARD 32
#define SLOT_HAS_SPORT 1
#define ENDPOINT_WORKLOAD 1
#define ENDPOINT_HOST 2
#define FWD_CLASS_DST 0x10
#define IFACE_HAS_NAMED 1 /* on the default entry: some interface has an entry of its own */
#define NONE16 0xffff
#define NONE32 0xffffffffu

/* LPM prefix lengths of a full-length lookup. */
#define CLASS_FAMILY_BITS 8
#define SPORT_HEAD_BITS 64
#define VERDICT_HEAD_BITS 112
#define SPORT_FULL_BITS (SPORT_HEAD_BITS + 16)
#define VERDICT_FULL_BITS (VERDICT_HEAD_BITS + 24)
#define FWD_CLASS_HEAD_BITS 72

/* Map sizes (ABI). */
#define ENDPOINTS_MAX 65536
#define SLOTS_MAX 131072
#define CLASSES_MAX 262144
#define SPORTS_MAX 65536
#define VERDICTS_MAX 1048576
#define IFACES_MAX 4096
#define FWD_CLASSES_MAX 262144
#define CONNTRACK_MAX 262144
#define FLOWSTATS_MAX CONNTRACK_MAX
#define EVENTS_BYTES 262144
#define COUNTERS_MAX 65536

/* Conntrack value flags and timeouts (nanoseconds). */
#define CT_FLAG_CLOSING 1
#define CT_TIMEOUT_TCP (3600ull * 1000000000ull)
#define CT_TIMEOUT_TCP_CLOSING (10ull * 1000000000ull)
#define CT_TIMEOUT_UDP (60ull * 1000000000ull)
#define CT_TIMEOUT_ICMP (30ull * 1000000000ull)
#define CT_TIMEOUT_OTHER (600ull * 1000000000ull)
#define CT_REFRESH_NS 1000000000ull

/* Event directions and counter dir_flags. */
#define DIR_INGRESS 0
#define DIR_EGRESS 1
#define COUNTER_DIR_EGRESS 1

/* endpoints (hash): local address -> slots of its two directions. */
struct endpoint_key {
  __u8 family;
  __u8 pad[3];
  __u8 addr[16];
};

struct endpoint_value {
  __u32 ingress_slot;
  __u32 egress_slot;
  __u32 flags; /* ENDPOINT_WORKLOAD | ENDPOINT_HOST: whose address it is */
};

/* ifaces (hash): ifindex (0 = default: the all-interfaces host endpoint) -> forwarding slots.
 * The default entry exists whenever the node has a host endpoint (its slots NONE32 without a
 * `*` one); IFACE_HAS_NAMED on it says other entries exist. No default entry: no lookups. */
struct iface_value {
  __u32 fwd_in;  /* arrival: untracked, pre-DNAT and applyOnForward ingress tiers */
  __u32 fwd_out; /* departure: applyOnForward egress tiers */
  __u32 pre_in;  /* a workload's packet to its host: pre-DNAT tiers of the `*` endpoint */
  __u32 flags;
};

/* fwd_classes (LPM): (slot, version, side, address) -> class of a forwarding slot.
 * prefixlen = 72 + address prefix; family is 4/6 for sources, + FWD_CLASS_DST for destinations. */
struct fwd_class_key {
  __u32 prefixlen;
  __be32 slot;
  __be32 version;
  __u8 family;
  __u8 addr[16];
} __attribute__((packed));

/* slots (hash): slot id (u32) -> active version. */
struct slot_value {
  __u32 version;
  __u32 flags; /* SLOT_HAS_SPORT */
};

/* classes (LPM): peer address -> class id. prefixlen = 8 + address prefix. */
struct class_key {
  __u32 prefixlen;
  __u8 family;
  __u8 addr[16];
} __attribute__((packed));

/* sports (LPM): (slot, version, source port) -> source-port class. prefixlen = 64 + bits. */
struct sport_key {
  __u32 prefixlen;
  __be32 slot;
  __be32 version;
  __be16 sport;
} __attribute__((packed));

/* verdicts (LPM): (slot, version, class, sport class, proto<<16|port) -> verdict. prefixlen = 112 + bits. */
struct verdict_key {
  __u32 prefixlen;
  __be32 slot;
  __be32 version;
  __be32 cls;
  __be16 sport_class;
  __u8 proto;
  __be16 port;
} __attribute__((packed));

struct verdict_value {
  __u8 action;
  __u8 flags;
  __u16 tier;
  __u32 policy;
  __u16 rule;
  __u16 reserved;
};

/* conntrack (LRU hash): normalized 5-tuple, (addr, port) pairs ordered so that a <= b bytewise. */
struct ct_key {
  __u8 family;
  __u8 proto;
  __u16 pad;
  __u8 addr_a[16];
  __u8 addr_b[16];
  __be16 port_a;
  __be16 port_b;
};

struct ct_value {
  __u64 last_seen_ns;
  __u32 flags; /* CT_FLAG_CLOSING */
  __u32 reserved;
};

/* events (ring buffer): one record per logged or denied evaluated direction, and with
 * META_FLOW_LOGS per evaluated direction of every new flow. */
struct event {
  __u64 ts_ns;
  __u32 slot;
  __u32 policy;
  __u16 tier;
  __u16 rule;
  __u8 action;
  __u8 flags;
  __u8 direction; /* DIR_INGRESS | DIR_EGRESS */
  __u8 family;    /* 4 | 6 */
  __u8 proto;
  __u8 pad;
  __u16 len;   /* IP bytes (skb->len less the Ethernet header), capped at 65535 */
  __u16 sport; /* host order; ICMP: echo identifier or 0 */
  __u16 dport; /* host order; ICMP: type << 8 | code */
  __u8 src[16];
  __u8 dst[16];
};

/* counters (hash): per deciding (policy, rule, direction). */
struct counter_key {
  __u32 policy;
  __u16 rule;
  __u16 dir_flags; /* COUNTER_DIR_EGRESS */
};

struct counter_value {
  __u64 packets;
  __u64 bytes;
};

/* flowstats (LRU hash, META_FLOW_LOGS only): per tracked flow, keyed like conntrack, the packets
 * and bytes each way since the flow was created. `a` is the conntrack key's first (address,
 * port); FLOW_A_INITIATED says the first packet came from it. A packet between two local
 * endpoints meets the program twice (its sender's veth ingress, its receiver's veth egress), so
 * each direction is counted only on the interface that first saw it (`if_ab`, `if_ba`). Counts
 * are atomic adds: exact under concurrency, read by the flow source while the program writes. */
#define FLOW_A_INITIATED 1
#define FLOW_CLOSING 2
struct flow_stats {
  __u64 first_ns;
  __u64 last_ns;
  __u64 packets_ab;
  __u64 bytes_ab;
  __u64 packets_ba;
  __u64 bytes_ba;
  __u32 if_ab; /* ifindex that counts a -> b packets (0: not seen yet) */
  __u32 if_ba;
  __u32 flags; /* FLOW_A_INITIATED | FLOW_CLOSING */
  __u32 reserved;
};

/* event_lost (array, 1 entry): ring-buffer records the program could not reserve (the buffer
 * was full): the flow source reports them, they are never silently lost. */
struct event_lost_value {
  __u64 count;
};

/* meta (array, 1 entry): written by the TS dataplane. The program reads `flags` on the policy
 * path only, before it emits an event or inserts a conntrack entry: META_NO_CT_INSERT makes
 * every packet take the policy path (benchmarks measure the new-flow cost with
 * BPF_PROG_TEST_RUN repeats), META_NO_EVENTS silences the ring buffer (counters still count).
 * `generation` is for the TS side only. */
#define META_NO_CT_INSERT 1
#define META_NO_EVENTS 2
#define META_FLOW_LOGS 4 /* events for allowed new flows too, and flowstats counts */
struct meta_value {
  __u64 generation;
  __u32 flags;
  __u32 reserved;
};

_Static_assert(sizeof(struct endpoint_key) == 20, "endpoint key is 20 bytes");
_Static_assert(sizeof(struct endpoint_value) == 12, "endpoint value is 12 bytes");
_Static_assert(sizeof(struct iface_value) == 16, "iface value is 16 bytes");
_Static_assert(sizeof(struct fwd_class_key) == 29, "forwarding class key is 29 bytes");
_Static_assert(sizeof(struct slot_value) == 8, "slot value is 8 bytes");
_Static_assert(sizeof(struct class_key) == 21, "class key is 21 bytes");
_Static_assert(sizeof(struct sport_key) == 14, "sport key is 14 bytes");
_Static_assert(sizeof(struct verdict_key) == 21, "verdict key is 21 bytes");
_Static_assert(sizeof(struct verdict_value) == 12, "verdict value is 12 bytes");
_Static_assert(sizeof(struct ct_key) == 40, "conntrack key is 40 bytes");
_Static_assert(sizeof(struct ct_value) == 16, "conntrack value is 16 bytes");
_Static_assert(sizeof(struct event) == 64, "event is 64 bytes");
_Static_assert(sizeof(struct counter_key) == 8, "counter key is 8 bytes");
_Static_assert(sizeof(struct counter_value) == 16, "counter value is 16 bytes");
_Static_assert(sizeof(struct meta_value) == 16, "meta value is 16 bytes");
_Static_assert(sizeof(struct flow_stats) == 64, "flow stats value is 64 bytes");
_Static_assert(sizeof(struct event_lost_value) == 8, "event lost value is 8 bytes");

#endif /* GINGHAM_H */
