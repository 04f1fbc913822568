// record_size aggregates event sizes into a log2 histogram, as bcc's
// biosize and friends do: bucket b of the array map "sizes" counts the
// events with 2^b <= size < 2^(b+1) (sizes 0 and 1 go to bucket 0). Go reads
// the 64 counters once at the end instead of receiving every event.
#include "../../../testdata/include/ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

#define BUCKETS 64

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} sizes SEC(".maps");

// event is what the host hands the program for each I/O: 32 bytes, the
// amount a naive design would copy to user space per event.
struct event {
	__u64 timestamp_ns;
	__u32 pid;
	__u32 size;
	char comm[16];
};

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

// A syscall program in the kernel's terms: its context is the memory the
// caller passes (here, one event).
SEC("syscall")
int record_size(struct event *e)
{
	__u32 bucket = log2_u32(e->size);
	__u64 *count = bpf_map_lookup_elem(&sizes, &bucket);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}
