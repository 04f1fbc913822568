package kernel

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/ebpfvm/ebpfvm/internal/insnedit"
	"github.com/ebpfvm/ebpfvm/isa"
)

// The program rewrites Load makes before handing instructions to the
// kernel. They are pure functions over instructions, kept apart from the
// syscalls so that they are tested on every platform.

// __sk_buff offsets of the packet pointers a sched_cls program reads.
const (
	skbData    = 76
	skbDataEnd = 80
)

// rawPrologue turns the sched_cls entry state (r1 = struct __sk_buff *)
// into the raw convention: r1 = the input memory, which starts after the
// prepended Ethernet header, and r2 = its length. Subtracting two packet
// pointers is allowed to privileged programs and yields a scalar.
func rawPrologue() []isa.Instruction {
	return []isa.Instruction{
		isa.Load(isa.R2, isa.R1, skbDataEnd, isa.SizeW),
		isa.Load(isa.R1, isa.R1, skbData, isa.SizeW),
		isa.ALUSub.Reg(isa.R2, isa.R1),
		isa.ALUAdd.Imm(isa.R2, -ethHeaderLen),
		isa.ALUAdd.Imm(isa.R1, ethHeaderLen),
	}
}

// rawPrologueLen is the number of instructions (and slots) rawPrologue adds.
var rawPrologueLen = len(rawPrologue())

// patchMaps returns a copy of insns in which every referenced lddw loads
// the kernel map fds[ref.Map]: a map pointer (BPF_PSEUDO_MAP_FD) or a
// pointer into its value (BPF_PSEUDO_MAP_VALUE, offset in the upper half of
// the immediate).
func patchMaps(insns []isa.Instruction, refs map[int]Reference, fds map[string]int) ([]isa.Instruction, error) {
	out := make([]isa.Instruction, len(insns))
	copy(out, insns)
	for i, ref := range refs {
		fd, ok := fds[ref.Map]
		if !ok {
			return nil, fmt.Errorf("kernel: insn %d refers to map %q, which was not created", i, ref.Map)
		}
		ins := &out[i]
		if ref.Value {
			if ref.Offset < 0 || ref.Offset > 1<<31-1 {
				return nil, fmt.Errorf("kernel: insn %d: value offset %d out of range", i, ref.Offset)
			}
			ins.Src = isa.PseudoMapValue
			ins.Imm = int64(uint64(uint32(fd)) | uint64(ref.Offset)<<32)
		} else {
			ins.Src = isa.PseudoMapFD
			ins.Imm = int64(uint32(fd))
		}
	}
	return out, nil
}

// captureVariant returns insns with "r1 = &capture[0]; *(u64 *)(r1 + 0) =
// r0" inserted before every exit of the main function, so that a run
// leaves the whole of r0 in the capture map (fd) even though the test run
// returns only its low half. Clobbering r1 is harmless: at an exit of the
// main function only r0 is live. Exits of subprograms and callbacks return
// to their caller and are left alone.
func captureVariant(insns []isa.Instruction, fd int) ([]isa.Instruction, error) {
	funcs := insnedit.Functions(insns)
	mainEnd := len(insns)
	if len(funcs) > 1 {
		mainEnd = funcs[1]
	}
	capture := []isa.Instruction{
		isa.LoadPseudo(isa.R1, isa.PseudoMapValue, int32(fd), 0),
		isa.Store(isa.R1, 0, isa.R0, isa.SizeDW),
	}
	before := map[int][]isa.Instruction{}
	for i := range mainEnd {
		if insns[i].IsExit() {
			before[i] = capture
		}
	}
	if len(before) == 0 {
		return nil, fmt.Errorf("kernel: the main function has no exit")
	}
	out, _, err := insnedit.Apply(insns, nil, before)
	return out, err
}

var (
	insnLine   = regexp.MustCompile(`^(\d+): \([0-9a-f]{2}\)`)
	insnInText = regexp.MustCompile(`insn (\d+)`)
	// statsLine matches the statistics the verifier prints after its
	// verdict (BPF_LOG_STATS).
	statsLine = regexp.MustCompile(`^(processed \d+ insns|verification time|stack depth)`)
)

// parseRejection extracts the verifier's reason (its last message) and the
// instruction it stopped at from its log. shift is the number of slots
// added in front of the program, subtracted from the index.
func parseRejection(log []string, fallback string, shift int) (reason string, insn int) {
	insn = -1
	for i := len(log) - 1; i >= 0; i-- {
		if line := strings.TrimSpace(log[i]); line != "" && reason == "" && !statsLine.MatchString(line) {
			reason = line
		}
		if m := insnLine.FindStringSubmatch(log[i]); m != nil {
			insn, _ = strconv.Atoi(m[1])
			break
		}
	}
	if reason == "" {
		reason = fallback
	}
	if insn < 0 {
		if m := insnInText.FindStringSubmatch(reason); m != nil {
			insn, _ = strconv.Atoi(m[1])
		}
	}
	if insn >= 0 {
		insn -= shift
		if insn < 0 {
			insn = -1
		}
	}
	return reason, insn
}

// AddFuncInfo gives every function of a program with bpf-to-bpf calls or
// callbacks a BTF func_info, which the kernel demands of such programs:
// static functions returning u64, so that the verifier checks each one in
// the context of its callers, as it would without BTF. ci is insns as
// cilium/ebpf's asm encodes them, one entry per instruction.
func AddFuncInfo(insns []isa.Instruction, ci asm.Instructions) {
	starts := insnedit.Functions(insns)
	if len(starts) < 2 {
		return
	}
	u64 := &btf.Int{Name: "unsigned long long", Size: 8}
	for n, i := range starts {
		name := "main"
		if n > 0 {
			name = fmt.Sprintf("func%d", n)
		}
		fn := &btf.Func{Name: name, Type: &btf.FuncProto{Return: u64}, Linkage: btf.StaticFunc}
		ci[i] = btf.WithFuncMetadata(ci[i].WithSymbol(name), fn)
	}
}
