// A log2 histogram in an array map keyed by bucket: bucket b counts the
// values v with 2^b <= v < 2^(b+1) (0 and 1 go to bucket 0), as bcc's
// bpf_log2l does. The examples/histogram example reuses it.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

#define HIST_BUCKETS 64

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HIST_BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;
	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 hi = v >> 32;
	if (hi)
		return log2_u32(hi) + 32;
	return log2_u32(v);
}

static __always_inline __u32 record(__u64 value)
{
	__u32 bucket = log2_u64(value);
	if (bucket >= HIST_BUCKETS)
		bucket = HIST_BUCKETS - 1;
	__u64 *count = bpf_map_lookup_elem(&hist, &bucket);
	if (count)
		__sync_fetch_and_add(count, 1);
	return bucket;
}

// hist_skb records the packet length and returns its bucket (6 for 64
// bytes).
SEC("socket")
int hist_skb(struct __sk_buff *skb)
{
	return record(skb->len);
}

// event is the context of hist_event: one event whose size is recorded.
struct event {
	__u64 size;
};

// hist_event records ctx->size and returns its bucket (0 for a zeroed
// context). A syscall program in the kernel: its context is whatever
// memory the caller passes, like an ebpfvm hook's.
SEC("syscall")
int hist_event(struct event *e)
{
	return record(e->size);
}
