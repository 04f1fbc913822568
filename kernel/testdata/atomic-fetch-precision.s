# A Linux 6.18 verifier bug found by the differential campaign (ebpfvm
# fuzz --seed 7, program 744): the value an atomic fetch loads from the
# stack is not tracked back for precision, so the path through the may_goto
# branch is pruned as equivalent to the one that skips the byte store, the
# branch at insn 18 is judged never taken and hard-wired, and the kernel
# returns 0xff000001 where the ISA says 42 (w4 = 0 s>= w0 = 0xff000001).
#   ebpfvm diff --type xdp --mem-hex 0000000000000000000000000000 FILE
r0 = 0
r3 = 0
r4 = 0
r9 = 0
*(u64 *)(r10 - 40) = r9
r7 = 0
r3 ^= -1
may_goto +1
*(u8 *)(r10 - 33) = w3
if r3 <= 0 goto +6
w9 *= 0
w0 &= 0
if r9 > 0 goto +2
*(u16 *)(r10 - 62) = w7
w8 = *(u8 *)(r10 - 33)
r9 = 0
w0 = atomic_fetch_xor((u32 *)(r10 - 36), w0)
w0 |= 1
if w4 s>= w0 goto +1
exit
r0 = 42
exit
