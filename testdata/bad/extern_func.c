// Unsupported: a call to a function defined in no section (it would need a
// linker).
#include "ebpfvm.h"

char LICENSE[] SEC("license") = "GPL";

extern int not_here(int x);

SEC("socket")
int extern_func(struct __sk_buff *skb)
{
	return not_here(skb->len);
}
