// Benchmark reference (src/ebpf.bench.ts): the cheapest possible tc program. Its
// BPF_PROG_TEST_RUN time is the fixed cost of the harness (skb setup, program call), which every
// other row also pays. Must stay empty: no maps, no packet access.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int bench_empty(struct __sk_buff *skb) {
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
