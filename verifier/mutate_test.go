package verifier

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
	"github.com/ebpfvm/ebpfvm/kernel"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
	"github.com/stretchr/testify/require"
)

// rbSpec is the ring buffer the unsafe snippets reserve records in.
var rbSpec = ebpfmaps.Spec{Name: "rb", Type: ebpfmaps.RingBuf, MaxEntries: 4096}

// The unsafe-program mutator: it takes a program the kernel accepts and
// inserts, at its entry (which every path executes), a snippet that is
// unsafe by construction, of one of the categories below. A second mode
// mutates one random field of one instruction, for programs whose safety is
// unknown.

// unsafeKinds are the categories of unsafe snippets.
var unsafeKinds = []string{"oob", "nullcheck", "uninit", "helperarg", "loop"}

// snippets holds, per category, templates in LLVM syntax. At the entry r1 is
// the context and every other register but r10 uninitialised; snippets keep
// r1 and may use r2-r5 and r7-r9. "HASH", "ARR", "RB" stand for map pseudo
// loads of the program's maps.
var snippets = map[string][]string{
	"oob": {
		// map value past its end ({HVS} is the value size)
		"*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr7 = r1\nHASH r1\ncall 1\nr1 = r7\nif r0 == 0 goto +1\nr0 = *(u64 *)(r0 + {HVS})",
		// map value, variable offset not bounded above
		"*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr7 = r1\nHASH r1\ncall 1\nr1 = r7\nif r0 == 0 goto +3\nr3 = *(u32 *)(r0 + 0)\nr0 += r3\nr0 = *(u64 *)(r0 + 0)",
		// map value, negative offset
		"*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr7 = r1\nHASH r1\ncall 1\nr1 = r7\nif r0 == 0 goto +1\nr0 = *(u32 *)(r0 - 4)",
		// stack below its 512 bytes
		"*(u64 *)(r10 - 520) = 0",
		// stack above the frame pointer
		"r2 = *(u64 *)(r10 + 0)",
		// stack through a variable offset that can leave the frame
		"r2 = *(u32 *)(r1 + 0)\nr2 &= 1023\nr3 = r10\nr3 += -512\nr3 += r2\n*(u8 *)(r3 + 0) = 0",
		// context past its end
		"r2 = *(u32 *)(r1 + 4096)",
		// read-only context field
		"*(u32 *)(r1 + 0) = 1",
		// array map value through a constant key out of range: NULL, so
		// a check is needed
		"*(u32 *)(r10 - 4) = 0x7fffffff\nr2 = r10\nr2 += -4\nr7 = r1\nARR r1\ncall 1\nr1 = r7\nr0 = *(u64 *)(r0 + 0)",
	},
	"nullcheck": {
		"*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr7 = r1\nHASH r1\ncall 1\nr1 = r7\nr0 = *(u64 *)(r0 + 0)",
		"*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr7 = r1\nHASH r1\ncall 1\nr1 = r7\n*(u32 *)(r0 + 4) = 1",
		"*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr7 = r1\nHASH r1\ncall 1\nr1 = r7\nr0 += 8",
		"*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr7 = r1\nHASH r1\ncall 1\nr1 = r7\nif r0 == 0 goto +1\nr0 = 0\nr0 = *(u64 *)(r0 + 0)",
		"r2 = *(u32 *)(r1 + 0)\n*(u32 *)(r10 - 4) = r2\nr2 = r10\nr2 += -4\nr7 = r1\nARR r1\ncall 1\nr1 = r7\nr0 = *(u64 *)(r0 + 0)",
	},
	"uninit": {
		"r0 = r2",
		"r0 = r7\nr0 += 1",
		"if r9 > 3 goto +0",
		"*(u64 *)(r10 - 8) = r5",
		"r2 = r10\nr2 += r3",
		"call 5\nr0 = r1",
		"r0 = *(u32 *)(r8 + 0)",
	},
	"helperarg": {
		// map pointer that is a number
		"r1 = 0\nr2 = r10\ncall 1",
		// key that is a number
		"r7 = r1\nHASH r1\nr2 = 0\ncall 1\nr1 = r7",
		// value pointer to too little stack
		"*(u32 *)(r10 - 4) = 0\n*(u64 *)(r10 - 8) = 0\nr7 = r1\nHASH r1\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += 4\nr4 = 0\ncall 2\nr1 = r7",
		// ring buffer reservation with a size that is not a constant
		"r2 = *(u32 *)(r1 + 0)\nr7 = r1\nRB r1\nr3 = 0\ncall 131\nr1 = r7",
		// a map of the wrong type
		"r7 = r1\nARR r1\nr2 = 8\nr3 = 0\ncall 131\nr1 = r7",
		// size register without an upper bound
		"r2 = *(u32 *)(r1 + 0)\nr2 += 1\nr7 = r1\nr1 = r10\nr1 += -8\nr3 = 0\ncall 113\nr1 = r7",
		// ring buffer record leaked
		"r7 = r1\nRB r1\nr2 = 8\nr3 = 0\ncall 131\nr1 = r7\nif r0 == 0 goto +1\nexit",
		// ring buffer record released twice
		"r7 = r1\nRB r1\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto +6\nr8 = r0\nr1 = r0\nr2 = 0\ncall 132\nr1 = r8\nr2 = 0\ncall 132\nr1 = r7",
	},
	"loop": {
		"r2 = 0\nr2 += 1\nif r2 != 0 goto -2",
		"r2 = 0\nr2 += 0\nif r2 == 0 goto -2",
		"r2 = *(u32 *)(r1 + 0)\nr2 += 1\nif r2 != 0 goto -2",
		"r2 = 1\nr2 <<= 1\nif r2 != 0 goto -2\nr2 = 0\nif r2 == 0 goto -2",
	},
}

// relTarget returns the target slot of an instruction at slot s with a
// relative target (branches, bpf-to-bpf calls, function pointers), or -1.
func relTarget(ins isa.Instruction, s int) int {
	switch {
	case ins.IsBranch():
		return s + 1 + int(ins.BranchOffset())
	case ins.IsLocalCall(), ins.IsLDDW() && ins.Src == isa.PseudoFunc:
		return s + 1 + int(int32(ins.Imm))
	}
	return -1
}

func setRelTarget(ins *isa.Instruction, s, target int) {
	off := target - s - 1
	switch {
	case ins.Opcode == isa.OpJA32:
		ins.Imm = int64(off)
	case ins.IsBranch():
		ins.Offset = int16(off)
	default:
		ins.Imm = int64(int32(off))
	}
}

// insertAt inserts code before instruction idx, keeping every relative
// target pointing at the same instruction, and moves the references.
func insertAt(insns []isa.Instruction, refs map[int]kernel.Reference, idx int, code []isa.Instruction) ([]isa.Instruction, map[int]kernel.Reference) {
	oldSlots := isa.SlotIndex(insns)
	out := slices.Concat(insns[:idx:idx], code, insns[idx:])
	newSlots := isa.SlotIndex(out)
	// old instruction i is now at i' = i (i < idx) or i + len(code).
	moved := func(i int) int {
		if i < idx {
			return i
		}
		return i + len(code)
	}
	slotToInsn := map[int]int{}
	for i := range insns {
		slotToInsn[oldSlots[i]] = i
	}
	slotToInsn[oldSlots[len(insns)]] = len(insns)
	for i := range insns {
		t := relTarget(insns[i], oldSlots[i])
		if t < 0 {
			continue
		}
		ti, ok := slotToInsn[t]
		if !ok {
			continue
		}
		ni := moved(i)
		setRelTarget(&out[ni], newSlots[ni], newSlots[moved(ti)])
	}
	nrefs := map[int]kernel.Reference{}
	for k, v := range refs {
		nrefs[moved(k)] = v
	}
	return out, nrefs
}

// assembleSnippet assembles a snippet, turning its map placeholders into
// lddws whose references it returns by instruction index.
func assembleSnippet(src string, mapsOf map[string]string) ([]isa.Instruction, map[int]string, error) {
	lines := splitLines(src)
	var out []isa.Instruction
	refs := map[int]string{}
	for _, l := range lines {
		if len(l) > 3 && (l[:4] == "HASH" || l[:3] == "ARR" || l[:2] == "RB") {
			var name, reg string
			for k := range mapsOf {
				if len(l) > len(k) && l[:len(k)] == k && l[len(k)] == ' ' {
					name, reg = k, l[len(k)+1:]
				}
			}
			ins, err := asm.Assemble("snippet", "ld_pseudo "+reg+", 1, 0")
			if err != nil {
				return nil, nil, err
			}
			refs[len(out)] = mapsOf[name]
			out = append(out, ins...)
			continue
		}
		ins, err := asm.Assemble("snippet", l)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, ins...)
	}
	return out, refs, nil
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// mutateUnsafe returns a copy of spec with an unsafe snippet of kind at its
// entry, and a description.
func mutateUnsafe(spec *kernel.Spec, kind string, r *rand.Rand) (*kernel.Spec, string, error) {
	s := spec.Clone()
	if _, ok := s.Maps["rb"]; !ok {
		s.Maps["rb"] = &kernel.Map{Spec: rbSpec}
	}
	list := snippets[kind]
	pick := r.IntN(len(list))
	src := list[pick]
	if h, ok := s.Maps["hash"]; ok {
		src = strings.ReplaceAll(src, "{HVS}", strconv.Itoa(int(h.Spec.ValueSize)))
	}
	code, refs, err := assembleSnippet(src, map[string]string{"HASH": "hash", "ARR": "arr", "RB": "rb"})
	if err != nil {
		return nil, "", err
	}
	p := s.Program
	p.Instructions, p.References = insertAt(p.Instructions, p.References, 0, code)
	for i, m := range refs {
		p.References[i] = kernel.Reference{Map: m}
	}
	return s, kind + "#" + itoa(pick), nil
}

// mutateRandom changes one field of one random instruction; the result
// may or may not be safe.
func mutateRandom(spec *kernel.Spec, r *rand.Rand) (*kernel.Spec, string) {
	s := spec.Clone()
	insns := s.Program.Instructions
	for range 100 {
		i := r.IntN(len(insns))
		ins := insns[i]
		if ins.IsLDDW() {
			continue
		}
		what := ""
		switch r.IntN(6) {
		case 0:
			ins.Offset += int16(r.IntN(17) - 8)
			what = "offset"
		case 1:
			ins.Dst = isa.Register(r.IntN(11))
			what = "dst"
		case 2:
			ins.Src = isa.Register(r.IntN(11))
			what = "src"
		case 3:
			ins.Imm = int64(int32(r.Uint32()) >> r.IntN(32))
			if ins.IsHelperCall() {
				// Ids the loader cannot name are not the verifier's concern.
				ins.Imm = int64(r.IntN(212))
			}
			what = "imm"
		case 4:
			ins.Opcode ^= isa.Opcode(1 << (3 + r.IntN(5)))
			what = "opcode"
		case 5:
			ins.Offset = int16(r.IntN(64) - 32)
			what = "offset2"
		}
		if ins.Validate() != nil || ins.IsLDDW() || ins == insns[i] {
			continue
		}
		insns[i] = ins
		// The program must stay well formed: jumps inside, no fall-off.
		if !wellFormed(insns) {
			insns[i] = spec.Program.Instructions[i]
			continue
		}
		return s, what + "@" + itoa(i)
	}
	return s, "none"
}

func wellFormed(insns []isa.Instruction) bool {
	slots := isa.SlotIndex(insns)
	n := slots[len(insns)]
	starts := map[int]bool{}
	for i := range insns {
		starts[slots[i]] = true
	}
	for i, ins := range insns {
		if t := relTarget(ins, slots[i]); t >= 0 && (t >= n || !starts[t]) {
			return false
		}
		if ins.IsKfuncCall() || ins.Opcode == isa.OpCallX {
			return false
		}
	}
	last := insns[len(insns)-1]
	return last.IsExit() || last.IsUnconditionalJump()
}

// TestSnippets checks that every unsafe snippet assembles and that both
// verifiers' verdict on it is a rejection, at the entry of a trivial
// program with the campaign's maps.
func TestSnippets(t *testing.T) {
	insns, err := asm.Assemble("base", "r0 = 0\nexit")
	require.NoError(t, err)
	base := &kernel.Spec{
		Program: &kernel.Program{Type: kernel.TypeSocketFilter, Instructions: insns, References: map[int]kernel.Reference{}},
		Maps: map[string]*kernel.Map{
			"hash": {Spec: ebpfmaps.Spec{Type: ebpfmaps.Hash, KeySize: 4, ValueSize: 24, MaxEntries: 4}},
			"arr":  {Spec: ebpfmaps.Spec{Type: ebpfmaps.Array, KeySize: 4, ValueSize: 32, MaxEntries: 200}},
		},
	}
	for _, kind := range unsafeKinds {
		for i, src := range snippets[kind] {
			s := base.Clone()
			s.Maps["rb"] = &kernel.Map{Spec: rbSpec}
			src = strings.ReplaceAll(src, "{HVS}", "24")
			code, refs, err := assembleSnippet(src, map[string]string{"HASH": "hash", "ARR": "arr", "RB": "rb"})
			require.NoError(t, err, "%s#%d", kind, i)
			s.Program.Instructions, s.Program.References = insertAt(s.Program.Instructions, s.Program.References, 0, code)
			for j, m := range refs {
				s.Program.References[j] = kernel.Reference{Map: m}
			}
			_, err = Verify(fromKernelSpec(s), Options{MaxProcessed: 100000})
			require.Error(t, err, "%s#%d", kind, i)
		}
	}
}
