// Ring buffer output: a record reserved and submitted, one reserved and
// discarded, and one copied with bpf_ringbuf_output.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct event {
	__u32 len;
	__u32 seq;
	__u64 magic;
};

// ringbuf_output writes two 16-byte records, {len, 1, 0xebbf00d} and
// {len, 2, 0xebbf00d}, and returns how many it wrote (2).
SEC("socket")
int ringbuf_output(struct __sk_buff *skb)
{
	int written = 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->len = skb->len;
		e->seq = 1;
		e->magic = 0xebbf00d;
		bpf_ringbuf_submit(e, 0);
		written++;
	}
	// Reserved, then thrown away: readers never see it.
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->seq = 99;
		bpf_ringbuf_discard(e, 0);
	}
	struct event copy = {.len = skb->len, .seq = 2, .magic = 0xebbf00d};
	if (bpf_ringbuf_output(&events, &copy, sizeof(copy), 0) == 0)
		written++;
	return written;
}
