// A program array initialised in the object (__array(values)) and a tail
// call through it.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

struct jump_table {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, sizeof(__u32));
	__array(values, int(void *));
};

// A tentative definition, so that tail_entry comes first in the object
// (the first program is the default one) and the table's initialiser can
// follow the programs it names.
struct jump_table jump_table SEC(".maps");

// tail_entry jumps to jump_table[len & 1]: tail_even returns 100 and
// tail_odd 200. It returns 99 only if the tail call fails.
SEC("socket")
int tail_entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jump_table, skb->len & 1);
	return 99;
}

SEC("socket")
int tail_even(struct __sk_buff *skb)
{
	return 100;
}

SEC("socket")
int tail_odd(struct __sk_buff *skb)
{
	return 200;
}

struct jump_table jump_table SEC(".maps") = {
	.values = {
		[0] = (void *)&tail_even,
		[1] = (void *)&tail_odd,
	},
};
