// CO-RE relocations that ebpfvm resolves without kernel BTF: the structs
// here are declared with preserve_access_index, as vmlinux.h declares them,
// but they are types whose layout is fixed (the XDP context and wire-format
// headers), so the offsets the object was compiled with are the right ones.
#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
#include "ebpfvm.h"
#pragma clang attribute pop

char LICENSE[] SEC("license") = "GPL";

// core_ttl returns the IPv4 TTL of the packet, or 0 if it is not IPv4.
SEC("xdp")
int core_ttl(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return 0;
	return ip->ttl;
}
