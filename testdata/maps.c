// Maps of several types, one socket filter program per type. Each program
// leaves the maps as it found them where it can, so repeated runs return the
// same value (the array, per-CPU array and LRU programs accumulate).
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} array_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} hash_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} percpu_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u32);
} lru_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} queue_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} stack_map SEC(".maps");

// array_ops adds 5 to array_map[3] and returns the new value.
SEC("socket")
int array_ops(struct __sk_buff *skb)
{
	__u32 key = 3;
	__u64 *v = bpf_map_lookup_elem(&array_map, &key);
	if (!v)
		return 0;
	__sync_fetch_and_add(v, 5);
	return *v;
}

// hash_ops stores k*10 under keys 1..4, deletes 2 and returns
// hash_map[3] + (key 2 absent): 31.
SEC("socket")
int hash_ops(struct __sk_buff *skb)
{
	__u64 ret = 0;
	__u32 key;
	// The counter stays in a register: the verifier bounds the loop by it,
	// which it could not through a stack slot passed to a helper.
	for (__u64 i = 1; i <= 4; i++) {
		__u64 val = i * 10;
		key = i;
		bpf_map_update_elem(&hash_map, &key, &val, BPF_ANY);
	}
	key = 2;
	bpf_map_delete_elem(&hash_map, &key);
	key = 3;
	__u64 *v = bpf_map_lookup_elem(&hash_map, &key);
	if (v)
		ret = *v;
	key = 2;
	if (!bpf_map_lookup_elem(&hash_map, &key))
		ret += 1;
	return ret;
}

// percpu_ops increments this CPU's percpu_map[0] and returns it.
SEC("socket")
int percpu_ops(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&percpu_map, &key);
	if (!v)
		return 0;
	*v += 1;
	return *v;
}

// lru_ops stores len*2 under the packet length and returns what it reads
// back.
SEC("socket")
int lru_ops(struct __sk_buff *skb)
{
	__u64 key = skb->len;
	__u32 val = skb->len * 2;
	if (bpf_map_update_elem(&lru_map, &key, &val, BPF_ANY))
		return 0;
	__u32 *v = bpf_map_lookup_elem(&lru_map, &key);
	return v ? *v : 0;
}

// queue_stack pushes 1, 2, 3 onto a queue and a stack, peeks, then pops
// everything: the queue yields 1 first and the stack 3, so it returns
// 100*peek(queue) + 10*first pop(queue) + first pop(stack) = 113.
SEC("socket")
int queue_stack(struct __sk_buff *skb)
{
	__u32 v, q = 0, s = 0, peek = 0;
	for (__u64 i = 1; i <= 3; i++) {
		v = i;
		bpf_map_push_elem(&queue_map, &v, 0);
		bpf_map_push_elem(&stack_map, &v, 0);
	}
	if (bpf_map_peek_elem(&queue_map, &v) == 0)
		peek = v;
	if (bpf_map_pop_elem(&queue_map, &v) == 0)
		q = v;
	if (bpf_map_pop_elem(&stack_map, &v) == 0)
		s = v;
	for (int i = 0; i < 2; i++) {
		bpf_map_pop_elem(&queue_map, &v);
		bpf_map_pop_elem(&stack_map, &v);
	}
	return peek * 100 + q * 10 + s;
}
