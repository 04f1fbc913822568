package verifier

import "github.com/ebpfvm/ebpfvm/progtype"

// vcase is a small program with its expected verdict: err "" means
// accepted, otherwise a substring of the rejection's message.
type vcase struct {
	name   string
	typ    progtype.Type // nil: socket_filter
	src    string
	err    string
	unpriv bool
	// noKernel says why the kernel cannot judge the case as written
	// (callbacks need BTF function info, which raw bytecode lacks).
	noKernel string
}

// Map lookups used by many cases: r0 = lookup(map, &key) with key 0 on the
// stack at fp-4.
const lookupArr = `
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 0
call 1
`

const lookupHash = `
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 1
call 1
`

// xdpBounds loads data and data_end into r2 and r3 and checks 8 bytes.
const xdpBounds = `
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 8
if r4 > r3 goto out
`

var cases = []vcase{
	// Control flow.
	{name: "exit0", src: "r0 = 0\nexit"},
	{name: "r0 uninit", src: "exit", err: "R0 !read_ok"},
	{name: "uninit read", src: "r0 = r2\nexit", err: "R2 !read_ok"},
	{name: "fall off", src: "r0 = 0", err: "last insn is not an exit or jmp"},
	{name: "jump out", src: "r0 = 0\ngoto +5\nexit", err: "jump out of range from insn 1 to 7"},
	{name: "unreachable", src: "r0 = 0\nexit\nr0 = 1\nexit", err: "unreachable insn 2"},
	{name: "into lddw", src: "r0 = 0\nif r0 == 0 goto +1\nr1 = 1 ll\nexit", err: "jump into the middle of ldimm64 insn 2"},
	{name: "fp write", src: "r10 = 0\nr0 = 0\nexit", err: "frame pointer is read only"},
	{name: "bounded loop", src: "r0 = 0\nr1 = 0\nl: r1 += 1\nr0 += r1\nif r1 < 100 goto l\nexit"},
	{name: "unpriv loop", unpriv: true, src: "r0 = 0\nr1 = 0\nl: r1 += 1\nif r1 < 10 goto l\nexit", err: "back-edge from insn 3 to 2"},
	{name: "infinite loop", src: "r0 = 0\nr1 = 0\nl: r1 += 0\nif r0 == 0 goto l\nexit", err: "infinite loop detected at insn 3"},
	{name: "too complex", src: "r0 = 0\nr1 = 0\nl: r1 += 1\nif r1 != 0 goto l\nexit", err: "BPF program is too large. Processed 1000001 insn"},
	{name: "dead branch ok", src: "r0 = 0\nif r0 == 1 goto +1\nexit\nr0 = r5\nexit"},
	{name: "subprog", src: "r1 = 5\ncall f\nexit\nf: r0 = r1\nr0 += 1\nexit"},
	{name: "subprog unpriv", unpriv: true, src: "r1 = 5\ncall f\nexit\nf: r0 = r1\nexit", err: "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN"},
	{name: "subprog clobbers r1", src: "r1 = 5\ncall f\nr0 = r1\nexit\nf: r0 = 0\nexit", err: "R1 !read_ok"},
	{name: "subprog keeps r6", src: "r6 = 5\ncall f\nr0 = r6\nexit\nf: r0 = 0\nexit"},
	{name: "recursion", src: "r1 = 1\ncall f\nr0 = 0\nexit\nf: r1 += 1\ncall f\nr0 = 0\nexit", err: "the call stack of 9 frames is too deep"},
	{name: "subprog stack ptr return", src: "call f\nexit\nf: r0 = r10\nexit", err: "cannot return stack pointer to the caller"},
	{name: "combined stack", src: `*(u64 *)(r10 - 512) = 0
call f
r0 = 0
exit
f: *(u64 *)(r10 - 16) = 0
r0 = 0
exit`, err: "combined stack size of 2 calls is 528. Too large"},
	{name: "callee reads caller stack", src: `*(u64 *)(r10 - 8) = 7
r1 = r10
r1 += -8
call f
exit
f: r0 = *(u64 *)(r1 + 0)
exit`},

	// ALU and ranges.
	{name: "div by zero imm", src: "r0 = 1\nr0 /= 0\nexit", err: "div by zero"},
	{name: "div by reg ok", src: "r0 = 1\nr1 = 0\nr0 /= r1\nexit"},
	{name: "bad shift", src: "r0 = 1\nr0 <<= 64\nexit", err: "invalid shift 64"},
	{name: "bad shift32", src: "r0 = 1\nw0 <<= 32\nexit", err: "invalid shift 32"},
	{name: "ptr add ok", src: "r1 += 4\nr0 = 0\nexit"},
	{name: "ptr and", src: "r1 &= 4\nr0 = 0\nexit", err: "R1 bitwise operator &= on pointer prohibited"},
	{name: "ptr mul", src: "r1 *= 4\nr0 = 0\nexit", err: "R1 pointer arithmetic with *= operator prohibited"},
	{name: "ptr32", src: "w1 += 4\nr0 = 0\nexit", err: "R1 32-bit pointer arithmetic prohibited"},
	{name: "ptr ptr add", src: "r2 = r10\nr1 += r2\nr0 = 0\nexit", err: "R1 pointer += pointer prohibited"},
	{name: "ptr ptr sub priv", src: "r2 = r1\nr2 -= r1\nr0 = r2\nexit"},
	{name: "ptr ptr sub unpriv", unpriv: true, src: "r2 = r1\nr2 -= r1\nr0 = 0\nexit", err: "R2 pointer -= pointer prohibited"},
	{name: "fp sub", src: "r2 = r10\nr3 = 8\nr2 -= r3\nr0 = 0\nexit", err: "R2 subtraction from stack pointer prohibited"},
	{name: "scalar minus ptr", src: "r2 = 8\nr2 -= r1\nr0 = 0\nexit", err: "R2 tried to subtract pointer from scalar"},
	{name: "leak return unpriv", unpriv: true, src: "r0 = r1\nexit", err: "R0 leaks addr as return value"},
	{name: "leak return priv", src: "r0 = r10\nexit"},
	{name: "partial copy unpriv", unpriv: true, src: "w0 = w1\nexit", err: "R1 partial copy of pointer"},
	{name: "neg ptr unpriv", unpriv: true, src: "r1 = -r1\nr0 = 0\nexit", err: "R1 pointer arithmetic prohibited"},
	{name: "neg ptr priv", src: "r1 = -r1\nr0 = r1\nexit"},
	{name: "ptr cmp unpriv", unpriv: true, src: "r0 = 0\nif r1 > r10 goto +1\nexit\nexit", err: "pointer comparison prohibited"},
	{name: "ptr cmp priv", src: "r0 = 0\nif r1 > r10 goto +1\nexit\nexit"},

	// Stack.
	{name: "stack spill fill", src: "*(u64 *)(r10 - 8) = r1\nr2 = *(u64 *)(r10 - 8)\nr0 = *(u32 *)(r2 + 0)\nexit"},
	{name: "stack uninit priv", src: "r0 = *(u64 *)(r10 - 8)\nexit"},
	{name: "stack uninit unpriv", unpriv: true, src: "r0 = *(u64 *)(r10 - 8)\nexit", err: "invalid read from stack R10 off=-8 size=8"},
	{name: "stack oob", src: "*(u64 *)(r10 + 8) = 0\nr0 = 0\nexit", err: "invalid write to stack R10 off=8 size=8"},
	{name: "stack too deep", src: "*(u64 *)(r10 - 520) = 0\nr0 = 0\nexit", err: "invalid write to stack R10 off=-520 size=8"},
	{name: "stack misaligned", src: "*(u32 *)(r10 - 6) = 0\nr0 = 0\nexit", err: "misaligned stack access off 0+0+-6 size 4"},
	{name: "partial fill of ptr", src: "*(u64 *)(r10 - 8) = r1\nr0 = *(u32 *)(r10 - 8)\nexit", err: "invalid size of register fill"},
	{name: "corrupt spilled ptr unpriv", unpriv: true, src: "*(u64 *)(r10 - 8) = r1\n*(u32 *)(r10 - 8) = 0\nr0 = 0\nexit", err: "attempt to corrupt spilled pointer on stack"},
	{name: "spill keeps bounds", src: "r2 = 4\n*(u64 *)(r10 - 8) = r2\nr3 = *(u64 *)(r10 - 8)\nr4 = r10\nr4 += -16\nr4 += r3\nr0 = *(u32 *)(r4 + 0)\nexit"},
	{name: "var stack read priv", src: `r2 = *(u32 *)(r1 + 0)
r2 &= 7
*(u64 *)(r10 - 16) = 0
*(u64 *)(r10 - 8) = 0
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit`},
	{name: "var stack unpriv", unpriv: true, src: `r2 = *(u32 *)(r1 + 0)
r2 &= 7
r3 = r10
r3 += -16
r3 += r2
r0 = 0
exit`, err: "R3 variable stack access prohibited for !root"},

	// Context.
	{name: "ctx read len", src: "r0 = *(u32 *)(r1 + 0)\nexit"},
	{name: "ctx write len", src: "*(u32 *)(r1 + 0) = 1\nr0 = 0\nexit", err: "invalid bpf_context access off=0 size=4"},
	{name: "ctx write cb", src: "*(u32 *)(r1 + 48) = 1\nr0 = 0\nexit"},
	{name: "ctx oob", src: "r0 = *(u32 *)(r1 + 200)\nexit", err: "invalid bpf_context access off=200 size=4"},
	{name: "ctx modified", src: "r1 += 4\nr0 = *(u32 *)(r1 + 0)\nexit", err: "dereference of modified ctx ptr R1 off=4 disallowed"},
	{name: "scalar deref", src: "r1 = 0\nr0 = *(u32 *)(r1 + 0)\nexit", err: "R1 invalid mem access 'scalar'"},
	{name: "ld_abs", src: "r6 = r1\nr0 = *(u8 *)skb[0]\nexit"},
	{name: "ld_abs no r6", src: "r0 = *(u8 *)skb[0]\nexit", err: "R6 !read_ok"},
	{name: "ld_abs xdp", typ: progtype.XDP, src: "r6 = r1\nr0 = *(u8 *)skb[0]\nexit", err: "BPF_LD_[ABS|IND] instructions not allowed for this program type"},

	// Maps.
	{name: "lookup null check", src: lookupHash + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit"},
	{name: "lookup no null check", src: lookupHash + "r0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit", err: "R0 invalid mem access 'map_value_or_null'"},
	{name: "lookup oob", src: lookupHash + "if r0 == 0 goto +1\nr0 = *(u32 *)(r0 + 16)\nr0 = 0\nexit", err: "invalid access to map value, value_size=16 off=16 size=4"},
	{name: "array const key no null check", src: lookupArr + "r0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit"},
	{name: "array var key needs null check", src: "r2 = *(u32 *)(r1 + 0)\n*(u32 *)(r10 - 4) = r2\nr2 = r10\nr2 += -4\nld_pseudo r1, 1, 0\ncall 1\nr0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit", err: "invalid mem access 'map_value_or_null'"},
	{name: "array key uninit unpriv", unpriv: true, src: "r2 = r10\nr2 += -4\nld_pseudo r1, 1, 0\ncall 1\nr0 = 0\nexit", err: "invalid read from stack R2 off=-4 size=4"},
	{name: "lookup key not ptr", src: "r2 = 0\nld_pseudo r1, 1, 1\ncall 1\nr0 = 0\nexit", err: "R2 type=scalar expected=fp"},
	{name: "lookup map not map", src: "r1 = 0\nr2 = r10\ncall 1\nr0 = 0\nexit", err: "R1 type=scalar expected=map_ptr"},
	{name: "var index bounded", src: lookupHash + `if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
r1 &= 7
r0 += r1
r0 = *(u64 *)(r0 + 0)
out: r0 = 0
exit`},
	{name: "var index unbounded", src: lookupHash + `if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
r0 += r1
r0 = *(u8 *)(r0 + 0)
out: r0 = 0
exit`, err: "R0 unbounded memory access, make sure to bounds check any such access"},
	{name: "var index too big", src: lookupHash + `if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
r1 &= 15
r0 += r1
r0 = *(u64 *)(r0 + 0)
out: r0 = 0
exit`, err: "invalid access to map value, value_size=16 off=15 size=8"},
	{name: "var index neg", src: lookupHash + `if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
r1 &= 7
r1 -= 4
r0 += r1
r0 = *(u32 *)(r0 + 0)
out: r0 = 0
exit`, err: "R0 min value is negative"},
	{name: "branch bounds", src: lookupHash + `if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
if r1 > 8 goto out
r0 += r1
r0 = *(u64 *)(r0 + 0)
out: r0 = 0
exit`},
	{name: "branch bounds off by one", src: lookupHash + `if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
if r1 > 9 goto out
r0 += r1
r0 = *(u64 *)(r0 + 0)
out: r0 = 0
exit`, err: "invalid access to map value, value_size=16 off=9 size=8"},
	{name: "linked regs", src: lookupHash + `if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
r2 = r1
if r2 > 8 goto out
r0 += r1
r0 = *(u64 *)(r0 + 0)
out: r0 = 0
exit`},
	{name: "jmp32 bounds", src: lookupHash + `if r0 == 0 goto out
r1 = *(u32 *)(r0 + 0)
if w1 > 8 goto out
r0 += r1
r0 = *(u64 *)(r0 + 0)
out: r0 = 0
exit`},
	{name: "leak into map unpriv", unpriv: true, src: lookupHash + "if r0 == 0 goto +1\n*(u64 *)(r0 + 0) = r10\nr0 = 0\nexit", err: "R10 leaks addr into map"},
	{name: "leak into map priv", src: lookupHash + "if r0 == 0 goto +1\n*(u64 *)(r0 + 0) = r10\nr0 = 0\nexit"},
	{name: "update", src: "*(u32 *)(r10 - 4) = 0\n*(u64 *)(r10 - 16) = 0\n*(u64 *)(r10 - 24) = 0\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -24\nr4 = 0\nld_pseudo r1, 1, 1\ncall 2\nr0 = 0\nexit"},
	{name: "update value short", unpriv: true, src: "*(u32 *)(r10 - 4) = 0\n*(u64 *)(r10 - 16) = 0\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr4 = 0\nld_pseudo r1, 1, 1\ncall 2\nr0 = 0\nexit", err: "invalid read from stack R3 off -16+8 size 16"},
	{name: "rodata const", src: "ld_pseudo r1, 2, 4\nr0 = *(u32 *)(r1 + 4)\nr2 = r10\nr2 += -8\nr2 += r0\nr0 = *(u8 *)(r2 + 0)\nexit"},
	// snprintf writes its buffer (an uninitialised-memory argument) and
	// reads its data (a later memory argument): the write must still be
	// marked, or the constant spilled where the buffer lies survives the
	// call. Found by the soundness campaign (seed 20261126, program 157657).
	{name: "snprintf clobbers its buffer", src: `r1 = 1
*(u64 *)(r10 - 8) = r1
*(u64 *)(r10 - 24) = r1
r1 = r10
r1 += -16
r2 = 16
ld_pseudo r3, 2, 4
r4 = r10
r4 += -24
r5 = 8
call 165
r0 = *(u64 *)(r10 - 8)
if r0 == 1 goto +1
r0 = r6
exit`, err: "R6 !read_ok"},
	{name: "rodata write", src: "ld_pseudo r1, 2, 4\n*(u32 *)(r1 + 0) = 1\nr0 = 0\nexit", err: "write into map forbidden, value_size=16 off=0 size=4"},
	{name: "global data", src: "ld_pseudo r1, 2, 6\nr0 = *(u64 *)(r1 + 56)\nexit"},
	{name: "global data oob", src: "ld_pseudo r1, 2, 6\nr0 = *(u64 *)(r1 + 60)\nexit", err: "invalid access to map value, value_size=64 off=60 size=8"},
	{name: "map ptr arith", src: "ld_pseudo r1, 1, 0\nr1 += 8\nr0 = 0\nexit", err: "R1 pointer arithmetic on map_ptr prohibited"},
	{name: "map of maps", src: lookupArr[:0] + `*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
ld_pseudo r1, 1, 8
call 1
if r0 == 0 goto out
r1 = r0
r2 = r10
r2 += -4
call 1
if r0 == 0 goto out
r0 = *(u64 *)(r0 + 0)
out: r0 = 0
exit`},

	// Packets.
	{name: "xdp read ok", typ: progtype.XDP, src: xdpBounds + "r0 = *(u64 *)(r2 + 0)\nout: r0 = 2\nexit"},
	{name: "xdp read oob", typ: progtype.XDP, src: xdpBounds + "r0 = *(u64 *)(r2 + 4)\nout: r0 = 2\nexit", err: "invalid access to packet, off=4 size=8, R2(id=0,off=4,r=8)"},
	{name: "xdp no check", typ: progtype.XDP, src: "r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)\nexit", err: "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)"},
	{name: "xdp write ok", typ: progtype.XDP, src: xdpBounds + "*(u32 *)(r2 + 4) = 1\nout: r0 = 2\nexit"},
	{name: "xdp reversed check", typ: progtype.XDP, src: "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 14\nif r3 < r4 goto out\nr0 = *(u16 *)(r2 + 12)\nout: r0 = 2\nexit"},
	{name: "xdp ctx data_end write", typ: progtype.XDP, src: "*(u32 *)(r1 + 4) = 0\nr0 = 2\nexit", err: "invalid bpf_context access off=4 size=4"},
	{name: "pkt end deref", typ: progtype.XDP, src: "r3 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r3 + 0)\nexit", err: "R3 invalid mem access 'pkt_end'"},
	{name: "xdp adjust head invalidates", typ: progtype.XDP, src: xdpBounds + "r6 = r2\nr2 = 0\ncall 44\nr0 = *(u8 *)(r6 + 0)\nout: r0 = 2\nexit", err: "R6 invalid mem access 'scalar'"},

	// Helpers.
	{name: "helper unknown", src: "call 1000\nr0 = 0\nexit", err: "invalid func unknown#1000"},
	{name: "helper not allowed", src: "call 44\nr0 = 0\nexit", err: "program of this type cannot use helper bpf_xdp_adjust_head#44"},
	{name: "helper clobbers", src: "r1 = 1\ncall 5\nr0 = r1\nexit", err: "R1 !read_ok"},
	{name: "helper ptr arg unpriv", unpriv: true, src: "r1 = r10\ncall 23\nr0 = 0\nexit", err: "program of this type cannot use helper"},
	{name: "ringbuf ok", src: `ld_pseudo r1, 1, 2
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
*(u64 *)(r0 + 0) = 1
r1 = r0
r2 = 0
call 132
out: r0 = 0
exit`},
	{name: "ringbuf leak", src: `ld_pseudo r1, 1, 2
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
*(u64 *)(r0 + 0) = 1
out: r0 = 0
exit`, err: "BPF_EXIT instruction in main prog would lead to reference leak"},
	{name: "ringbuf oob", src: `ld_pseudo r1, 1, 2
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
*(u64 *)(r0 + 4) = 1
r1 = r0
r2 = 0
call 132
out: r0 = 0
exit`, err: "invalid access to memory, mem_size=8 off=4 size=8"},
	{name: "ringbuf double submit", src: `ld_pseudo r1, 1, 2
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
r6 = r0
r1 = r0
r2 = 0
call 132
r1 = r6
r2 = 0
call 132
out: r0 = 0
exit`, err: "R1 type=scalar expected=ringbuf_mem"},
	{name: "ringbuf size not const", src: `r2 = *(u32 *)(r1 + 0)
ld_pseudo r1, 1, 2
r3 = 0
call 131
r0 = 0
exit`, err: "R2 is not a known constant'"},
	{name: "wrong map for helper", src: `ld_pseudo r1, 1, 0
r2 = 8
r3 = 0
call 131
r0 = 0
exit`, err: "cannot pass map_type 2 into func bpf_ringbuf_reserve#131"},
	{name: "tail call", src: "r2 = 0\nld_pseudo r2, 1, 3\nr3 = 1\ncall 12\nr0 = 0\nexit"},
	{name: "tail call wrong map", src: "ld_pseudo r2, 1, 0\nr3 = 1\ncall 12\nr0 = 0\nexit", err: "expected prog array map for tail call"},
	{name: "probe size var", typ: progtype.XDP, src: `r2 = *(u32 *)(r1 + 16)
r2 &= 7
r1 = r10
r1 += -8
r3 = 0
call 113
r0 = 2
exit`},
	{name: "size arg unbounded", src: `r2 = *(u32 *)(r1 + 0)
r2 += 1
r1 = r10
r1 += -8
r3 = 0
call 6
r0 = 0
exit`, err: "R2 unbounded memory access"},
	{name: "size zero", src: `*(u64 *)(r10 - 8) = 0
r1 = r10
r1 += -8
r2 = 0
call 6
r0 = 0
exit`, err: "R2 invalid zero-sized read"},
	{name: "loop callback", src: `r1 = 10
ld_pseudo r2, 4, 6
r3 = 0
r4 = 0
call 181
r0 = 0
exit
cb: r0 = 0
exit`},
	{name: "loop callback bad ret", src: `r1 = 10
ld_pseudo r2, 4, 6
r3 = 0
r4 = 0
call 181
r0 = 0
exit
cb: r0 = 2
exit`, err: "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]"},

	// Atomics.
	{name: "atomic stack", src: "*(u64 *)(r10 - 8) = 0\nr1 = 1\nlock *(u64 *)(r10 - 8) += r1\nr0 = 0\nexit"},
	{name: "atomic fetch", src: "*(u64 *)(r10 - 8) = 0\nr1 = 1\nr1 = atomic_fetch_add((u64 *)(r10 - 8), r1)\nr0 = r1\nexit"},
	{name: "atomic ctx", src: "r2 = 1\nlock *(u32 *)(r1 + 0) += r2\nr0 = 0\nexit", err: "BPF_ATOMIC stores into R1 ctx is not allowed"},
	{name: "atomic misaligned", src: lookupHash + "if r0 == 0 goto +2\nr1 = 1\nlock *(u64 *)(r0 + 4) += r1\nr0 = 0\nexit", err: "misaligned value access off 0+0+4 size 8"},
	{name: "cmpxchg r0 uninit", src: "*(u64 *)(r10 - 8) = 0\nr1 = 1\nr0 = cmpxchg_64(r10 - 8, r0, r1)\nr0 = 0\nexit", err: "R0 !read_ok"},

	// Kernel program types (verification only).
	{name: "tc packet write", typ: progtype.SchedCLS, src: `r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += 14
if r4 > r3 goto +1
*(u8 *)(r2 + 0) = 1
r0 = 0
exit`},
	{name: "tc mark write", typ: progtype.SchedCLS, src: "r2 = 7\n*(u32 *)(r1 + 8) = r2\nr0 = 0\nexit"},
	{name: "tc len write", typ: progtype.SchedCLS, src: "r2 = 7\n*(u32 *)(r1 + 0) = r2\nr0 = 0\nexit", err: "invalid bpf_context access off=0 size=4"},
	{name: "tc store bytes", typ: progtype.SchedACT, src: `*(u32 *)(r10 - 4) = 0
r2 = 0
r3 = r10
r3 += -4
r4 = 4
r5 = 0
call 9
r0 = 0
exit`},
	{name: "tc unchecked packet", typ: progtype.SchedCLS, src: "r2 = *(u32 *)(r1 + 76)\nr0 = *(u8 *)(r2 + 0)\nexit", err: "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)"},
	{name: "cgroup_skb packet read", typ: progtype.CgroupSKB, src: `r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += 1
r0 = 1
if r4 > r3 goto +1
r0 = *(u8 *)(r2 + 0)
r0 &= 1
exit`},
	{name: "cgroup_skb packet write", typ: progtype.CgroupSKB, src: `r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += 1
if r4 > r3 goto +1
*(u8 *)(r2 + 0) = 1
r0 = 1
exit`, err: "cannot write into packet"},
	{name: "cgroup_skb return 2", typ: progtype.CgroupSKB, src: "r0 = 2\nexit", err: "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]"},
	{name: "cgroup_skb return unknown", typ: progtype.CgroupSKB, src: "r0 = *(u32 *)(r1 + 0)\nexit", err: "should have been in [0, 1]"},
	{name: "cgroup_skb store bytes", typ: progtype.CgroupSKB, src: "r2 = 0\nr3 = r10\nr4 = 0\nr5 = 0\ncall 9\nr0 = 1\nexit", err: "program of this type cannot use helper bpf_skb_store_bytes#9"},
	{name: "kprobe read regs", typ: progtype.Kprobe, src: "r2 = *(u64 *)(r1 + 112)\nr3 = *(u32 *)(r1 + 160)\nr0 = 0\nexit"},
	{name: "kprobe write regs", typ: progtype.Kprobe, src: "r2 = 1\n*(u64 *)(r1 + 112) = r2\nr0 = 0\nexit", err: "invalid bpf_context access off=112 size=8"},
	{name: "kprobe past regs", typ: progtype.Kprobe, src: "r2 = *(u64 *)(r1 + 168)\nr0 = 0\nexit", err: "invalid bpf_context access off=168 size=8"},
	{name: "kprobe misaligned", typ: progtype.Kprobe, src: "r2 = *(u64 *)(r1 + 4)\nr0 = 0\nexit", err: "invalid bpf_context access off=4 size=8"},
	{name: "kprobe probe read", typ: progtype.Kprobe, src: `r3 = *(u64 *)(r1 + 112)
r1 = r10
r1 += -8
r2 = 8
call 113
r0 = 0
exit`},
	{name: "kprobe skb helper", typ: progtype.Kprobe, src: "r2 = 0\nr3 = r10\nr3 += -4\nr4 = 4\ncall 26\nr0 = 0\nexit", err: "program of this type cannot use helper bpf_skb_load_bytes#26"},
	{name: "tracepoint read", typ: progtype.Tracepoint, src: "r2 = *(u64 *)(r1 + 8)\nr3 = *(u32 *)(r1 + 16)\nr0 = 0\nexit"},
	{name: "tracepoint header", typ: progtype.Tracepoint, src: "r2 = *(u64 *)(r1 + 0)\nr0 = 0\nexit", err: "invalid bpf_context access off=0 size=8"},
	{name: "tracepoint write", typ: progtype.Tracepoint, src: "r2 = 1\n*(u64 *)(r1 + 8) = r2\nr0 = 0\nexit", err: "invalid bpf_context access off=8 size=8"},
	{name: "raw_tracepoint args", typ: progtype.RawTracepoint, src: "r2 = *(u64 *)(r1 + 0)\nr3 = *(u64 *)(r1 + 88)\nr0 = 0\nexit"},
	{name: "raw_tracepoint past args", typ: progtype.RawTracepoint, src: "r2 = *(u64 *)(r1 + 96)\nr0 = 0\nexit", err: "invalid bpf_context access off=96 size=8"},
	{name: "perf_event sample_period", typ: progtype.PerfEvent, src: "r2 = *(u64 *)(r1 + 168)\nr3 = *(u64 *)(r1 + 176)\nr0 = 0\nexit"},
	{name: "perf_event write", typ: progtype.PerfEvent, src: "r2 = 1\n*(u64 *)(r1 + 168) = r2\nr0 = 0\nexit", err: "invalid bpf_context access off=168 size=8"},
	{name: "kprobe pid", typ: progtype.Kprobe, src: "call 14\nr0 = 0\nexit"},
}
