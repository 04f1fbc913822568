// filter is an XDP firewall: it drops TCP and UDP packets to the ports in
// the "blocked" map (filled by the host) and passes everything else,
// counting packets per protocol and verdict in the per-CPU array "stats".
#include "../../../testdata/include/ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

// stats keys: protocol * 2 + (dropped ? 1 : 0).
enum { P_OTHER, P_ARP, P_TCP, P_UDP, P_ICMP, P_ICMPV6, P_IPV6_OTHER, P_IPV4_OTHER, P_COUNT };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, P_COUNT * 2);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16); // port, host byte order
	__type(value, __u8);
} blocked SEC(".maps");

static __always_inline int count(__u32 proto, int drop)
{
	__u32 key = proto * 2 + (drop ? 1 : 0);
	__u64 *n = bpf_map_lookup_elem(&stats, &key);
	if (n)
		*n += 1; // per-CPU: no other run updates this value meanwhile
	return drop ? XDP_DROP : XDP_PASS;
}

static __always_inline int ports(void *l4, void *end, __u32 proto)
{
	// TCP and UDP both start with the source and destination ports.
	struct udphdr *ports = l4;
	if ((void *)(ports + 1) > end)
		return count(proto, 1); // truncated: drop
	__u16 dport = __builtin_bswap16(ports->dest);
	return count(proto, bpf_map_lookup_elem(&blocked, &dport) != NULL);
}

SEC("xdp")
int filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return count(P_OTHER, 1);
	__u16 proto = __builtin_bswap16(eth->h_proto);
	if (proto == 0x0806)
		return count(P_ARP, 0);
	if (proto == 0x0800) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return count(P_IPV4_OTHER, 1);
		void *l4 = (void *)ip + ip->ihl * 4;
		switch (ip->protocol) {
		case 6:
			return ports(l4, end, P_TCP);
		case 17:
			return ports(l4, end, P_UDP);
		case 1:
			return count(P_ICMP, 0);
		}
		return count(P_IPV4_OTHER, 0);
	}
	if (proto == 0x86dd) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return count(P_IPV6_OTHER, 1);
		switch (ip6->nexthdr) {
		case 6:
			return ports(ip6 + 1, end, P_TCP);
		case 17:
			return ports(ip6 + 1, end, P_UDP);
		case 58:
			return count(P_ICMPV6, 0);
		}
		return count(P_IPV6_OTHER, 0);
	}
	return count(P_OTHER, 0);
}
