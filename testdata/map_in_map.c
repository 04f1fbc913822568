// An array of maps whose slots are filled in the object.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_even SEC(".maps"), inner_odd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = {
		[0] = &inner_even,
		[1] = &inner_odd,
	},
};

// map_in_map increments element 0 of outer[len & 1] and returns
// 100*(len & 1) + the new value: 1 for an even length on fresh maps.
SEC("socket")
int map_in_map(struct __sk_buff *skb)
{
	__u32 idx = skb->len & 1, zero = 0;
	void *inner = bpf_map_lookup_elem(&outer, &idx);
	if (!inner)
		return 0;
	__u32 *v = bpf_map_lookup_elem(inner, &zero);
	if (!v)
		return 0;
	__sync_fetch_and_add(v, 1);
	return idx * 100 + *v;
}
