// Loops: a bounded for loop the verifier walks, and bpf_loop with a
// callback.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

// loop_for hashes the first 32 bytes of the packet with FNV-1a, stopping
// early at a 0xff byte, and returns the hash xor the number of bytes
// hashed. The loop is kept a loop (not unrolled) so that the verifier
// meets a back edge.
SEC("socket")
int loop_for(struct __sk_buff *skb)
{
	__u8 buf[32];
	if (bpf_skb_load_bytes(skb, 0, buf, sizeof(buf)) < 0)
		return 0;
	__u32 h = 2166136261u, i;
#pragma clang loop unroll(disable)
	for (i = 0; i < sizeof(buf); i++) {
		if (buf[i] == 0xff)
			break;
		h = (h ^ buf[i]) * 16777619u;
	}
	return h ^ i;
}

struct loop_state {
	__u64 sum;
	__u32 limit;
};

static long sum_squares(__u32 i, void *data)
{
	struct loop_state *s = data;
	s->sum += (__u64)i * i;
	return i + 1 >= s->limit; // 1 stops the loop
}

// loop_bpf_loop sums i*i for i < 20 through bpf_loop (which the callback
// stops after 20 of 100 iterations) and returns sum*1000 + iterations:
// 2470*1000 + 20 = 2470020.
SEC("socket")
int loop_bpf_loop(struct __sk_buff *skb)
{
	struct loop_state s = {.sum = 0, .limit = 20};
	long n = bpf_loop(100, sum_squares, &s, 0);
	if (n < 0)
		return 0;
	return s.sum * 1000 + n;
}
