// A map defined the legacy way, in the "maps" section with struct
// bpf_map_def, as before BTF-defined maps.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 32,
	.map_flags = BPF_F_NO_PREALLOC,
};

// legacy_count counts packets per length in legacy_hash and returns the
// count for this packet's length (1 on a fresh map).
SEC("socket")
int legacy_count(struct __sk_buff *skb)
{
	__u32 key = skb->len;
	__u64 one = 1, *v = bpf_map_lookup_elem(&legacy_hash, &key);
	if (v) {
		__sync_fetch_and_add(v, 1);
		return *v;
	}
	bpf_map_update_elem(&legacy_hash, &key, &one, BPF_NOEXIST);
	return 1;
}
