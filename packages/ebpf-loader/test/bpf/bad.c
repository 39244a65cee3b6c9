// A program the verifier must reject (dereferences a map lookup result without a NULL check);
// the loader's tests check that the verifier log is attached to the error.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} values SEC(".maps");

SEC("tc")
int unchecked(struct __sk_buff *skb) {
  __u32 key = 0;
  __u64 *v = bpf_map_lookup_elem(&values, &key);
  return (int)*v;
}

char LICENSE[] SEC("license") = "GPL";
