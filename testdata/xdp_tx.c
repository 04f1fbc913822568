// Packet rewriting in XDP: swap the Ethernet addresses, decrement the IPv4
// TTL with an incremental checksum update, and send the packet back.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

// xdp_tx returns XDP_TX (3) after rewriting, XDP_DROP (1) for an IPv4
// packet whose TTL would expire, XDP_ABORTED (0) for a packet shorter than
// an Ethernet header. A zeroed 64-byte packet comes back unchanged (its
// addresses are equal): XDP_TX.
SEC("xdp")
int xdp_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end)
			return XDP_ABORTED;
		if (ip->ttl <= 1)
			return XDP_DROP;
		ip->ttl--;
		// RFC 1141: the TTL is the high byte of its 16-bit word.
		__u32 sum = ip->check + bpf_htons(0x0100);
		ip->check = sum + (sum >> 16);
	}
	return XDP_TX;
}
