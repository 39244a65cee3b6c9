// tc program for the loader's tests: looks the IPv4 destination up in an LPM trie and returns the
// stored value (0xff when no prefix matches, 0xfe when the packet is not IPv4).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct lpm_v4 {
  __u32 prefixlen;
  __u32 addr;
};

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1024);
  __type(key, struct lpm_v4);
  __type(value, __u32);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} routes SEC(".maps");

SEC("tc")
int lpm_lookup(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return 0xfe;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end) return 0xfe;
  struct lpm_v4 key = {.prefixlen = 32, .addr = ip->daddr};
  __u32 *v = bpf_map_lookup_elem(&routes, &key);
  return v ? *v : 0xff;
}

char LICENSE[] SEC("license") = "GPL";
