// Unsupported: a CO-RE relocation against a kernel-internal type, which
// only the running kernel's BTF can resolve.
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *unsafe_ptr) = (void *)113;
static __u64 (*bpf_get_current_task)(void) = (void *)35;

SEC("kprobe/do_nanosleep")
int core_kernel(void *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	int pid = 0;
	bpf_probe_read_kernel(&pid, sizeof(pid), &task->pid);
	return pid;
}
