// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Gingham tc datapath: the program attached at tc ingress and egress of every workload and
 * host-endpoint interface. For each packet it evaluates both enforcement points by address
 * (egress of the source endpoint, ingress of the destination endpoint) with the same lookups
 * as src/simulate.ts, and keeps its own conntrack so only the first packet of a flow pays for
 * them. See docs/ebpf-datapath.md ("The C program") and the ABI in gingham.h.
 *
 * Design notes (the "why"):
 *  - The common packet (Ethernet with at most two VLAN tags, IPv4 or IPv6 without extension
 *    headers, L4 header in the linear area) is parsed with direct packet access: no helper
 *    calls, which is most of what parsing cost. Everything else (non-linear skbs, IPv6
 *    extension headers, malformed or truncated headers, the header inside an ICMP error) goes
 *    through parse_flow, which reads with bpf_skb_load_bytes at computed offsets: the helper
 *    checks bounds at run time, which keeps the verifier's job linear. Both fill the same flow.
 *  - A new flow reads the clock and meta only when it needs them (a conntrack entry, an event).
 *  - Policy cost is a fixed number of map lookups per direction (endpoints, slots, classes,
 *    [sports], verdicts); nothing here loops over rules, so the program is the same size and
 *    speed whatever the policy. A missing row is a compiler bug and drops (never allows).
 *  - Conntrack is keyed on a normalized tuple so both directions of a flow share one entry;
 *    entries are only created after both directions allowed the first packet, so a policy
 *    change never opens a flow that policy would deny, and never cuts an established one.
 *  - Forwarding (see docs/ebpf-datapath.md, "Forwarding"): where the packet comes from is
 *    skb->ingress_ifindex (0: the host sent it); where a packet arriving at an ingress hook goes
 *    is the destination endpoint's kind, else one FIB lookup (local delivery or the departure
 *    interface). Host endpoint checks of the arrival and departure interfaces come from the
 *    `ifaces` map (key 0: the all-interfaces endpoint). All of it only on the first packet.
 *  - The program never writes the seven policy maps; it only reads them. It writes conntrack,
 *    counters, the ring buffer and (flow logs) flowstats and event_lost, which survive program
 *    reloads (pinned by name).
 *  - Flow logs (META_FLOW_LOGS, off by default): an event for every evaluated direction of a new
 *    flow, not only Deny/Log, and packet/byte counts per tracked flow in flowstats (one more
 *    hash lookup and two atomic adds per established packet; measured in bench:flows).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "gingham.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define VLAN_MAX 2

#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_ICMPV6 58
#define P_SCTP 132

#define NH_HOPOPTS 0
#define NH_ROUTING 43
#define NH_FRAGMENT 44
#define NH_AH 51
#define NH_DSTOPTS 60
#define IPV6_EXT_MAX 8

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* ---- policy maps (not pinned by the object: the TS dataplane pins them per generation) ---- */

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, ENDPOINTS_MAX);
  __type(key, struct endpoint_key);
  __type(value, struct endpoint_value);
} endpoints SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SLOTS_MAX);
  __type(key, __u32);
  __type(value, struct slot_value);
} slots SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, CLASSES_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct class_key);
  __type(value, __u32);
} classes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, SPORTS_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct sport_key);
  __type(value, __u32);
} sports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, VERDICTS_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct verdict_key);
  __type(value, struct verdict_value);
} verdicts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, IFACES_MAX);
  __type(key, __u32);
  __type(value, struct iface_value);
} ifaces SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, FWD_CLASSES_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct fwd_class_key);
  __type(value, __u32);
} fwd_classes SEC(".maps");

/* ---- shared maps (pinned by name: they outlive program generations) ---- */

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, CONNTRACK_MAX);
  __type(key, struct ct_key);
  __type(value, struct ct_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} conntrack SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, EVENTS_BYTES);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, COUNTERS_MAX);
  __type(key, struct counter_key);
  __type(value, struct counter_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct meta_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} meta SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, FLOWSTATS_MAX);
  __type(key, struct ct_key);
  __type(value, struct flow_stats);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} flowstats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct event_lost_value);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} event_lost SEC(".maps");

/* A parsed packet. Addresses are 16 bytes (IPv4 in the first four); ports in network order. */
struct flow {
  __u8 src[16];
  __u8 dst[16];
  __u8 family;
  __u8 proto;
  __u8 icmp_type;
  __u8 icmp_code;
  __be16 sport; /* TCP/UDP/SCTP source port; ICMP echo: identifier */
  __be16 dport; /* TCP/UDP/SCTP destination port; ICMP echo: identifier */
  __u8 tcp_flags;
  __u8 fragment; /* non-first fragment: no L4 header */
  __u8 echo;     /* ICMP/ICMPv6 echo request or reply */
  __u8 pad;
} __attribute__((aligned(8))); /* stack reads of the addresses are word-aligned */

static __always_inline int port_proto(__u8 p) {
  return p == P_TCP || p == P_UDP || p == P_SCTP;
}

static __always_inline int icmp_proto(__u8 p) {
  return p == P_ICMP || p == P_ICMPV6;
}

/* IPv4 header at `off`. Returns the L4 offset, or -1 when malformed. */
static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 off, struct flow *f) {
  __u8 h[20];
  if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0) return -1;
  __u8 ihl = h[0] & 0x0f;
  if ((h[0] >> 4) != 4 || ihl < 5) return -1;
  f->family = 4;
  f->proto = h[9];
  if ((((__u16)h[6] << 8 | h[7]) & 0x1fff) != 0) f->fragment = 1;
  __builtin_memcpy(f->src, &h[12], 4);
  __builtin_memcpy(f->dst, &h[16], 4);
  return off + ihl * 4;
}

/* IPv6 header at `off`, skipping extension headers (bounded). Returns the L4 offset, or -1. */
static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off, struct flow *f) {
  __u8 h[8];
  if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0) return -1;
  if ((h[0] >> 4) != 6) return -1;
  if (bpf_skb_load_bytes(skb, off + 8, f->src, 16) < 0) return -1;
  if (bpf_skb_load_bytes(skb, off + 24, f->dst, 16) < 0) return -1;
  f->family = 6;
  __u8 nh = h[6];
  __u32 o = off + 40;
  for (int i = 0; i < IPV6_EXT_MAX; i++) {
    __u8 e[4];
    if (nh != NH_HOPOPTS && nh != NH_ROUTING && nh != NH_DSTOPTS && nh != NH_FRAGMENT && nh != NH_AH) {
      f->proto = nh;
      return o;
    }
    if (bpf_skb_load_bytes(skb, o, e, sizeof(e)) < 0) return -1;
    if (nh == NH_FRAGMENT) {
      if ((((__u16)e[2] << 8 | e[3]) & 0xfff8) != 0) f->fragment = 1;
      o += 8;
    } else if (nh == NH_AH) {
      o += ((__u32)e[1] + 2) * 4;
    } else {
      o += ((__u32)e[1] + 1) * 8;
    }
    nh = e[0];
  }
  return -1; /* more extension headers than we walk: cannot classify */
}

/* L4 ports / ICMP type, code and echo identifier. `outer` also reads the TCP flags (an
 * embedded header in an ICMP error carries only 8 bytes). Returns 0, or -1 when truncated. */
static __always_inline int parse_l4(struct __sk_buff *skb, __u32 off, struct flow *f, int outer) {
  if (f->fragment) return 0;
  if (port_proto(f->proto)) {
    __be16 p[2];
    if (bpf_skb_load_bytes(skb, off, p, sizeof(p)) < 0) return -1;
    f->sport = p[0];
    f->dport = p[1];
    if (outer && f->proto == P_TCP && bpf_skb_load_bytes(skb, off + 13, &f->tcp_flags, 1) < 0) return -1;
    return 0;
  }
  if (icmp_proto(f->proto)) {
    __u8 h[6];
    if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0) return -1;
    f->icmp_type = h[0];
    f->icmp_code = h[1];
    if ((f->proto == P_ICMP && (h[0] == 8 || h[0] == 0)) || (f->proto == P_ICMPV6 && (h[0] == 128 || h[0] == 129))) {
      f->echo = 1;
      __builtin_memcpy(&f->sport, &h[4], 2);
      f->dport = f->sport;
    }
  }
  return 0;
}

/* IP header of `family` at `off`, extension headers and L4 fields. A global function, so the
 * verifier checks it once (not once per caller path): it is used for the packet itself and for
 * the header embedded in an ICMP error. Returns the L4 offset, or -1 when malformed. */
__attribute__((noinline)) int parse_flow(struct __sk_buff *skb, __u32 off, __u32 family, struct flow *f, __u32 outer) {
  if (!f) return -1;
  int l4 = family == 4 ? parse_ipv4(skb, off, f) : parse_ipv6(skb, off, f);
  if (l4 < 0 || parse_l4(skb, l4, f, outer) < 0) return -1;
  return l4;
}

/* Fast path of parse_flow for the common case, with direct packet access (bounds-checked loads
 * from the linear area, no helper calls): untagged or VLAN-tagged (<= VLAN_MAX) Ethernet, IPv4
 * with any IHL, IPv6 without extension headers, and the L4 fields parse_l4 reads. It fills `f`
 * exactly as parse_flow would and returns the L4 offset; PARSE_NOT_IP for a non-IP frame (the
 * caller lets it pass); PARSE_SLOW for anything else (a non-linear or short skb, an IPv6
 * extension header, a malformed header), which then takes the bpf_skb_load_bytes path, where
 * malformed headers are dropped. */
#define PARSE_NOT_IP -2
#define PARSE_SLOW -1
static __always_inline int parse_direct(struct __sk_buff *skb, struct flow *f) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  if (data + ETH_HLEN > end) return PARSE_SLOW;
  __be16 eth_proto = *(__be16 *)(data + 12);
  __u32 off = ETH_HLEN;
#pragma unroll
  for (int i = 0; i < VLAN_MAX; i++) {
    if (eth_proto != bpf_htons(ETH_P_8021Q) && eth_proto != bpf_htons(ETH_P_8021AD)) break;
    if (data + off + 4 > end) return PARSE_SLOW;
    eth_proto = *(__be16 *)(data + off + 2);
    off += 4;
  }
  __u8 *l4;
  __u32 l4off;
  if (eth_proto == bpf_htons(ETH_P_IP)) {
    __u8 *ip = data + off;
    if ((void *)(ip + 20) > end) return PARSE_SLOW;
    __u8 vihl = ip[0];
    __u32 ihl = vihl & 0x0f;
    if ((vihl >> 4) != 4 || ihl < 5) return PARSE_SLOW;
    f->family = 4;
    f->proto = ip[9];
    if ((*(__be16 *)(ip + 6) & bpf_htons(0x1fff)) != 0) f->fragment = 1;
    *(__u32 *)f->src = *(__u32 *)(ip + 12);
    *(__u32 *)f->dst = *(__u32 *)(ip + 16);
    l4off = off + ihl * 4;
    l4 = data + l4off;
  } else if (eth_proto == bpf_htons(ETH_P_IPV6)) {
    __u8 *ip = data + off;
    if ((void *)(ip + 40) > end) return PARSE_SLOW;
    if ((ip[0] >> 4) != 6) return PARSE_SLOW;
    __u8 nh = ip[6];
    if (nh == NH_HOPOPTS || nh == NH_ROUTING || nh == NH_DSTOPTS || nh == NH_FRAGMENT || nh == NH_AH) return PARSE_SLOW;
    f->family = 6;
    f->proto = nh;
    /* Word loads: a memcpy from the packet goes byte by byte. Like the IPv4 loads above they
     * may be unaligned, which the verifier allows where the CPU does (x86-64, arm64). */
#pragma unroll
    for (int i = 0; i < 4; i++) {
      ((__u32 *)f->src)[i] = *(__u32 *)(ip + 8 + 4 * i);
      ((__u32 *)f->dst)[i] = *(__u32 *)(ip + 24 + 4 * i);
    }
    l4off = off + 40;
    l4 = data + l4off;
  } else {
    return PARSE_NOT_IP;
  }
  if (!f->fragment) {
    if (port_proto(f->proto)) {
      if (f->proto == P_TCP) {
        if ((void *)(l4 + 14) > end) return PARSE_SLOW;
        f->tcp_flags = l4[13];
      } else if ((void *)(l4 + 4) > end) {
        return PARSE_SLOW;
      }
      f->sport = *(__be16 *)l4;
      f->dport = *(__be16 *)(l4 + 2);
    } else if (icmp_proto(f->proto)) {
      if ((void *)(l4 + 6) > end) return PARSE_SLOW;
      __u8 t = l4[0];
      f->icmp_type = t;
      f->icmp_code = l4[1];
      if ((f->proto == P_ICMP && (t == 8 || t == 0)) || (f->proto == P_ICMPV6 && (t == 128 || t == 129))) {
        f->echo = 1;
        f->sport = *(__be16 *)(l4 + 4);
        f->dport = f->sport;
      }
    }
  }
  return l4off;
}

/* ICMPv6 neighbour discovery, router solicitation/advertisement, redirect and MLD. */
static __always_inline int icmp6_control(const struct flow *f) {
  return f->family == 6 && f->proto == P_ICMPV6 && !f->fragment &&
         ((f->icmp_type >= 130 && f->icmp_type <= 137) || f->icmp_type == 143);
}

/* ICMP errors that embed the header of the datagram they are about. */
static __always_inline int icmp_error(const struct flow *f) {
  if (f->fragment) return 0;
  if (f->family == 4 && f->proto == P_ICMP) return f->icmp_type == 3 || f->icmp_type == 11 || f->icmp_type == 12;
  if (f->family == 6 && f->proto == P_ICMPV6) return f->icmp_type >= 1 && f->icmp_type <= 4;
  return 0;
}

/* -1, 0, 1 as a bytewise comparison of two 16-byte addresses. */
static __always_inline int addr_cmp(const __u8 *a, const __u8 *b) {
#pragma unroll
  for (int i = 0; i < 16; i += 4) {
    __u32 x = bpf_ntohl(*(const __u32 *)(a + i));
    __u32 y = bpf_ntohl(*(const __u32 *)(b + i));
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/* The normalized conntrack key: (addr, port) pairs ordered so that a <= b bytewise. Returns 1
 * when the packet's source is `a`. */
static __always_inline int ct_key_make(struct ct_key *k, const struct flow *f) {
  __be16 ps = 0, pd = 0;
  if (port_proto(f->proto) || f->echo) {
    ps = f->sport;
    pd = f->dport;
  }
  int c = addr_cmp(f->src, f->dst);
  if (c == 0) c = bpf_ntohs(ps) < bpf_ntohs(pd) ? -1 : bpf_ntohs(ps) > bpf_ntohs(pd) ? 1 : 0;
  k->family = f->family;
  k->proto = f->proto;
  k->pad = 0;
  if (c <= 0) {
    __builtin_memcpy(k->addr_a, f->src, 16);
    __builtin_memcpy(k->addr_b, f->dst, 16);
    k->port_a = ps;
    k->port_b = pd;
  } else {
    __builtin_memcpy(k->addr_a, f->dst, 16);
    __builtin_memcpy(k->addr_b, f->src, 16);
    k->port_a = pd;
    k->port_b = ps;
  }
  return c <= 0;
}

static __always_inline __u64 ct_timeout(__u8 proto, __u32 flags) {
  if (proto == P_TCP) return (flags & CT_FLAG_CLOSING) ? CT_TIMEOUT_TCP_CLOSING : CT_TIMEOUT_TCP;
  if (proto == P_UDP) return CT_TIMEOUT_UDP;
  if (icmp_proto(proto)) return CT_TIMEOUT_ICMP;
  return CT_TIMEOUT_OTHER;
}

/* The conntrack clock: CLOCK_MONOTONIC at tick resolution (bpf_ktime_get_coarse_ns, a memory
 * read rather than a clock-source read: ~20 ns less per established packet on the dev VM). The
 * timeouts are seconds, so a few milliseconds of resolution do not matter; the base is the one
 * bpf_ktime_get_ns and the TS side use. Events keep the precise clock. */
static __always_inline __u64 ct_now(void) {
  return bpf_ktime_get_coarse_ns();
}

static __always_inline int ct_live(const struct ct_value *v, __u8 proto, __u64 now) {
  __u64 last = v->last_seen_ns;
  return now <= last || now - last < ct_timeout(proto, v->flags);
}

/* meta[0].flags (0 if the map is somehow empty). An array lookup, inlined by the verifier. */
static __always_inline __u32 meta_flags(void) {
  __u32 zero = 0;
  struct meta_value *m = bpf_map_lookup_elem(&meta, &zero);
  return m ? m->flags : 0;
}

/* Flow logs count IP bytes, as conntrack does: the packet less its Ethernet header. */
static __always_inline __u32 ip_bytes(struct __sk_buff *skb) {
  return skb->len > ETH_HLEN ? skb->len - ETH_HLEN : 0;
}

/* Flow logs: one more packet of a tracked flow (`src_is_a`: it goes a -> b). */
static __always_inline void flow_count(const struct ct_key *k, int src_is_a, __u32 ifindex, __u32 len, __u8 tcp_flags, __u64 now) {
  struct flow_stats *s = bpf_map_lookup_elem(&flowstats, k);
  if (!s) return;
  __u32 *counter_if = src_is_a ? &s->if_ab : &s->if_ba;
  if (*counter_if == 0) *counter_if = ifindex; /* the direction's first packet: one hook, one CPU */
  if (*counter_if != ifindex) return; /* counted where this direction was first seen */
  if (src_is_a) {
    __sync_fetch_and_add(&s->packets_ab, 1);
    __sync_fetch_and_add(&s->bytes_ab, len);
  } else {
    __sync_fetch_and_add(&s->packets_ba, 1);
    __sync_fetch_and_add(&s->bytes_ba, len);
  }
  if ((tcp_flags & (TCP_FIN | TCP_RST)) && !(s->flags & FLOW_CLOSING)) s->flags |= FLOW_CLOSING;
  if (now > s->last_ns) s->last_ns = now;
}

/* Established flow: refresh it (at most once a second), note TCP FIN/RST. The clock is read
 * only on a hit: a new flow needs it only for a conntrack entry or an event. */
static __always_inline int ct_established(struct __sk_buff *skb, const struct flow *f) {
  struct ct_key k __attribute__((aligned(8))); /* word copies in ct_key_make */
  int src_is_a = ct_key_make(&k, f);
  struct ct_value *v = bpf_map_lookup_elem(&conntrack, &k);
  if (!v) return 0;
  __u64 now = ct_now();
  if (!ct_live(v, f->proto, now)) return 0;
  /* A bare SYN on a closing entry (FIN or RST seen) opens a new connection on a recycled
   * 5-tuple: it is decided by policy again, as Linux conntrack re-opens a closed connection as
   * NEW, never by the old flow's verdict (a client reuses a source port at once when the server
   * closed first; without this a deny would not hold for that port for CT_TIMEOUT_TCP_CLOSING).
   * Allowed, ct_create replaces the entry. */
  if (f->proto == P_TCP && (f->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN && (v->flags & CT_FLAG_CLOSING)) return 0;
  if (f->proto == P_TCP && (f->tcp_flags & (TCP_FIN | TCP_RST)) && !(v->flags & CT_FLAG_CLOSING))
    v->flags |= CT_FLAG_CLOSING; /* idempotent, so a racing plain write is fine */
  if (now > v->last_seen_ns + CT_REFRESH_NS) v->last_seen_ns = now;
  if (meta_flags() & META_FLOW_LOGS) flow_count(&k, src_is_a, skb->ifindex, ip_bytes(skb), f->proto == P_TCP ? f->tcp_flags : 0, now);
  return 1;
}

/* An ICMP error whose embedded header belongs to a live conntrack entry. */
static __always_inline int ct_related(struct __sk_buff *skb, const struct flow *f, __u32 l4) {
  struct flow inner;
  __builtin_memset(&inner, 0, sizeof(inner));
  if (parse_flow(skb, l4 + 8, f->family, &inner, 0) < 0) return 0;
  struct ct_key k __attribute__((aligned(8)));
  ct_key_make(&k, &inner);
  struct ct_value *v = bpf_map_lookup_elem(&conntrack, &k);
  return v && ct_live(v, inner.proto, ct_now());
}

static __always_inline void ct_create(const struct flow *f, __u32 mflags, __u32 ifindex, __u32 len) {
  __u64 now = ct_now();
  struct ct_key k __attribute__((aligned(8))); /* word copies in ct_key_make */
  int src_is_a = ct_key_make(&k, f);
  int closing = f->proto == P_TCP && (f->tcp_flags & (TCP_FIN | TCP_RST));
  struct ct_value v = {
    .last_seen_ns = now,
    .flags = closing ? CT_FLAG_CLOSING : 0,
    .reserved = 0,
  };
  bpf_map_update_elem(&conntrack, &k, &v, BPF_ANY);
  if (mflags & META_FLOW_LOGS) {
    /* The first packet counts; a flow re-created (expired, or evicted) starts from zero. */
    struct flow_stats s = {
      .first_ns = now,
      .last_ns = now,
      .packets_ab = src_is_a ? 1 : 0,
      .bytes_ab = src_is_a ? len : 0,
      .packets_ba = src_is_a ? 0 : 1,
      .bytes_ba = src_is_a ? 0 : len,
      .if_ab = src_is_a ? ifindex : 0,
      .if_ba = src_is_a ? 0 : ifindex,
      .flags = (src_is_a ? FLOW_A_INITIATED : 0) | (closing ? FLOW_CLOSING : 0),
      .reserved = 0,
    };
    bpf_map_update_elem(&flowstats, &k, &s, BPF_ANY);
  }
}

static __always_inline void count(const struct verdict_value *v, int egress, __u32 len) {
  struct counter_key k = { .policy = v->policy, .rule = v->rule, .dir_flags = egress ? COUNTER_DIR_EGRESS : 0 };
  struct counter_value *c = bpf_map_lookup_elem(&counters, &k);
  if (!c) {
    struct counter_value zero = { 0, 0 };
    bpf_map_update_elem(&counters, &k, &zero, BPF_NOEXIST);
    c = bpf_map_lookup_elem(&counters, &k);
    if (!c) return;
  }
  __sync_fetch_and_add(&c->packets, 1);
  __sync_fetch_and_add(&c->bytes, len);
}

static __always_inline void emit(const struct flow *f, const struct verdict_value *v, __u32 slot, int egress, __u32 len) {
  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    __u32 zero = 0;
    struct event_lost_value *l = bpf_map_lookup_elem(&event_lost, &zero);
    if (l) __sync_fetch_and_add(&l->count, 1);
    return;
  }
  e->ts_ns = bpf_ktime_get_ns();
  e->slot = slot;
  e->policy = v->policy;
  e->tier = v->tier;
  e->rule = v->rule;
  e->action = v->action;
  e->flags = v->flags;
  e->direction = egress ? DIR_EGRESS : DIR_INGRESS;
  e->family = f->family;
  e->proto = f->proto;
  e->pad = 0;
  e->len = len > 0xffff ? 0xffff : len;
  if (icmp_proto(f->proto)) {
    e->sport = f->echo ? bpf_ntohs(f->sport) : 0;
    e->dport = (__u16)f->icmp_type << 8 | f->icmp_code;
  } else {
    e->sport = bpf_ntohs(f->sport);
    e->dport = bpf_ntohs(f->dport);
  }
  __builtin_memcpy(e->src, f->src, 16);
  __builtin_memcpy(e->dst, f->dst, 16);
  bpf_ringbuf_submit(e, 0);
}

/* The row of `slot` (under its active version) for class `cls`, the packet's source-port class
 * and protocol/port; a failed lookup leaves the synthetic deny in `v`. */
static __always_inline void lookup_verdict(const struct flow *f, __u32 slot, __u32 version, __u32 sflags, __u32 cls, struct verdict_value *v) {
  __u32 sport_class = 0;
  if ((sflags & SLOT_HAS_SPORT) && port_proto(f->proto)) {
    struct sport_key sk = { .prefixlen = SPORT_FULL_BITS, .slot = bpf_htonl(slot), .version = bpf_htonl(version), .sport = f->sport };
    __u32 *sc = bpf_map_lookup_elem(&sports, &sk);
    if (!sc) return;
    sport_class = *sc;
  }
  __u16 port = 0;
  if (port_proto(f->proto)) port = bpf_ntohs(f->dport);
  else if (icmp_proto(f->proto)) port = (__u16)f->icmp_type << 8 | f->icmp_code;
  struct verdict_key vk = {
    .prefixlen = VERDICT_FULL_BITS,
    .slot = bpf_htonl(slot),
    .version = bpf_htonl(version),
    .cls = bpf_htonl(cls),
    .sport_class = bpf_htons((__u16)sport_class),
    .proto = f->proto,
    .port = bpf_htons(port),
  };
  struct verdict_value *vv = bpf_map_lookup_elem(&verdicts, &vk);
  if (vv) *v = *vv;
}

/* Counts, logs, and turns a verdict into 0 (drop), 1 (allow) or 2 (allow without tracking:
 * decided by a doNotTrack policy; as in Calico, such a flow gets no conntrack entry, so its
 * replies meet policy too). */
static __always_inline int conclude(struct __sk_buff *skb, const struct flow *f, const struct verdict_value *v, __u32 slot, int egress) {
  if (v->policy != NONE32) count(v, egress, skb->len);
  __u32 mflags = meta_flags();
  if (!(mflags & META_NO_EVENTS) && ((v->flags & FLAG_LOG) || v->action == ACTION_DENY || (mflags & META_FLOW_LOGS))) emit(f, v, slot, egress, ip_bytes(skb));
  if (v->action != ACTION_ALLOW) return 0;
  return (v->flags & FLAG_UNTRACKED) ? 2 : 1;
}

/* One enforcement point: egress of the source endpoint or ingress of the destination endpoint
 * (`ep`: its endpoints entry, NULL when the address is no endpoint: no policy on that side).
 * Inlined into both call sites (egress, ingress): ~18 ns less per new flow than a global
 * function, for ~3x the verifier steps (parse_flow stays global, inlining it would take 430k). */
static __always_inline int enforce(struct __sk_buff *skb, const struct flow *f, const struct endpoint_value *ep, int egress) {
  if (!ep) return 1;
  const __u8 *peer = egress ? f->dst : f->src;
  __u32 slot = egress ? ep->egress_slot : ep->ingress_slot;
  /* A failed lookup leaves this synthetic deny (no policy, so it is never counted). */
  struct verdict_value v = { .action = ACTION_DENY, .flags = 0, .tier = NONE16, .policy = NONE32, .rule = NONE16, .reserved = 0 };
  struct slot_value *sv = bpf_map_lookup_elem(&slots, &slot);
  if (sv) {
    __u32 version = sv->version;
    __u32 sflags = sv->flags;
    struct class_key ck;
    ck.prefixlen = CLASS_FAMILY_BITS + (f->family == 4 ? 32 : 128);
    ck.family = f->family;
    __builtin_memcpy(ck.addr, peer, 16);
    __u32 *cls = bpf_map_lookup_elem(&classes, &ck);
    if (cls) lookup_verdict(f, slot, version, sflags, *cls, &v);
  }
  return conclude(skb, f, &v, slot, egress);
}

/* A host endpoint's forwarding check (`slot` from `ifaces`; NONE32: none, allowed): both
 * addresses classified with the slot version's own classes, class = src << 16 | dst. A global
 * function: verified once for its three call sites. `egress`: departure (for events/counters). */
__attribute__((noinline)) int forward_check(struct __sk_buff *skb, struct flow *f, __u32 slot, __u32 egress) {
  if (!f || !skb) return 0;
  if (slot == NONE32) return 1;
  struct verdict_value v = { .action = ACTION_DENY, .flags = FLAG_FORWARD, .tier = NONE16, .policy = NONE32, .rule = NONE16, .reserved = 0 };
  struct slot_value *sv = bpf_map_lookup_elem(&slots, &slot);
  if (sv) {
    __u32 version = sv->version;
    __u32 sflags = sv->flags;
    struct fwd_class_key k;
    k.prefixlen = FWD_CLASS_HEAD_BITS + (f->family == 4 ? 32 : 128);
    k.slot = bpf_htonl(slot);
    k.version = bpf_htonl(version);
    k.family = f->family;
    __builtin_memcpy(k.addr, f->src, 16);
    __u32 *sc = bpf_map_lookup_elem(&fwd_classes, &k);
    if (sc) {
      __u32 src_class = *sc;
      k.family = f->family + FWD_CLASS_DST;
      __builtin_memcpy(k.addr, f->dst, 16);
      __u32 *dc = bpf_map_lookup_elem(&fwd_classes, &k);
      if (dc) lookup_verdict(f, slot, version, sflags, (src_class << 16) | (*dc & 0xffff), &v);
    }
  }
  return conclude(skb, f, &v, slot, egress);
}

/* The forwarding slots of an interface: its own entry (only looked up when the default entry
 * says some exist), else the default (`dflt`, key 0). */
static __always_inline struct iface_value *iface_of(struct iface_value *dflt, __u32 ifindex) {
  if (!dflt || !(dflt->flags & IFACE_HAS_NAMED)) return dflt;
  struct iface_value *i = bpf_map_lookup_elem(&ifaces, &ifindex);
  return i ? i : dflt;
}

#define TO_WORKLOAD 1
#define TO_HOST 2
#define TO_REMOTE 3
#define AF_INET 2
#define AF_INET6 10

/* Where a packet arriving at an ingress hook for an address that is no endpoint goes: the host
 * (local delivery, or not forwardable from here) or out of `*out_if` (0: unknown). */
static __always_inline int route(struct __sk_buff *skb, const struct flow *f, __u32 *out_if) {
  struct bpf_fib_lookup fib;
  __builtin_memset(&fib, 0, sizeof(fib));
  fib.ifindex = skb->ingress_ifindex;
  fib.l4_protocol = f->proto;
  if (port_proto(f->proto)) {
    fib.sport = f->sport;
    fib.dport = f->dport;
  }
  if (f->family == 4) {
    fib.family = AF_INET;
    __builtin_memcpy(&fib.ipv4_src, f->src, 4);
    __builtin_memcpy(&fib.ipv4_dst, f->dst, 4);
  } else {
    fib.family = AF_INET6;
    __builtin_memcpy(fib.ipv6_src, f->src, 16);
    __builtin_memcpy(fib.ipv6_dst, f->dst, 16);
  }
  long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH);
  if (rc == BPF_FIB_LKUP_RET_NOT_FWDED || rc == BPF_FIB_LKUP_RET_FWD_DISABLED || rc < 0) return TO_HOST;
  *out_if = (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH || rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) ? fib.ifindex : 0;
  return TO_REMOTE;
}

SEC("tc")
int gingham_tc(struct __sk_buff *skb) {
  struct flow f;
  __builtin_memset(&f, 0, sizeof(f));
  int l4 = parse_direct(skb, &f);
  if (l4 == PARSE_NOT_IP) return TC_ACT_OK; /* ARP and other non-IP traffic */
  if (l4 == PARSE_SLOW) {
    /* Not in the linear area, or unusual: the same parse through bpf_skb_load_bytes. */
    __builtin_memset(&f, 0, sizeof(f));
    __be16 eth_proto;
    __u32 off = ETH_HLEN;
    if (bpf_skb_load_bytes(skb, 12, &eth_proto, sizeof(eth_proto)) < 0) return TC_ACT_OK;
#pragma unroll
    for (int i = 0; i < VLAN_MAX; i++) {
      if (eth_proto != bpf_htons(ETH_P_8021Q) && eth_proto != bpf_htons(ETH_P_8021AD)) break;
      if (bpf_skb_load_bytes(skb, off + 2, &eth_proto, sizeof(eth_proto)) < 0) return TC_ACT_SHOT;
      off += 4;
    }
    __u32 family;
    if (eth_proto == bpf_htons(ETH_P_IP)) family = 4;
    else if (eth_proto == bpf_htons(ETH_P_IPV6)) family = 6;
    else return TC_ACT_OK; /* ARP and other non-IP traffic */
    l4 = parse_flow(skb, off, family, &f, 1);
    if (l4 < 0) return TC_ACT_SHOT; /* malformed IP: never guess */
  }
  if (icmp6_control(&f)) return TC_ACT_OK;

  if (ct_established(skb, &f)) return TC_ACT_OK;
  int err = icmp_error(&f);
  if (err && ct_related(skb, &f, l4)) return TC_ACT_OK;

  struct endpoint_key ek;
  __builtin_memset(&ek, 0, sizeof(ek));
  ek.family = f.family;
  __builtin_memcpy(ek.addr, f.src, 16);
  struct endpoint_value *sep = bpf_map_lookup_elem(&endpoints, &ek);
  __builtin_memcpy(ek.addr, f.dst, 16);
  struct endpoint_value *dep = bpf_map_lookup_elem(&endpoints, &ek);

  /* Which checks run: the forwarding slot of the arrival interface (`first`), the two endpoints,
   * the forwarding slot of the departure interface (`last`). One call site each keeps the
   * program small (enforce is inlined). */
  __u32 first = NONE32, last = NONE32;
  int check_egress = 1, check_ingress = 1;
  __u32 iif = skb->ingress_ifindex;
  if (iif == 0) {
    /* Sent by the host itself: to its own workload, never policed (as Felix). */
    if (dep && (dep->flags & ENDPOINT_WORKLOAD)) check_egress = check_ingress = 0;
  } else {
    int to;
    __u32 out_if = 0;
    if (dep) to = (dep->flags & ENDPOINT_WORKLOAD) ? TO_WORKLOAD : TO_HOST;
    else if (iif == skb->ifindex) to = route(skb, &f, &out_if);
    else {
      to = TO_REMOTE;
      out_if = skb->ifindex;
    }
    __u32 zero = 0;
    struct iface_value *dflt = bpf_map_lookup_elem(&ifaces, &zero);
    struct iface_value *arrival = iface_of(dflt, iif);
    if (to == TO_HOST) {
      /* A workload to its host: the `*` endpoint's pre-DNAT check, its egress, then accepted. */
      if (sep && (sep->flags & ENDPOINT_WORKLOAD)) {
        first = arrival ? arrival->pre_in : NONE32;
        check_ingress = 0;
      }
    } else {
      /* Forwarded: arrival interface's host endpoint, both endpoints, departure interface's. */
      first = arrival ? arrival->fwd_in : NONE32;
      struct iface_value *departure = to == TO_WORKLOAD ? dflt : out_if ? iface_of(dflt, out_if) : 0;
      last = departure ? departure->fwd_out : NONE32;
    }
  }
  int fin = first == NONE32 ? 1 : forward_check(skb, &f, first, 0);
  if (!fin) return TC_ACT_SHOT;
  int out = check_egress ? enforce(skb, &f, sep, 1) : 1;
  if (!out) return TC_ACT_SHOT;
  int in = check_ingress ? enforce(skb, &f, dep, 0) : 1;
  if (!in) return TC_ACT_SHOT;
  int fout = last == NONE32 ? 1 : forward_check(skb, &f, last, 1);
  if (!fout) return TC_ACT_SHOT;
  if (out == 2 || in == 2 || fin == 2 || fout == 2) return TC_ACT_OK; /* untracked: no conntrack entry */

  /* Track the flow; not for errors, non-echo ICMP or non-first fragments (no ports). */
  __u32 mflags = meta_flags();
  if (!f.fragment && !err && (!icmp_proto(f.proto) || f.echo) && !(mflags & META_NO_CT_INSERT)) ct_create(&f, mflags, skb->ifindex, ip_bytes(skb));
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
