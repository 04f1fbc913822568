// Unsupported: the address of a kernel symbol (an untyped __ksym extern).
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

extern const void bpf_prog_active __ksym;

static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *unsafe_ptr) = (void *)113;

SEC("kprobe/do_nanosleep")
int ksym(void *ctx)
{
	int active = 0;
	bpf_probe_read_kernel(&active, sizeof(active), &bpf_prog_active);
	return active;
}
