// Benchmark reference (src/ebpf.bench.ts): exactly one LPM-trie lookup of the packet's IPv4
// destination, in a trie with the layout of gingham's `classes` map (21-byte packed key:
// prefixlen u32, family u8, addr[16]; u32 value; BPF_F_NO_PREALLOC), then TC_ACT_OK. The bench
// fills the trie with the class entries of the 10,000-rule state, so the lookup walks a trie of
// the same shape as the datapath's. Must do nothing else (it is the unit of the new-flow ratio).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct class_key {
  __u32 prefixlen;
  __u8 family;
  __u8 addr[16];
} __attribute__((packed));

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 262144);
  __type(key, struct class_key);
  __type(value, __u32);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} bench_classes SEC(".maps");

/* Written so the verifier and clang cannot drop the lookup. */
__u32 bench_hits = 0;

SEC("tc")
int bench_lpm(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return TC_ACT_OK;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end) return TC_ACT_OK;
  struct class_key key = {.prefixlen = 8 + 32, .family = 4};
  __builtin_memcpy(key.addr, &ip->daddr, 4);
  __u32 *v = bpf_map_lookup_elem(&bench_classes, &key);
  if (v) bench_hits = *v;
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
