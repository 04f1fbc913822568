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

// state is a run's registers and everything the rare instructions need. It
// lives in memory (on the goroutine's stack), so that the hot loops keep
// only the instruction pointer and count in host registers; every call out
// of a loop passes them through pc and n here and reloads them after.
// fast_amd64.s reads and writes regs, regions, base, pc, n and limit.
type state struct {
	regs      [16]uint64
	m         *vm.Machine
	regions   []vm.Region
	c         *code
	base      unsafe.Pointer // &c.insns[0]
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
// returns. The hot loop (fastRun, or the Go loop below) runs the common
// kinds; everything else goes through state.slow.
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

	// compile guarantees that every branch lands inside c.insns (sentinels
	// follow the last slot), and the slow path checks call targets, so ip
	// always points into c.insns.
	s.pc, s.n = pc, m.Executed
	s.limit = min(m.Budget, s.n+pollInterval)
	if haveFast && useFast {
		return s.runFast()
	}
	// ip points at the instruction being run, or before the loop's first
	// step at the one before it (the slot before the first instruction is
	// a padding sentinel), and the loop moves it on first: then every case
	// ends with a jump to the loop's head and the compiler keeps ip in one
	// host register, without a copy between the cases and the head.
	//
	// acc counts executed instructions, scaled by insnSize, less the
	// address of the last instruction run: the count at any point is
	// (acc + ip) / insnSize. Straight-line code thus counts itself by
	// moving ip, and only a taken jump (and a lddw, which skips a slot)
	// adjusts acc. ip and acc are the hot loop's only variables; nothing in
	// the loop is live across a call, so that the compiler keeps both in
	// host registers instead of spilling them at every instruction.
	s.base = unsafe.Pointer(&c.insns[0])
	ip := unsafe.Add(s.base, (pc-1)*insnSize)
	acc := s.n*insnSize - uint64(uintptr(ip))

	for {
		ip = unsafe.Add(ip, insnSize)
		ins := (*insn)(ip)
		// One case per kind: a dense switch, which Go compiles into one
		// indirect jump through a table, with no decoding left in the
		// cases (measured: ALU loops 23-37% faster than the class decoder;
		// an earlier jump table over raw opcodes, which still decoded
		// operands in each case, had been slower). Each case continues
		// the loop itself: falling out of the switch costs one more jump
		// per instruction (measured 5.3 against 3.9 ns on ALULoop).
		switch ins.kind {
		case kGeneric, kSlow, kCallLocal, kExit:
			goto slow
		case kAdd64K:
			*reg(regs, ins.dst) += uint64(ins.imm)
			continue
		case kAdd64X:
			*reg(regs, ins.dst) += *reg(regs, ins.src)
			continue
		case kSub64K:
			*reg(regs, ins.dst) -= uint64(ins.imm)
			continue
		case kSub64X:
			*reg(regs, ins.dst) -= *reg(regs, ins.src)
			continue
		case kMul64K:
			*reg(regs, ins.dst) *= uint64(ins.imm)
			continue
		case kMul64X:
			*reg(regs, ins.dst) *= *reg(regs, ins.src)
			continue
		case kOr64K:
			*reg(regs, ins.dst) |= uint64(ins.imm)
			continue
		case kOr64X:
			*reg(regs, ins.dst) |= *reg(regs, ins.src)
			continue
		case kAnd64K:
			*reg(regs, ins.dst) &= uint64(ins.imm)
			continue
		case kAnd64X:
			*reg(regs, ins.dst) &= *reg(regs, ins.src)
			continue
		case kXor64K:
			*reg(regs, ins.dst) ^= uint64(ins.imm)
			continue
		case kXor64X:
			*reg(regs, ins.dst) ^= *reg(regs, ins.src)
			continue
		case kLsh64K:
			*reg(regs, ins.dst) <<= uint64(ins.imm) & 63
			continue
		case kLsh64X:
			*reg(regs, ins.dst) <<= *reg(regs, ins.src) & 63
			continue
		case kRsh64K:
			*reg(regs, ins.dst) >>= uint64(ins.imm) & 63
			continue
		case kRsh64X:
			*reg(regs, ins.dst) >>= *reg(regs, ins.src) & 63
			continue
		case kArsh64K:
			*reg(regs, ins.dst) = uint64(int64(*reg(regs, ins.dst)) >> (uint64(ins.imm) & 63))
			continue
		case kArsh64X:
			*reg(regs, ins.dst) = uint64(int64(*reg(regs, ins.dst)) >> (*reg(regs, ins.src) & 63))
			continue
		case kMov64K:
			*reg(regs, ins.dst) = uint64(ins.imm)
			continue
		case kMov64X:
			*reg(regs, ins.dst) = *reg(regs, ins.src)
			continue
		case kNeg64:
			*reg(regs, ins.dst) = -*reg(regs, ins.dst)
			continue
		case kAdd32K:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) + uint32(ins.imm))
			continue
		case kAdd32X:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) + uint32(*reg(regs, ins.src)))
			continue
		case kSub32K:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) - uint32(ins.imm))
			continue
		case kSub32X:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) - uint32(*reg(regs, ins.src)))
			continue
		case kMul32K:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) * uint32(ins.imm))
			continue
		case kMul32X:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) * uint32(*reg(regs, ins.src)))
			continue
		case kOr32K:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) | uint32(ins.imm))
			continue
		case kOr32X:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) | uint32(*reg(regs, ins.src)))
			continue
		case kAnd32K:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) & uint32(ins.imm))
			continue
		case kAnd32X:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) & uint32(*reg(regs, ins.src)))
			continue
		case kXor32K:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) ^ uint32(ins.imm))
			continue
		case kXor32X:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) ^ uint32(*reg(regs, ins.src)))
			continue
		case kLsh32K:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) << (uint32(ins.imm) & 31))
			continue
		case kLsh32X:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) << (uint32(*reg(regs, ins.src)) & 31))
			continue
		case kRsh32K:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) >> (uint32(ins.imm) & 31))
			continue
		case kRsh32X:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)) >> (uint32(*reg(regs, ins.src)) & 31))
			continue
		case kArsh32K:
			*reg(regs, ins.dst) = uint64(uint32(int32(*reg(regs, ins.dst)) >> (uint32(ins.imm) & 31)))
			continue
		case kArsh32X:
			*reg(regs, ins.dst) = uint64(uint32(int32(*reg(regs, ins.dst)) >> (uint32(*reg(regs, ins.src)) & 31)))
			continue
		case kMov32K:
			*reg(regs, ins.dst) = uint64(uint32(ins.imm))
			continue
		case kMov32X:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.src)))
			continue
		case kJA:
			goto taken
		case kJEqK:
			if *reg(regs, ins.dst) == uint64(ins.imm) {
				goto taken
			}
			continue
		case kJEqX:
			if *reg(regs, ins.dst) == *reg(regs, ins.src) {
				goto taken
			}
			continue
		case kJNEK:
			if *reg(regs, ins.dst) != uint64(ins.imm) {
				goto taken
			}
			continue
		case kJNEX:
			if *reg(regs, ins.dst) != *reg(regs, ins.src) {
				goto taken
			}
			continue
		case kJGTK:
			if *reg(regs, ins.dst) > uint64(ins.imm) {
				goto taken
			}
			continue
		case kJGTX:
			if *reg(regs, ins.dst) > *reg(regs, ins.src) {
				goto taken
			}
			continue
		case kJGEK:
			if *reg(regs, ins.dst) >= uint64(ins.imm) {
				goto taken
			}
			continue
		case kJGEX:
			if *reg(regs, ins.dst) >= *reg(regs, ins.src) {
				goto taken
			}
			continue
		case kJLTK:
			if *reg(regs, ins.dst) < uint64(ins.imm) {
				goto taken
			}
			continue
		case kJLTX:
			if *reg(regs, ins.dst) < *reg(regs, ins.src) {
				goto taken
			}
			continue
		case kJLEK:
			if *reg(regs, ins.dst) <= uint64(ins.imm) {
				goto taken
			}
			continue
		case kJLEX:
			if *reg(regs, ins.dst) <= *reg(regs, ins.src) {
				goto taken
			}
			continue
		case kJSGTK:
			if int64(*reg(regs, ins.dst)) > int64(uint64(ins.imm)) {
				goto taken
			}
			continue
		case kJSGTX:
			if int64(*reg(regs, ins.dst)) > int64(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJSGEK:
			if int64(*reg(regs, ins.dst)) >= int64(uint64(ins.imm)) {
				goto taken
			}
			continue
		case kJSGEX:
			if int64(*reg(regs, ins.dst)) >= int64(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJSLTK:
			if int64(*reg(regs, ins.dst)) < int64(uint64(ins.imm)) {
				goto taken
			}
			continue
		case kJSLTX:
			if int64(*reg(regs, ins.dst)) < int64(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJSLEK:
			if int64(*reg(regs, ins.dst)) <= int64(uint64(ins.imm)) {
				goto taken
			}
			continue
		case kJSLEX:
			if int64(*reg(regs, ins.dst)) <= int64(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJSetK:
			if *reg(regs, ins.dst)&uint64(ins.imm) != 0 {
				goto taken
			}
			continue
		case kJSetX:
			if *reg(regs, ins.dst)&*reg(regs, ins.src) != 0 {
				goto taken
			}
			continue
		case kJ32EqK:
			if uint32(*reg(regs, ins.dst)) == uint32(ins.imm) {
				goto taken
			}
			continue
		case kJ32EqX:
			if uint32(*reg(regs, ins.dst)) == uint32(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJ32NEK:
			if uint32(*reg(regs, ins.dst)) != uint32(ins.imm) {
				goto taken
			}
			continue
		case kJ32NEX:
			if uint32(*reg(regs, ins.dst)) != uint32(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJ32GTK:
			if uint32(*reg(regs, ins.dst)) > uint32(ins.imm) {
				goto taken
			}
			continue
		case kJ32GTX:
			if uint32(*reg(regs, ins.dst)) > uint32(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJ32GEK:
			if uint32(*reg(regs, ins.dst)) >= uint32(ins.imm) {
				goto taken
			}
			continue
		case kJ32GEX:
			if uint32(*reg(regs, ins.dst)) >= uint32(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJ32LTK:
			if uint32(*reg(regs, ins.dst)) < uint32(ins.imm) {
				goto taken
			}
			continue
		case kJ32LTX:
			if uint32(*reg(regs, ins.dst)) < uint32(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJ32LEK:
			if uint32(*reg(regs, ins.dst)) <= uint32(ins.imm) {
				goto taken
			}
			continue
		case kJ32LEX:
			if uint32(*reg(regs, ins.dst)) <= uint32(*reg(regs, ins.src)) {
				goto taken
			}
			continue
		case kJ32SGTK:
			if int32(uint32(*reg(regs, ins.dst))) > int32(uint32(ins.imm)) {
				goto taken
			}
			continue
		case kJ32SGTX:
			if int32(uint32(*reg(regs, ins.dst))) > int32(uint32(*reg(regs, ins.src))) {
				goto taken
			}
			continue
		case kJ32SGEK:
			if int32(uint32(*reg(regs, ins.dst))) >= int32(uint32(ins.imm)) {
				goto taken
			}
			continue
		case kJ32SGEX:
			if int32(uint32(*reg(regs, ins.dst))) >= int32(uint32(*reg(regs, ins.src))) {
				goto taken
			}
			continue
		case kJ32SLTK:
			if int32(uint32(*reg(regs, ins.dst))) < int32(uint32(ins.imm)) {
				goto taken
			}
			continue
		case kJ32SLTX:
			if int32(uint32(*reg(regs, ins.dst))) < int32(uint32(*reg(regs, ins.src))) {
				goto taken
			}
			continue
		case kJ32SLEK:
			if int32(uint32(*reg(regs, ins.dst))) <= int32(uint32(ins.imm)) {
				goto taken
			}
			continue
		case kJ32SLEX:
			if int32(uint32(*reg(regs, ins.dst))) <= int32(uint32(*reg(regs, ins.src))) {
				goto taken
			}
			continue
		case kJ32SetK:
			if uint32(*reg(regs, ins.dst))&uint32(ins.imm) != 0 {
				goto taken
			}
			continue
		case kJ32SetX:
			if uint32(*reg(regs, ins.dst))&uint32(*reg(regs, ins.src)) != 0 {
				goto taken
			}
			continue
		case kDiv64K:
			*reg(regs, ins.dst) = div64(*reg(regs, ins.dst), uint64(ins.imm), 0)
			continue
		case kDiv64X:
			*reg(regs, ins.dst) = div64(*reg(regs, ins.dst), *reg(regs, ins.src), 0)
			continue
		case kMod64K:
			*reg(regs, ins.dst) = mod64(*reg(regs, ins.dst), uint64(ins.imm), 0)
			continue
		case kMod64X:
			*reg(regs, ins.dst) = mod64(*reg(regs, ins.dst), *reg(regs, ins.src), 0)
			continue
		case kDiv32K:
			*reg(regs, ins.dst) = uint64(div32(uint32(*reg(regs, ins.dst)), uint32(ins.imm), 0))
			continue
		case kDiv32X:
			*reg(regs, ins.dst) = uint64(div32(uint32(*reg(regs, ins.dst)), uint32(*reg(regs, ins.src)), 0))
			continue
		case kMod32K:
			*reg(regs, ins.dst) = uint64(mod32(uint32(*reg(regs, ins.dst)), uint32(ins.imm), 0))
			continue
		case kMod32X:
			*reg(regs, ins.dst) = uint64(mod32(uint32(*reg(regs, ins.dst)), uint32(*reg(regs, ins.src)), 0))
			continue
		case kNeg32:
			*reg(regs, ins.dst) = uint64(-uint32(*reg(regs, ins.dst)))
			continue
		case kLe16:
			*reg(regs, ins.dst) = uint64(uint16(*reg(regs, ins.dst)))
			continue
		case kLe32:
			*reg(regs, ins.dst) = uint64(uint32(*reg(regs, ins.dst)))
			continue
		case kLe64:
			continue
		case kBswap16:
			*reg(regs, ins.dst) = uint64(bits.ReverseBytes16(uint16(*reg(regs, ins.dst))))
			continue
		case kBswap32:
			*reg(regs, ins.dst) = uint64(bits.ReverseBytes32(uint32(*reg(regs, ins.dst))))
			continue
		case kBswap64:
			*reg(regs, ins.dst) = bits.ReverseBytes64(*reg(regs, ins.dst))
			continue
		case kMovsx64B:
			*reg(regs, ins.dst) = uint64(int64(int8(*reg(regs, ins.src))))
			continue
		case kMovsx64H:
			*reg(regs, ins.dst) = uint64(int64(int16(*reg(regs, ins.src))))
			continue
		case kMovsx64W:
			*reg(regs, ins.dst) = uint64(int64(int32(*reg(regs, ins.src))))
			continue
		case kMovsx32B:
			*reg(regs, ins.dst) = uint64(uint32(int32(int8(*reg(regs, ins.src)))))
			continue
		case kMovsx32H:
			*reg(regs, ins.dst) = uint64(uint32(int32(int16(*reg(regs, ins.src)))))
			continue
		case kLdxSB, kLdxSH, kLdxSW:
			p := translate(s.regions, *reg(regs, ins.src)+uint64(int64(ins.off)), 1<<(ins.kind-kLdxSB))
			if p == nil {
				goto slow // a fault, or a context access
			}
			switch ins.kind {
			case kLdxSB:
				*reg(regs, ins.dst) = uint64(int64(int8(load8(p))))
			case kLdxSH:
				*reg(regs, ins.dst) = uint64(int64(int16(load16(p))))
			default:
				*reg(regs, ins.dst) = uint64(int64(int32(load32(p))))
			}
			continue
		case kLdxB, kLdxH, kLdxW, kLdxDW:
			p := translate(s.regions, *reg(regs, ins.src)+uint64(int64(ins.off)), 1<<(ins.kind-kLdxB))
			if p == nil {
				goto slow // a fault, or a context access
			}
			switch ins.kind {
			case kLdxB:
				*reg(regs, ins.dst) = load8(p)
			case kLdxH:
				*reg(regs, ins.dst) = load16(p)
			case kLdxW:
				*reg(regs, ins.dst) = load32(p)
			default:
				*reg(regs, ins.dst) = load64(p)
			}
			continue
		case kStxB, kStxH, kStxW, kStxDW:
			p := translateW(s.regions, *reg(regs, ins.dst)+uint64(int64(ins.off)), 1<<(ins.kind-kStxB))
			if p == nil {
				goto slow
			}
			switch v := *reg(regs, ins.src); ins.kind {
			case kStxB:
				store8(p, v)
			case kStxH:
				store16(p, v)
			case kStxW:
				store32(p, v)
			default:
				store64(p, v)
			}
			continue
		case kStB, kStH, kStW, kStDW:
			p := translateW(s.regions, *reg(regs, ins.dst)+uint64(int64(ins.off)), 1<<(ins.kind-kStB))
			if p == nil {
				goto slow
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
			continue
		case kLDDW:
			// The resolved 64-bit value; the second slot is skipped.
			*reg(regs, ins.dst) = uint64(ins.imm)
			ip = unsafe.Add(ip, insnSize)
			acc -= insnSize // a lddw counts as one instruction

			continue
		}
		continue

	taken:
		// A taken jump: ip moves to the slot before the target.
		acc -= uint64(int64(ins.off) * insnSize)
		ip = unsafe.Add(ip, int(ins.off)*insnSize)
		if ins.off < 0 && (acc+uint64(uintptr(ip)))/insnSize >= s.limit {
			// A backward jump past the count of the periodic budget and
			// cancellation check.
			s.pc = int(uintptr(ip)-uintptr(s.base))/insnSize + 1
			s.n = (acc + uint64(uintptr(ip))) / insnSize
			if err := s.checkpoint(s.pc - 1 - int(ins.off)); err != nil {
				return 0, err
			}
			goto resume
		}
		continue

	slow:
		// Everything the switch does not run, and the memory accesses it
		// could not translate: s.slow, with the state in s.
		s.pc = int(uintptr(ip)-uintptr(s.base)) / insnSize
		s.n = (acc + uint64(uintptr(ip))) / insnSize
		if err := s.slow(ins); err != nil {
			return 0, err
		}
		if s.done {
			return regs[0], nil
		}

	resume:
		// Reload the loop's variables from s, where the slow path and
		// checkpoints leave them (s.c may be another program now).
		s.base = unsafe.Pointer(&s.c.insns[0])
		ip = unsafe.Add(s.base, (s.pc-1)*insnSize)
		acc = s.n*insnSize - uint64(uintptr(ip))
	}
}

// useFast selects fastRun where it exists; tests turn it off to run the Go
// loop on every platform.
var useFast = true

// runFast runs s in fastRun, and in s.slow what fastRun leaves to Go.
func (s *state) runFast() (uint64, error) {
	for {
		s.base = unsafe.Pointer(&s.c.insns[0])
		fastRun(s)
		for {
			if err := s.slow(&s.c.insns[s.pc]); err != nil {
				return 0, err
			}
			if s.done {
				return s.regs[0], nil
			}
			// Instructions fastRun would hand straight back (a run of
			// exits, say) stay here: a round trip costs a few ns.
			if k := s.c.insns[s.pc].kind; k != kSlow && k != kGeneric {
				break
			}
			s.n++ // s.slow counts the instruction it runs

		}
	}
}

// reg is register r of regs, without the bounds check indexing costs: compile
// keeps every register number below 16.
func reg(regs *[16]uint64, r uint8) *uint64 {
	return (*uint64)(unsafe.Add(unsafe.Pointer(regs), uintptr(r)*8))
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
		return s.jump(ins, int(ins.imm))

	case jmp | opJCnd | k: // may_goto: falls through until the frame's count runs out
		if s.mayCnt > 0 {
			s.mayCnt--
			s.pc = pc + 1
			return nil
		}
		return s.jump(ins, int(ins.off))

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
	// What the hot loop's switch has no case for, and loads and stores it
	// could not translate (context accesses and faults).
	return s.generic(ins)
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
		if err := s.checkpoint(pc); err != nil {
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

// The kernel's negative offsets for ld_abs/ld_ind (SKF_NET_OFF and
// SKF_LL_OFF in linux/filter.h): from the network header and from the
// link-layer (MAC) header.
const (
	skfNetOff = -0x100000
	skfLLOff  = -0x200000
	// macHeaderLen is where the kernel's MAC header starts before the
	// network header in a socket filter's test run: an Ethernet header.
	macHeaderLen = 14
)

// legacyLoad executes ld_abs/ld_ind: a big-endian read from the packet at
// [DataStart, DataEnd) of RegionData. It reports false when the read is
// outside the packet.
//
// Offsets from SKF_NET_OFF on count from the network header, where the
// packet of every program type that has these instructions starts. Those
// from SKF_LL_OFF count from the link-layer header, which the kernel puts
// 14 bytes (an Ethernet header) before it: a read from the packet's bytes
// succeeds, one reaching into that header fails, for ebpfvm's packets do
// not carry one. Offsets below SKF_LL_OFF fail, as in the kernel.
func (s *state) legacyLoad(ins *insn) bool {
	m := s.m
	size := accessSize(ins.op)
	off := int64(int32(ins.imm))
	if ins.op&0xe0 == ind {
		off = int64(int32(uint32(s.regs[ins.src&15]) + uint32(ins.imm)))
	}
	switch {
	case off >= 0:
	case off >= skfNetOff:
		off -= skfNetOff
	case off >= skfLLOff:
		off -= skfLLOff + macHeaderLen
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

// checkpoint runs the budget and cancellation check at the instruction pc
// (a backward jump or a call) and sets the count of the next one.
func (s *state) checkpoint(pc int) error {
	m := s.m
	if s.n > m.Budget {
		s.pc = pc
		return s.fault(vm.FaultBudget, fmt.Sprintf("executed %d instructions, budget %d", s.n, m.Budget))
	}
	m.PC = pc
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
