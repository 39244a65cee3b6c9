// tc program for the loader's tests: counts packets per verdict in a hash map and drops IPv4 UDP
// to the destination port stored in an array map. Exercises BTF-defined maps (one pinned by
// name), a .rodata constant and a bpf-to-bpf call into .text.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pkt_count SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} drop_port SEC(".maps");

/* 0: passed, 1: dropped. */
const volatile __u32 drop_verdict = TC_ACT_SHOT;

static __attribute__((noinline)) int bump(__u32 key) {
  __u64 one = 1, *v = bpf_map_lookup_elem(&pkt_count, &key);
  if (v) {
    __sync_fetch_and_add(v, 1);
    return 0;
  }
  return bpf_map_update_elem(&pkt_count, &key, &one, BPF_NOEXIST);
}

SEC("tc")
int udp_drop(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) goto pass;
  struct iphdr *ip = (void *)(eth + 1);
  if ((void *)(ip + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP) goto pass;
  struct udphdr *udp = (void *)(ip + 1);
  if ((void *)(udp + 1) > end) goto pass;
  __u32 zero = 0, *port = bpf_map_lookup_elem(&drop_port, &zero);
  if (port && *port != 0 && bpf_ntohs(udp->dest) == *port) {
    bump(1);
    return drop_verdict;
  }
pass:
  bump(0);
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
