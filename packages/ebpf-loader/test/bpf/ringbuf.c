// tc program for the loader's tests: writes {len, mark, seq} of every packet to a ring buffer,
// except packets with mark 7, whose reserved record is discarded.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct event {
  __u32 len;
  __u32 mark;
  __u64 seq;
};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} events SEC(".maps");

__u64 seq = 0;

SEC("tc")
int emit(struct __sk_buff *skb) {
  struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) return TC_ACT_OK;
  e->len = skb->len;
  e->mark = skb->mark;
  e->seq = __sync_fetch_and_add(&seq, 1);
  if (skb->mark == 7) bpf_ringbuf_discard(e, 0);
  else bpf_ringbuf_submit(e, 0);
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
