// Unsupported: a kfunc call (a kernel function named by BTF).
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

SEC("xdp")
int kfunc(struct xdp_md *ctx)
{
	return bpf_cast_to_kern_ctx(ctx) ? XDP_PASS : XDP_DROP;
}
