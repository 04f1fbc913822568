// Global data: .rodata (const volatile configuration and a constant
// table), .data (initialised variables), .bss (zeroed variables) and a
// string literal in .rodata.str1.1.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 multiplier = 3;                             // .rodata
static const __u8 weights[8] = {1, 2, 3, 5, 8, 13, 21, 34};      // .rodata
__u32 counter = 10;                                              // .data
char greeting[8] = "hello";                                      // .data
__u64 total_len;                                                 // .bss
__u32 runs;                                                      // .bss

// globals increments counter, adds the packet length to total_len and
// returns counter*multiplier + weights[len & 7]: 11*3 + 1 = 34 for a
// 64-byte packet on fresh data.
SEC("socket")
int globals(struct __sk_buff *skb)
{
	counter++;
	runs++;
	total_len += skb->len;
	return counter * multiplier + weights[skb->len & 7];
}

// strings compares greeting with two literals: it returns 1 + 2 = 3 while
// greeting is "hello".
SEC("socket")
int strings(struct __sk_buff *skb)
{
	int ret = 0;
	if (bpf_strncmp(greeting, sizeof(greeting), "hello") == 0)
		ret += 1;
	if (bpf_strncmp(greeting, sizeof(greeting), "help") < 0)
		ret += 2;
	return ret;
}
