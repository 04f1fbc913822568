// Packet parsing in XDP: Ethernet, IPv4 (with options), IPv6, TCP, UDP,
// ICMP. Counts packets per protocol and drops the blocked ports.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

// Indexes of proto_stats.
enum {
	STAT_OTHER,     // not IPv4 or IPv6
	STAT_IPV4,
	STAT_IPV6,
	STAT_TCP,
	STAT_UDP,
	STAT_ICMP,      // ICMP or ICMPv6
	STAT_BLOCKED,   // dropped for its port
	STAT_MALFORMED, // dropped for truncated headers
	STAT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} proto_stats SEC(".maps");

// Destination ports to drop, set before loading.
const volatile __u16 blocked_tcp_port = 23;
const volatile __u16 blocked_udp_port = 9;

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&proto_stats, &idx);
	if (v)
		__sync_fetch_and_add(v, 1);
}

// xdp_parse returns XDP_DROP (1) for truncated headers and blocked ports,
// else XDP_PASS (2). A zeroed 64-byte packet has EtherType 0: "other",
// passed.
SEC("xdp")
int xdp_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l4;
	__u8 proto;

	if ((void *)(eth + 1) > data_end)
		goto malformed;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > data_end || ip->ihl < 5)
			goto malformed;
		count(STAT_IPV4);
		l4 = (void *)ip + ip->ihl * 4;
		proto = ip->protocol;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			goto malformed;
		count(STAT_IPV6);
		l4 = ip6 + 1;
		proto = ip6->nexthdr;
	} else {
		count(STAT_OTHER);
		return XDP_PASS;
	}

	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) > data_end)
			goto malformed;
		count(STAT_TCP);
		if (tcp->dest == bpf_htons(blocked_tcp_port))
			goto blocked;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) > data_end)
			goto malformed;
		count(STAT_UDP);
		if (udp->dest == bpf_htons(blocked_udp_port))
			goto blocked;
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		count(STAT_ICMP);
	}
	return XDP_PASS;

blocked:
	count(STAT_BLOCKED);
	return XDP_DROP;
malformed:
	count(STAT_MALFORMED);
	return XDP_DROP;
}
