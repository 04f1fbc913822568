package interp

import (
	"errors"
	"fmt"
	"math/bits"
	"unsafe"

	"github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/vm"
)

// insnSize is the size of a pre-decoded instruction.
const insnSize = 16 // unsafe.Sizeof(insn{}), checked by TestInsnSize

// pollInterval is how many instructions may run between two checks of the
// budget and of cancellation (checks happen at backward jumps and calls).
const pollInterval = 1 << 16

// maxLoops is the count of may_goto iterations a call frame may take before
// the branch is taken (the kernel's BPF_MAX_LOOPS).
const maxLoops = 8 * 1024 * 1024

// Interpreter runs one vm.Program. It is immutable and safe for concurrent
// use: each run brings its own vm.Machine.
type Interpreter struct {
	code *code
}

// New prepares p for interpretation. It attaches the compiled form to p so
// that tail calls into p from other programs find it.
func New(p *vm.Program) *Interpreter {
	c := compile(p)
	p.Compiled = c
	return &Interpreter{code: c}
}

// Program returns the program the interpreter runs.
func (e *Interpreter) Program() *vm.Program { return e.code.prog }

// Run runs the program from its first instruction with r1..r5 set to args and
// returns r0. The machine must have been prepared (regions, budget, context)
// by the caller; Run sets its Program and clears the entry frame's stack.
func (e *Interpreter) Run(m *vm.Machine, args ...uint64) (uint64, error) {
	if len(args) > 5 {
		return 0, errors.New("interp: at most 5 arguments")
	}
	var a [5]uint64
	copy(a[:], args)
	m.Program = e.code.prog
	m.SetCaller(caller{})
	m.Depth = 0
	m.ClearFrame(0)
	return run(m, e.code, 0, a)
}

// caller lets helpers call back into the program (bpf_loop and friends).
type caller struct{}

// CallFunction runs the function at slot of the machine's current program in
// a new frame.
func (caller) CallFunction(m *vm.Machine, slot int, args [5]uint64) (uint64, error) {
	if m.Depth+1 >= vm.MaxCallFrames {
		return 0, &vm.Fault{Kind: vm.FaultCallDepth, PC: m.PC, Detail: fmt.Sprintf("callback would be frame %d; at most %d frames", m.Depth+2, vm.MaxCallFrames)}
	}
	saved := m.Depth
	savedProg := m.Program
	m.Depth++
	m.ClearFrame(m.Depth)
	r0, err := run(m, codeFor(m.Program), slot, args)
	m.Depth = saved
	m.Program = savedProg
	return r0, err
}

// frame is a caller's state saved by a bpf-to-bpf call.
type frame struct {
	code   *code
	ret    int
	saved  [4]uint64 // r6..r9
	fp     uint64
	mayCnt uint32
}

// state is what a run keeps besides the program counter, the instruction
// count and the code pointer: the registers and everything the rare
// instructions need. It lives in memory, so that the hot loop keeps only
// those three values in host registers; every call out of the loop passes
// them through pc and n here and reloads them after.
type state struct {
	regs      [16]uint64
	m         *vm.Machine
	regions   []vm.Region
	c         *code
	pc        int
	n         uint64 // instructions executed, as in vm.Machine.Executed
	limit     uint64 // instruction count of the next budget/cancellation check
	nframes   int
	baseDepth int
	mayCnt    uint32
	done      bool // the entry frame exited
	frames    [vm.MaxCallFrames]frame
}

// run executes from pc in a new frame at depth m.Depth until that frame
// returns. The hot loop handles ALU, jumps, loads, stores and lddw inline;
// everything else goes through state.slow.
func run(m *vm.Machine, c *code, pc int, args [5]uint64) (uint64, error) {
	var s state
	s.m = m
	s.c = c
	s.regions = m.Regions
	s.baseDepth = m.Depth
	s.mayCnt = maxLoops
	regs := &s.regs
	regs[1], regs[2], regs[3], regs[4], regs[5] = args[0], args[1], args[2], args[3], args[4]
	regs[10] = vm.FramePointer(m.Depth)

	// compile guarantees that every branch lands inside c.insns (two
	// sentinels follow the last slot), and the slow path checks call
	// targets, so pc always indexes c.insns.
	base := unsafe.Pointer(&c.insns[0])
	ip := unsafe.Add(base, uintptr(pc)*insnSize)
	// n counts executed instructions up to start, the first slot of the
	// straight-line run in progress; the run's own instructions are added
	// when it ends (a taken jump, a slow instruction, a fault), which keeps
	// the per-instruction work of the hot loop to the dispatch itself.
	n := m.Executed
	start := ip
	s.limit = min(m.Budget, n+pollInterval)

	for {
		ins := (*insn)(ip)
		// ip moves past the instruction first, so that the cases end with
		// a jump straight back here.
		ip = unsafe.Add(ip, insnSize)
		// The common instructions first, one case per operation and
		// operand source: a dense switch, which Go compiles into one
		// indirect jump through a table, with no decoding left in the cases
		// (measured: ALU loops 23-37% faster than the class decoder below;
		// an earlier jump table over raw opcodes, which still decoded
		// operands in each case, had been slower).
		switch ins.kind {
		case kGeneric:
			goto generic
		case kSlow:
			goto slowNext
		case kAdd64K:
			regs[ins.dst&15] += uint64(ins.imm)
		case kAdd64X:
			regs[ins.dst&15] += regs[ins.src&15]
		case kSub64K:
			regs[ins.dst&15] -= uint64(ins.imm)
		case kSub64X:
			regs[ins.dst&15] -= regs[ins.src&15]
		case kMul64K:
			regs[ins.dst&15] *= uint64(ins.imm)
		case kMul64X:
			regs[ins.dst&15] *= regs[ins.src&15]
		case kOr64K:
			regs[ins.dst&15] |= uint64(ins.imm)
		case kOr64X:
			regs[ins.dst&15] |= regs[ins.src&15]
		case kAnd64K:
			regs[ins.dst&15] &= uint64(ins.imm)
		case kAnd64X:
			regs[ins.dst&15] &= regs[ins.src&15]
		case kXor64K:
			regs[ins.dst&15] ^= uint64(ins.imm)
		case kXor64X:
			regs[ins.dst&15] ^= regs[ins.src&15]
		case kLsh64K:
			regs[ins.dst&15] <<= uint64(ins.imm) & 63
		case kLsh64X:
			regs[ins.dst&15] <<= regs[ins.src&15] & 63
		case kRsh64K:
			regs[ins.dst&15] >>= uint64(ins.imm) & 63
		case kRsh64X:
			regs[ins.dst&15] >>= regs[ins.src&15] & 63
		case kArsh64K:
			regs[ins.dst&15] = uint64(int64(regs[ins.dst&15]) >> (uint64(ins.imm) & 63))
		case kArsh64X:
			regs[ins.dst&15] = uint64(int64(regs[ins.dst&15]) >> (regs[ins.src&15] & 63))
		case kMov64K:
			regs[ins.dst&15] = uint64(ins.imm)
		case kMov64X:
			regs[ins.dst&15] = regs[ins.src&15]
		case kNeg64:
			regs[ins.dst&15] = -regs[ins.dst&15]
		case kAdd32K:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) + uint32(ins.imm))
		case kAdd32X:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) + uint32(regs[ins.src&15]))
		case kSub32K:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) - uint32(ins.imm))
		case kSub32X:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) - uint32(regs[ins.src&15]))
		case kMul32K:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) * uint32(ins.imm))
		case kMul32X:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) * uint32(regs[ins.src&15]))
		case kOr32K:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) | uint32(ins.imm))
		case kOr32X:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) | uint32(regs[ins.src&15]))
		case kAnd32K:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) & uint32(ins.imm))
		case kAnd32X:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) & uint32(regs[ins.src&15]))
		case kXor32K:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) ^ uint32(ins.imm))
		case kXor32X:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) ^ uint32(regs[ins.src&15]))
		case kLsh32K:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) << (uint32(ins.imm) & 31))
		case kLsh32X:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) << (uint32(regs[ins.src&15]) & 31))
		case kRsh32K:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) >> (uint32(ins.imm) & 31))
		case kRsh32X:
			regs[ins.dst&15] = uint64(uint32(regs[ins.dst&15]) >> (uint32(regs[ins.src&15]) & 31))
		case kArsh32K:
			regs[ins.dst&15] = uint64(uint32(int32(regs[ins.dst&15]) >> (uint32(ins.imm) & 31)))
		case kArsh32X:
			regs[ins.dst&15] = uint64(uint32(int32(regs[ins.dst&15]) >> (uint32(regs[ins.src&15]) & 31)))
		case kMov32K:
			regs[ins.dst&15] = uint64(uint32(ins.imm))
		case kMov32X:
			regs[ins.dst&15] = uint64(uint32(regs[ins.src&15]))
		case kJA:
			goto taken
		case kJEqK:
			if regs[ins.dst&15] == uint64(ins.imm) {
				goto taken
			}
		case kJEqX:
			if regs[ins.dst&15] == regs[ins.src&15] {
				goto taken
			}
		case kJNEK:
			if regs[ins.dst&15] != uint64(ins.imm) {
				goto taken
			}
		case kJNEX:
			if regs[ins.dst&15] != regs[ins.src&15] {
				goto taken
			}
		case kJGTK:
			if regs[ins.dst&15] > uint64(ins.imm) {
				goto taken
			}
		case kJGTX:
			if regs[ins.dst&15] > regs[ins.src&15] {
				goto taken
			}
		case kJGEK:
			if regs[ins.dst&15] >= uint64(ins.imm) {
				goto taken
			}
		case kJGEX:
			if regs[ins.dst&15] >= regs[ins.src&15] {
				goto taken
			}
		case kJLTK:
			if regs[ins.dst&15] < uint64(ins.imm) {
				goto taken
			}
		case kJLTX:
			if regs[ins.dst&15] < regs[ins.src&15] {
				goto taken
			}
		case kJLEK:
			if regs[ins.dst&15] <= uint64(ins.imm) {
				goto taken
			}
		case kJLEX:
			if regs[ins.dst&15] <= regs[ins.src&15] {
				goto taken
			}
		case kJSGTK:
			if int64(regs[ins.dst&15]) > int64(uint64(ins.imm)) {
				goto taken
			}
		case kJSGTX:
			if int64(regs[ins.dst&15]) > int64(regs[ins.src&15]) {
				goto taken
			}
		case kJSGEK:
			if int64(regs[ins.dst&15]) >= int64(uint64(ins.imm)) {
				goto taken
			}
		case kJSGEX:
			if int64(regs[ins.dst&15]) >= int64(regs[ins.src&15]) {
				goto taken
			}
		case kJSLTK:
			if int64(regs[ins.dst&15]) < int64(uint64(ins.imm)) {
				goto taken
			}
		case kJSLTX:
			if int64(regs[ins.dst&15]) < int64(regs[ins.src&15]) {
				goto taken
			}
		case kJSLEK:
			if int64(regs[ins.dst&15]) <= int64(uint64(ins.imm)) {
				goto taken
			}
		case kJSLEX:
			if int64(regs[ins.dst&15]) <= int64(regs[ins.src&15]) {
				goto taken
			}
		case kJSetK:
			if regs[ins.dst&15]&uint64(ins.imm) != 0 {
				goto taken
			}
		case kJSetX:
			if regs[ins.dst&15]&regs[ins.src&15] != 0 {
				goto taken
			}
		case kJ32EqK:
			if uint32(regs[ins.dst&15]) == uint32(ins.imm) {
				goto taken
			}
		case kJ32EqX:
			if uint32(regs[ins.dst&15]) == uint32(regs[ins.src&15]) {
				goto taken
			}
		case kJ32NEK:
			if uint32(regs[ins.dst&15]) != uint32(ins.imm) {
				goto taken
			}
		case kJ32NEX:
			if uint32(regs[ins.dst&15]) != uint32(regs[ins.src&15]) {
				goto taken
			}
		case kJ32GTK:
			if uint32(regs[ins.dst&15]) > uint32(ins.imm) {
				goto taken
			}
		case kJ32GTX:
			if uint32(regs[ins.dst&15]) > uint32(regs[ins.src&15]) {
				goto taken
			}
		case kJ32GEK:
			if uint32(regs[ins.dst&15]) >= uint32(ins.imm) {
				goto taken
			}
		case kJ32GEX:
			if uint32(regs[ins.dst&15]) >= uint32(regs[ins.src&15]) {
				goto taken
			}
		case kJ32LTK:
			if uint32(regs[ins.dst&15]) < uint32(ins.imm) {
				goto taken
			}
		case kJ32LTX:
			if uint32(regs[ins.dst&15]) < uint32(regs[ins.src&15]) {
				goto taken
			}
		case kJ32LEK:
			if uint32(regs[ins.dst&15]) <= uint32(ins.imm) {
				goto taken
			}
		case kJ32LEX:
			if uint32(regs[ins.dst&15]) <= uint32(regs[ins.src&15]) {
				goto taken
			}
		case kJ32SGTK:
			if int32(uint32(regs[ins.dst&15])) > int32(uint32(ins.imm)) {
				goto taken
			}
		case kJ32SGTX:
			if int32(uint32(regs[ins.dst&15])) > int32(uint32(regs[ins.src&15])) {
				goto taken
			}
		case kJ32SGEK:
			if int32(uint32(regs[ins.dst&15])) >= int32(uint32(ins.imm)) {
				goto taken
			}
		case kJ32SGEX:
			if int32(uint32(regs[ins.dst&15])) >= int32(uint32(regs[ins.src&15])) {
				goto taken
			}
		case kJ32SLTK:
			if int32(uint32(regs[ins.dst&15])) < int32(uint32(ins.imm)) {
				goto taken
			}
		case kJ32SLTX:
			if int32(uint32(regs[ins.dst&15])) < int32(uint32(regs[ins.src&15])) {
				goto taken
			}
		case kJ32SLEK:
			if int32(uint32(regs[ins.dst&15])) <= int32(uint32(ins.imm)) {
				goto taken
			}
		case kJ32SLEX:
			if int32(uint32(regs[ins.dst&15])) <= int32(uint32(regs[ins.src&15])) {
				goto taken
			}
		case kJ32SetK:
			if uint32(regs[ins.dst&15])&uint32(ins.imm) != 0 {
				goto taken
			}
		case kJ32SetX:
			if uint32(regs[ins.dst&15])&uint32(regs[ins.src&15]) != 0 {
				goto taken
			}
		case kLdxB, kLdxH, kLdxW, kLdxDW:
			p := translate(s.regions, regs[ins.src&15]+uint64(int64(ins.off)), 1<<(ins.kind-kLdxB))
			if p == nil {
				goto slowNext // a fault, or a context access
			}
			switch ins.kind {
			case kLdxB:
				regs[ins.dst&15] = load8(p)
			case kLdxH:
				regs[ins.dst&15] = load16(p)
			case kLdxW:
				regs[ins.dst&15] = load32(p)
			default:
				regs[ins.dst&15] = load64(p)
			}
		case kStxB, kStxH, kStxW, kStxDW:
			p := translateW(s.regions, regs[ins.dst&15]+uint64(int64(ins.off)), 1<<(ins.kind-kStxB))
			if p == nil {
				goto slowNext
			}
			switch v := regs[ins.src&15]; ins.kind {
			case kStxB:
				store8(p, v)
			case kStxH:
				store16(p, v)
			case kStxW:
				store32(p, v)
			default:
				store64(p, v)
			}
		case kStB, kStH, kStW, kStDW:
			p := translateW(s.regions, regs[ins.dst&15]+uint64(int64(ins.off)), 1<<(ins.kind-kStB))
			if p == nil {
				goto slowNext
			}
			switch v := uint64(ins.imm); ins.kind {
			case kStB:
				store8(p, v)
			case kStH:
				store16(p, v)
			case kStW:
				store32(p, v)
			default:
				store64(p, v)
			}
		case kLDDW:
			// The resolved 64-bit value; the second slot is skipped.
			regs[ins.dst&15] = uint64(ins.imm)
			ip = unsafe.Add(ip, insnSize)
			start = unsafe.Add(start, insnSize) // a lddw counts as one instruction
		}
		continue

	slowNext:
		ip = unsafe.Add(ip, -insnSize)
		goto slow

	takenGeneric:
		// A taken jump of the class decoder, which leaves ip at the jump.
		ip = unsafe.Add(ip, insnSize)

	taken:
		// A taken jump; ip is past it.
		n += uint64(uintptr(ip)-uintptr(start)) / insnSize
		ip = unsafe.Add(ip, int(ins.off)*insnSize)
		start = ip
		if ins.off < 0 {
			goto backward
		}
		continue

	generic:
		// The rest, decoded by class, with ip at the instruction.
		ip = unsafe.Add(ip, -insnSize)
		{
			op := ins.op
			// By class, then by switches of at most seven cases, which Go
			// compiles into compare trees. Every instruction can run here
			// (TestConformance runs the suite through this path alone).
			if cls := op & 7; cls == alu64 {
				v := uint64(ins.imm)
				if op&x != 0 {
					v = regs[ins.src&15]
				}
				d := &regs[ins.dst&15]
				if a := op & 0xf0; a < opRsh {
					switch a {
					case opAdd:
						*d += v
					case opSub:
						*d -= v
					case opMul:
						*d *= v
					case opDiv:
						*d = div64(*d, v, ins.off)
					case opOr:
						*d |= v
					case opAnd:
						*d &= v
					default: // opLsh
						*d <<= v & 63
					}
				} else {
					switch a {
					case opRsh:
						*d >>= v & 63
					case opNeg:
						*d = -*d
					case opMod:
						*d = mod64(*d, v, ins.off)
					case opXor:
						*d ^= v
					case opMov:
						if ins.off != 0 {
							switch ins.off {
							case 8:
								v = uint64(int64(int8(v)))
							case 16:
								v = uint64(int64(int16(v)))
							case 32:
								v = uint64(int64(int32(v)))
							default: // addr_space_cast
								goto slow
							}
						}
						*d = v
					case opArsh:
						*d = uint64(int64(*d) >> (v & 63))
					case opEnd:
						*d = bswap(*d, ins.imm)
					default:
						goto slow
					}
				}
			} else if cls == jmp {
				a := op & 0xf0
				v := uint64(ins.imm)
				if op&x != 0 {
					v = regs[ins.src&15]
				}
				d := regs[ins.dst&15]
				// The condition, by hand: as a function, the compiler does not
				// inline it here.
				var taken bool
				if a < opJSet {
					switch a {
					case opJA:
						taken = true
					case opJEq:
						taken = d == v
					case opJGT:
						taken = d > v
					default: // opJGE
						taken = d >= v
					}
				} else if a < opCall {
					switch a {
					case opJSet:
						taken = d&v != 0
					case opJNE:
						taken = d != v
					case opJSGT:
						taken = int64(d) > int64(v)
					default: // opJSGE
						taken = int64(d) >= int64(v)
					}
				} else if a >= opJLT && a <= opJSLE {
					switch a {
					case opJLT:
						taken = d < v
					case opJLE:
						taken = d <= v
					case opJSLT:
						taken = int64(d) < int64(v)
					default: // opJSLE
						taken = int64(d) <= int64(v)
					}
				} else {
					goto slow // call, exit, may_goto
				}
				if taken {
					goto takenGeneric
				}
			} else if cls == ldx {
				size := accessSize(op)
				p := translate(s.regions, regs[ins.src&15]+uint64(int64(ins.off)), size)
				if p == nil {
					goto slow // a fault, or a context access
				}
				d := &regs[ins.dst&15]
				switch op {
				case ldx | mem | szB:
					*d = load8(p)
				case ldx | mem | szH:
					*d = load16(p)
				case ldx | mem | szW:
					*d = load32(p)
				case ldx | mem | szDW:
					*d = load64(p)
				case ldx | memsx | szB:
					*d = uint64(int64(int8(load8(p))))
				case ldx | memsx | szH:
					*d = uint64(int64(int16(load16(p))))
				case ldx | memsx | szW:
					*d = uint64(int64(int32(load32(p))))
				}
			} else if cls == stx || cls == st {
				if op&0xe0 != mem {
					goto slow // atomics
				}
				size := accessSize(op)
				p := translateW(s.regions, regs[ins.dst&15]+uint64(int64(ins.off)), size)
				if p == nil {
					goto slow // a fault, or a context access
				}
				v := uint64(ins.imm)
				if cls == stx {
					v = regs[ins.src&15]
				}
				switch size {
				case 1:
					store8(p, v)
				case 2:
					store16(p, v)
				case 4:
					store32(p, v)
				default:
					store64(p, v)
				}
			} else if cls == alu {
				v := uint32(ins.imm)
				if op&x != 0 {
					v = uint32(regs[ins.src&15])
				}
				d := &regs[ins.dst&15]
				w := uint32(*d)
				if a := op & 0xf0; a <= opAnd {
					switch a {
					case opAdd:
						w += v
					case opSub:
						w -= v
					case opMul:
						w *= v
					case opDiv:
						w = div32(w, v, ins.off)
					case opOr:
						w |= v
					case opAnd:
						w &= v
					}
					*d = uint64(w)
				} else if a <= opMod {
					switch a {
					case opLsh:
						w <<= v & 31
					case opRsh:
						w >>= v & 31
					case opNeg:
						w = -w
					case opMod:
						w = mod32(w, v, ins.off)
					}
					*d = uint64(w)
				} else {
					switch a {
					case opXor:
						*d = uint64(w ^ v)
					case opMov:
						*d = movsx32(uint64(v), ins.off)
					case opArsh:
						*d = uint64(uint32(int32(w) >> (v & 31)))
					case opEnd:
						if op&x != 0 { // to big endian
							*d = bswap(*d, ins.imm)
						} else { // to little endian, the host order: only truncation
							*d = truncate(*d, ins.imm)
						}
					default:
						goto slow
					}
				}
			} else if cls == jmp32 {
				a := op & 0xf0
				if a == opJA || a == opCall || a == opExit || a >= opJCnd {
					goto slow // gotol
				}
				v := uint32(ins.imm)
				if op&x != 0 {
					v = uint32(regs[ins.src&15])
				}
				if cond32(a, uint32(regs[ins.dst&15]), v) {
					goto takenGeneric
				}
			} else if op == ld|imm|szDW {
				// The resolved 64-bit value; the second slot is skipped.
				regs[ins.dst&15] = uint64(ins.imm)
				ip = unsafe.Add(ip, insnSize)
				start = unsafe.Add(start, insnSize) // a lddw counts as one instruction
			} else {
				goto slow
			}
		}
		ip = unsafe.Add(ip, insnSize)
		continue

	backward:
		// A taken backward jump: the periodic budget and cancellation check.
		if n >= s.limit {
			s.pc, s.n = int((uintptr(ip)-uintptr(base))/insnSize)-1-int(ins.off), n
			if err := s.checkpoint(); err != nil {
				return 0, err
			}
			n = s.n
		}
		continue

	slow:
		// Calls, exit, gotol, may_goto, atomics, legacy packet loads,
		// addr_space_cast and the fault markers.
		s.pc, s.n = int((uintptr(ip)-uintptr(base))/insnSize), n+uint64(uintptr(ip)-uintptr(start))/insnSize+1
		if err := s.slow(ins); err != nil {
			return 0, err
		}
		if s.done {
			return regs[0], nil
		}
		n, base = s.n, unsafe.Pointer(&s.c.insns[0])
		ip = unsafe.Add(base, uintptr(s.pc)*insnSize)
		start = ip
	}
}

// slow executes the instructions the hot loop does not. It reads the
// instruction's pc and the count from s.pc and s.n and leaves there the next
// pc and the updated count; s.done reports that the entry frame exited.
func (s *state) slow(ins *insn) error {
	m := s.m
	regs := &s.regs
	pc := s.pc
	switch ins.op {
	case jmp32 | opJA | k: // gotol
		s.pc = pc + 1 + int(ins.imm)
		if ins.imm < 0 && s.n >= s.limit {
			s.pc = pc
			if err := s.checkpoint(); err != nil {
				return err
			}
			s.pc = pc + 1 + int(ins.imm)
		}
		return nil

	case jmp | opJCnd | k: // may_goto: falls through until the frame's count runs out
		if s.mayCnt > 0 {
			s.mayCnt--
			s.pc = pc + 1
			return nil
		}
		if ins.off < 0 && s.n >= s.limit {
			if err := s.checkpoint(); err != nil {
				return err
			}
		}
		s.pc = pc + 1 + int(ins.off)
		return nil

	case alu64 | opMov | x: // addr_space_cast (the hot loop runs the other moves)
		return s.fault(vm.FaultInvalidInsn, "addr_space_cast needs an arena map, which ebpfvm does not support")

	case ldx | mem | szB, ldx | mem | szH, ldx | mem | szW, ldx | mem | szDW,
		ldx | memsx | szB, ldx | memsx | szH, ldx | memsx | szW,
		st | mem | szB, st | mem | szH, st | mem | szW, st | mem | szDW,
		stx | mem | szB, stx | mem | szH, stx | mem | szW, stx | mem | szDW:
		if err := s.contextAccess(ins); err != nil {
			return err
		}
		s.pc = pc + 1
		return nil

	case stx | modeAtomic | szW, stx | modeAtomic | szDW:
		if err := s.atomic(ins); err != nil {
			return err
		}
		s.pc = pc + 1
		return nil

	case ld | abs | szB, ld | abs | szH, ld | abs | szW,
		ld | ind | szB, ld | ind | szH, ld | ind | szW:
		if !s.legacyLoad(ins) {
			// Outside the packet: the program ends with r0 = 0.
			regs[0] = 0
			s.exitRun()
			return nil
		}
		s.pc = pc + 1
		return nil

	case jmp | opCall | k, jmp | opCall | x:
		return s.call(ins)

	case jmp | opExit | k:
		if s.nframes == 0 {
			s.exitRun()
			return nil
		}
		s.nframes--
		f := &s.frames[s.nframes]
		s.c = f.code
		m.Program = s.c.prog
		regs[6], regs[7], regs[8], regs[9] = f.saved[0], f.saved[1], f.saved[2], f.saved[3]
		regs[10] = f.fp
		s.mayCnt = f.mayCnt
		m.Depth--
		s.pc = f.ret
		return nil

	case opLDDWHigh:
		return s.fault(vm.FaultBadJump, "control reached the second slot of a lddw")
	case opFellOff:
		return s.fault(vm.FaultBadJump, "control fell off the end of the program")
	case opBadTarget:
		return s.fault(vm.FaultBadJump, "a jump left the program")
	case opInvalid:
		return s.fault(vm.FaultInvalidInsn, fmt.Sprintf("opcode %#02x is not a valid instruction", ins.imm))
	}
	return s.fault(vm.FaultInvalidInsn, fmt.Sprintf("opcode %#02x", ins.op))
}

// exitRun ends the run from the entry frame.
func (s *state) exitRun() {
	s.m.Executed = s.n
	s.m.Depth = s.baseDepth
	s.done = true
}

// fault builds a non-memory fault at s.pc.
func (s *state) fault(kind vm.FaultKind, detail string) error {
	s.m.Executed = s.n
	s.m.PC = s.pc
	return &vm.Fault{Kind: kind, PC: s.pc, Detail: detail}
}

// call executes call and callx: a bpf-to-bpf call pushes a frame; a helper
// call runs the helper and, if it requested a tail call, switches programs.
func (s *state) call(ins *insn) error {
	m := s.m
	regs := &s.regs
	pc := s.pc
	if s.n >= s.limit {
		if err := s.checkpoint(); err != nil {
			return err
		}
	}
	target := int64(-1) // local call target slot, or -1 for a helper
	helperID := ins.imm
	switch {
	case ins.op == jmp|opCall|x:
		v := regs[ins.dst&15]
		if region, slot := vm.SplitAddr(v); region == vm.CodeRegion {
			target = int64(slot)
		} else if v>>32 == 0 {
			helperID = int64(v) // uBPF's convention: callx with a helper id
		} else {
			return s.fault(vm.FaultBadCall, fmt.Sprintf("callx target %#x is neither a function pointer nor a helper id", v))
		}
	case ins.src == 1:
		target = int64(pc) + 1 + ins.imm
	case ins.src != 0:
		return s.fault(vm.FaultBadCall, fmt.Sprintf("kfunc call (BTF id %d) is not supported", ins.imm))
	}
	if target >= 0 {
		if m.Depth+1 >= vm.MaxCallFrames {
			return s.fault(vm.FaultCallDepth, fmt.Sprintf("call would make frame %d; at most %d frames", m.Depth+2, vm.MaxCallFrames))
		}
		if target >= int64(s.c.prog.Slots()) || s.c.prog.InsnAt[target] < 0 {
			return s.fault(vm.FaultBadJump, fmt.Sprintf("call target slot %d is not an instruction", target))
		}
		f := &s.frames[s.nframes]
		s.nframes++
		f.code = s.c
		f.ret = pc + 1
		f.saved = [4]uint64{regs[6], regs[7], regs[8], regs[9]}
		f.fp = regs[10]
		f.mayCnt = s.mayCnt
		s.mayCnt = maxLoops
		m.Depth++
		m.ClearFrame(m.Depth)
		regs[10] = vm.FramePointer(m.Depth)
		s.pc = int(target)
		return nil
	}
	if helperID == 1 && s.c.prog.Inline&vm.InlineMapLookup != 0 && s.inlineLookup() {
		s.pc = pc + 1
		return nil
	}
	fn := s.c.prog.Helper(helperID)
	if fn == nil {
		return s.fault(vm.FaultBadCall, fmt.Sprintf("unknown helper %d", helperID))
	}
	m.Executed = s.n
	m.PC = pc
	v, err := fn(m, regs[1], regs[2], regs[3], regs[4], regs[5])
	s.n = m.Executed
	s.regions = m.Regions // the helper may have grown the shared space
	if err != nil {
		return helperFault(m, pc, err)
	}
	if m.PreserveR0 {
		m.PreserveR0 = false
	} else {
		regs[0] = v
	}
	if t := m.TailCallTarget; t != nil {
		// The target replaces the current function: same frame, r1 still
		// the context, a fresh stack.
		m.TailCallTarget = nil
		m.Program = t
		s.c = codeFor(t)
		m.ClearFrame(m.Depth)
		s.mayCnt = maxLoops
		s.pc = 0
		return nil
	}
	s.pc = pc + 1
	return nil
}

// inlineLookup runs bpf_map_lookup_elem on an array map without calling
// the helper (what a JIT would inline). It reports false, having done
// nothing, for anything else, which the helper then handles (and faults on).
func (s *state) inlineLookup() bool {
	regs := &s.regs
	obj, region, ok := s.m.MapAt(regs[1])
	if !ok {
		return false
	}
	mm, ok := obj.(*maps.Map)
	if !ok {
		return false
	}
	p := translate(s.regions, regs[2], 4)
	if p == nil || mm.KeySize() != 4 {
		return false
	}
	off, ok := mm.ArrayOffset(uint32(load32(p)), s.m.CPU)
	if !ok {
		if t := mm.Type(); t != maps.Array && t != maps.PerCPUArray {
			return false
		}
		regs[0] = 0 // index past the end: NULL
		return true
	}
	regs[0] = vm.Addr(region, off)
	return true
}

// atomic executes an atomic read-modify-write.
func (s *state) atomic(ins *insn) error {
	regs := &s.regs
	size := uint64(4)
	if ins.op&0x18 == szDW {
		size = 8
	}
	addr := regs[ins.dst&15] + uint64(int64(ins.off))
	p := translateW(s.regions, addr, size)
	if p == nil {
		return s.memFault(ins, s.pc, s.n)
	}
	if addr&(size-1) != 0 {
		s.m.Executed = s.n
		s.m.PC = s.pc
		return s.m.MemFault(vm.FaultMisaligned, addr, int(size))
	}
	src := ins.src & 15
	var old uint64
	if size == 4 {
		old = uint64(atomic32(p, ins.imm, uint32(regs[src]), uint32(regs[0])))
	} else {
		old = atomic64(p, ins.imm, regs[src], regs[0])
	}
	if ins.imm == 0xf1 { // cmpxchg
		regs[0] = old
	} else if ins.imm&0x01 != 0 {
		regs[src] = old
	}
	return nil
}

// legacyLoad executes ld_abs/ld_ind: a big-endian read from the packet at
// [DataStart, DataEnd) of RegionData. It reports false when the read is
// outside the packet.
func (s *state) legacyLoad(ins *insn) bool {
	m := s.m
	size := accessSize(ins.op)
	off := int64(int32(ins.imm))
	if ins.op&0xe0 == ind {
		off = int64(int32(uint32(s.regs[ins.src&15]) + uint32(ins.imm)))
	}
	start, end := int64(m.DataStart), int64(m.DataEnd)
	r := &s.regions[vm.RegionData]
	if off < 0 || start+off+int64(size) > end || end > int64(r.Len) {
		return false
	}
	p := unsafe.Add(r.Base, start+off)
	switch size {
	case 1:
		s.regs[0] = load8(p)
	case 2:
		s.regs[0] = uint64(bits.ReverseBytes16(uint16(load16(p))))
	default:
		s.regs[0] = uint64(bits.ReverseBytes32(uint32(load32(p))))
	}
	return true
}

// contextAccess runs a load or store the hot loop could not translate: one
// into the context goes to the program type's accessor, anything else faults.
func (s *state) contextAccess(ins *insn) error {
	m := s.m
	cls := ins.op & 0x07
	base := ins.dst
	if cls == ldx {
		base = ins.src
	}
	addr := s.regs[base&15] + uint64(int64(ins.off))
	size := accessSize(ins.op)
	if region, off := vm.SplitAddr(addr); region != vm.RegionContext || m.Context == nil {
		return s.memFault(ins, s.pc, s.n)
	} else if cls == ldx {
		m.PC = s.pc
		v, err := m.Context.LoadContext(m, off, int(size))
		if err != nil {
			m.Executed = s.n
			return err
		}
		if ins.op&0xe0 == memsx {
			shift := 64 - 8*size
			v = uint64(int64(v<<shift) >> shift)
		}
		s.regs[ins.dst&15] = v
	} else {
		v := uint64(ins.imm)
		if cls == stx {
			v = s.regs[ins.src&15]
		}
		m.PC = s.pc
		if err := m.Context.StoreContext(m, off, int(size), v); err != nil {
			m.Executed = s.n
			return err
		}
	}
	return nil
}

// memFault builds the fault of the failed access of a load, store or atomic.
func (s *state) memFault(ins *insn, pc int, n uint64) error {
	m := s.m
	base := ins.dst
	if ins.op&0x07 == ldx {
		base = ins.src
	}
	addr := s.regs[base&15] + uint64(int64(ins.off))
	size := accessSize(ins.op)
	m.Executed = n
	m.PC = pc
	_, kind := m.Translate(addr, size, ins.op&0x07 != ldx)
	return m.MemFault(kind, addr, int(size))
}

// checkpoint runs the budget and cancellation check at s.pc and sets the
// count of the next one.
func (s *state) checkpoint() error {
	m := s.m
	if s.n > m.Budget {
		return s.fault(vm.FaultBudget, fmt.Sprintf("executed %d instructions, budget %d", s.n, m.Budget))
	}
	m.PC = s.pc
	if err := m.Poll(); err != nil {
		m.Executed = s.n
		return err
	}
	s.limit = min(m.Budget+1, s.n+pollInterval)
	return nil
}

// translate maps a read of size bytes at addr to host memory, or returns nil.
func translate(regions []vm.Region, addr, size uint64) unsafe.Pointer {
	id := addr >> vm.RegionShift
	if id >= uint64(len(regions)) {
		return nil
	}
	r := &regions[id]
	o := addr & 0xffff_ffff
	if o+size > uint64(r.Len) {
		return nil
	}
	return unsafe.Add(r.Base, o)
}

// translateW is translate for writes.
func translateW(regions []vm.Region, addr, size uint64) unsafe.Pointer {
	id := addr >> vm.RegionShift
	if id >= uint64(len(regions)) {
		return nil
	}
	r := &regions[id]
	o := addr & 0xffff_ffff
	if o+size > uint64(r.Len) || r.Perm&vm.PermWrite == 0 {
		return nil
	}
	return unsafe.Add(r.Base, o)
}

func movsx32(v uint64, off int32) uint64 {
	switch off {
	case 8:
		return uint64(uint32(int32(int8(v))))
	case 16:
		return uint64(uint32(int32(int16(v))))
	}
	return uint64(uint32(v))
}

func truncate(v uint64, width int64) uint64 {
	switch width {
	case 16:
		return uint64(uint16(v))
	case 32:
		return uint64(uint32(v))
	}
	return v
}

// helperFault turns a helper's error into the run's error.
func helperFault(m *vm.Machine, pc int, err error) error {
	var f *vm.Fault
	if errors.As(err, &f) {
		return err
	}
	return &vm.Fault{Kind: vm.FaultHelper, PC: pc, Err: err}
}

func accessSize(op uint8) uint64 {
	switch op & 0x18 {
	case szB:
		return 1
	case szH:
		return 2
	case szW:
		return 4
	}
	return 8
}

// div64 is BPF division: by zero gives 0; signed (off 1) INT_MIN / -1 wraps.
func div64(a, b uint64, off int32) uint64 {
	if b == 0 {
		return 0
	}
	if off == 0 {
		return a / b
	}
	if int64(b) == -1 {
		return -a
	}
	return uint64(int64(a) / int64(b))
}

// mod64 is BPF modulo: by zero leaves the dividend; signed x % -1 is 0.
func mod64(a, b uint64, off int32) uint64 {
	if b == 0 {
		return a
	}
	if off == 0 {
		return a % b
	}
	if int64(b) == -1 {
		return 0
	}
	if smodBug { // a constant: only the ebpfvm_smodbug test build has this path
		return uint64(smodBuggy(int64(a), int64(b)))
	}
	return uint64(int64(a) % int64(b))
}

func div32(a, b uint32, off int32) uint32 {
	if b == 0 {
		return 0
	}
	if off == 0 {
		return a / b
	}
	if int32(b) == -1 {
		return -a
	}
	return uint32(int32(a) / int32(b))
}

func mod32(a, b uint32, off int32) uint32 {
	if b == 0 {
		return a
	}
	if off == 0 {
		return a % b
	}
	if int32(b) == -1 {
		return 0
	}
	return uint32(int32(a) % int32(b))
}

// bswap reverses the low width bits of v and zero-extends the result.
func bswap(v uint64, width int64) uint64 {
	switch width {
	case 16:
		return uint64(bits.ReverseBytes16(uint16(v)))
	case 32:
		return uint64(bits.ReverseBytes32(uint32(v)))
	}
	return bits.ReverseBytes64(v)
}

// cond32 evaluates a jump condition on 32-bit subregisters, for the class
// decoder.
func cond32(op uint8, a, b uint32) bool {
	if op >= opJLT {
		switch op {
		case opJLT:
			return a < b
		case opJLE:
			return a <= b
		case opJSLT:
			return int32(a) < int32(b)
		default:
			return int32(a) <= int32(b)
		}
	}
	switch op {
	case opJEq:
		return a == b
	case opJGT:
		return a > b
	case opJGE:
		return a >= b
	case opJSet:
		return a&b != 0
	case opJNE:
		return a != b
	case opJSGT:
		return int32(a) > int32(b)
	default: // opJSGE
		return int32(a) >= int32(b)
	}
}
