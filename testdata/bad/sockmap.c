// Unsupported: a map type ebpfvm has no user-space meaning for.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} socks SEC(".maps");

SEC("socket")
int sockmap(struct __sk_buff *skb)
{
	__u32 key = 0;
	return bpf_map_lookup_elem(&socks, &key) ? 1 : 0;
}
