// Unsupported: a kernel configuration value (__kconfig extern).
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

extern unsigned int LINUX_KERNEL_VERSION __kconfig;

SEC("xdp")
int kconfig(struct xdp_md *ctx)
{
	return LINUX_KERNEL_VERSION > 0 ? XDP_PASS : XDP_DROP;
}
