// bpf-to-bpf calls: static and global functions, nested calls, and two
// programs sharing a function.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

static __noinline __u64 add3(__u64 a, __u64 b, __u64 c)
{
	return a + b + c;
}

static __noinline __u64 twice_add3(__u64 x)
{
	return add3(x, x, x) * 2;
}

// A global function: the kernel verifies it once, on its own, from its
// BTF prototype.
__noinline int mul_add(int a, int b)
{
	return a * b + 1;
}

// subprog_calls returns add3(1, 2, len) + mul_add(4, 5) + twice_add3(len):
// 67 + 21 + 384 = 472 for a 64-byte packet.
SEC("socket")
int subprog_calls(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	return add3(1, 2, len) + mul_add(4, 5) + twice_add3(len);
}

// subprog_shared returns mul_add(len, 2): 129 for a 64-byte packet.
SEC("socket")
int subprog_shared(struct __sk_buff *skb)
{
	return mul_add(skb->len, 2);
}
