// Packet parsing in a socket filter, as the kernel allows it there: legacy
// packet loads (ld_abs) and bpf_skb_load_bytes, no direct packet access.
// Counts packets per destination port.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

// LLVM's legacy packet load intrinsics (BPF_LD | BPF_ABS): big-endian loads
// at an offset from the start of the packet.
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

// port_counts counts TCP and UDP packets by destination port.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u64);
} port_counts SEC(".maps");

const volatile __u16 blocked_port = 23;

// socket_parse returns 0 (drop) for TCP or UDP to blocked_port, else the
// packet length (keep it whole): 64 for a zeroed 64-byte packet, whose
// EtherType 0 is neither IPv4 nor IPv6.
SEC("socket")
int socket_parse(struct __sk_buff *skb)
{
	__u32 l4off;
	__u8 proto;
	__u16 ethertype = load_half(skb, 12);

	if (ethertype == ETH_P_IP) {
		__u8 vihl = load_byte(skb, ETH_HLEN);
		if ((vihl & 0xf) < 5)
			return 0;
		proto = load_byte(skb, ETH_HLEN + 9);
		l4off = ETH_HLEN + (vihl & 0xf) * 4;
	} else if (ethertype == ETH_P_IPV6) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) < 0)
			return 0;
		proto = ip6.nexthdr;
		l4off = ETH_HLEN + sizeof(ip6);
	} else {
		return skb->len;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return skb->len;

	// Source and destination ports are the first four bytes of both.
	__be16 ports[2];
	if (bpf_skb_load_bytes(skb, l4off, ports, sizeof(ports)) < 0)
		return 0;
	__u16 dport = bpf_ntohs(ports[1]);
	__u64 one = 1, *v = bpf_map_lookup_elem(&port_counts, &dport);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&port_counts, &dport, &one, BPF_NOEXIST);
	if (dport == blocked_port)
		return 0;
	return skb->len;
}
