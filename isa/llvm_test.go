package isa_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
)

// The tests in this file compare the package with LLVM 19's BPF
// disassembler (llvm-mc -disassemble), the reference for the text syntax.
// They run llvm-mc once per test on a batch of instructions.

const llvmMC = "llvm-mc-19"

// llvmNumInstructions is how many random instructions are compared.
const llvmNumInstructions = 12000

// needLLVM returns the path of llvm-mc, skipping the test when it is
// missing, except under CI, where a silently skipped comparison would hide
// a broken setup.
func needLLVM(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath(llvmMC)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", llvmMC, err)
		}
		t.Skipf("%s not found: %v", llvmMC, err)
	}
	return path
}

// llvmResult is what llvm-mc made of one input block.
type llvmResult struct {
	text     string // the disassembly, whitespace normalised
	accepted bool
}

var warningLine = regexp.MustCompile(`^[^:]*:(\d+):\d+: warning: invalid instruction encoding`)

// llvmDisassemble feeds each block of bytes to llvm-mc as one instruction
// (one "[0x.. ...]" line each) and returns, per block, LLVM's text or that
// it refused the encoding.
func llvmDisassemble(t *testing.T, blocks [][]byte) []llvmResult {
	t.Helper()
	mc := needLLVM(t)
	var in strings.Builder
	for _, b := range blocks {
		in.WriteByte('[')
		for i, c := range b {
			if i > 0 {
				in.WriteByte(' ')
			}
			fmt.Fprintf(&in, "0x%02x", c)
		}
		in.WriteString("]\n")
	}
	file := filepath.Join(t.TempDir(), "input.txt")
	require.NoError(t, os.WriteFile(file, []byte(in.String()), 0o644))
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(mc, "-triple=bpfel", "-mcpu=v4", "-disassemble", file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// llvm-mc exits 1 when it met an invalid encoding; the warnings say which.
	if err := cmd.Run(); err != nil && stderr.Len() == 0 {
		t.Fatalf("%s: %v", mc, err)
	}

	refused := map[int]bool{}
	for line := range strings.Lines(stderr.String()) {
		if m := warningLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			refused[n-1] = true
		}
	}
	var texts []string
	for line := range strings.Lines(stdout.String()) {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" || strings.HasPrefix(line, ".") {
			continue
		}
		texts = append(texts, line)
	}
	require.Equal(t, len(blocks)-len(refused), len(texts), "llvm-mc printed one line per accepted block")
	out := make([]llvmResult, len(blocks))
	for i := range blocks {
		if !refused[i] {
			out[i] = llvmResult{text: texts[0], accepted: true}
			texts = texts[1:]
		}
	}
	return out
}

// lossy returns the instruction LLVM's text denotes when the text loses
// fields of ins (see the doc comment of Instruction.String), and the name of
// the exception; otherwise ins itself and "".
func lossy(ins isa.Instruction) (isa.Instruction, string) {
	switch {
	case ins.IsLocalCall():
		ins.Src = isa.CallHelper
		return ins, "local call printed as helper call"
	case ins.IsKfuncCall():
		ins.Src = isa.CallHelper
		return ins, "kfunc call printed as helper call"
	case ins.IsLDDW() && ins.Src != isa.PseudoNone && uint64(ins.Imm)>>32 != 0:
		ins.Imm = int64(uint32(ins.Imm))
		return ins, "ld_pseudo high word dropped"
	case ins.Opcode.Class() == isa.ClassLD && ins.Opcode.Mode() == isa.ModeIND && ins.Imm != 0:
		ins.Imm = 0
		return ins, "ld_ind immediate dropped"
	}
	return ins, ""
}

func encode(t *testing.T, insns ...isa.Instruction) []byte {
	t.Helper()
	b, err := isa.Encode(insns)
	require.NoError(t, err)
	return b
}

// TestLLVMDisassembly compares String with LLVM's disassembly of thousands
// of random valid instructions covering every variant, and assembles LLVM's
// text back with isa/asm.
func TestLLVMDisassembly(t *testing.T) {
	needLLVM(t)
	insns := randomInstructions(1, llvmNumInstructions)
	blocks := make([][]byte, len(insns))
	for i, ins := range insns {
		blocks[i] = encode(t, ins)
	}
	results := llvmDisassemble(t, blocks)

	exceptions := map[string]int{}
	var llvmText, ourText strings.Builder
	for i, ins := range insns {
		res := results[i]
		require.True(t, res.accepted, "LLVM refused %s (% x)", ins, blocks[i])
		denoted, exception := lossy(ins)
		if exception != "" {
			exceptions[exception]++
		}
		require.Equal(t, denoted.String(), res.text, "instruction %d, bytes % x (%s)", i, blocks[i], exception)
		fmt.Fprintln(&llvmText, res.text)
		fmt.Fprintln(&ourText, ins.String())
	}

	// LLVM's text assembles to the bytes it denotes (the original bytes,
	// except the fields the exceptions lose); ours to the original bytes.
	fromLLVM, err := asm.Assemble("llvm-mc output", llvmText.String())
	require.NoError(t, err)
	fromOurs, err := asm.Assemble("String output", ourText.String())
	require.NoError(t, err)
	require.Len(t, fromLLVM, len(insns))
	require.Len(t, fromOurs, len(insns))
	for i, ins := range insns {
		denoted, _ := lossy(ins)
		require.Equal(t, encode(t, denoted), encode(t, fromLLVM[i]), "LLVM text %q", results[i].text)
		require.Equal(t, blocks[i], encode(t, fromOurs[i]), "our text %q", ins.String())
	}

	// Coverage: every variant Decode accepts is among the compared ones.
	count := map[variant]int{}
	for _, ins := range insns {
		count[variantOf(ins)]++
	}
	var missing []variant
	for _, v := range acceptedVariants() {
		if count[v] == 0 {
			missing = append(missing, v)
		}
	}
	require.Empty(t, missing, "variants never generated")
	t.Logf("compared %d random instructions (%d variants) with %s; documented lossy exceptions: %v",
		len(insns), len(count), llvmMC, exceptions)
	require.Len(t, exceptions, 4, "every documented exception was exercised")
}

var encodingComment = regexp.MustCompile(`# encoding: \[([^\]]*)\]`)

// TestLLVMAssemblesOurText has llvm-mc assemble the text String prints and
// compares the bytes. For the documented exceptions LLVM gets the text of
// the instruction its own syntax can express (see lossy).
func TestLLVMAssemblesOurText(t *testing.T) {
	mc := needLLVM(t)
	// LLVM 19's assembler takes only 16-bit gotol offsets ("operand is not
	// an identifier or 16-bit signed integer"), although its disassembler
	// prints any: leave larger ones out, counted.
	var insns []isa.Instruction
	longGotol := 0
	for _, ins := range randomInstructions(3, llvmNumInstructions) {
		if ins.Opcode == isa.OpJA32 && int64(int16(ins.Imm)) != ins.Imm {
			longGotol++
			continue
		}
		insns = append(insns, ins)
	}
	var src strings.Builder
	for _, ins := range insns {
		denoted, _ := lossy(ins)
		fmt.Fprintln(&src, denoted.String())
	}
	file := filepath.Join(t.TempDir(), "input.s")
	require.NoError(t, os.WriteFile(file, []byte(src.String()), 0o644))
	out, err := exec.Command(mc, "-triple=bpfel", "-mcpu=v4", "-show-encoding", file).CombinedOutput()
	require.NoError(t, err, "%s", out)
	matches := encodingComment.FindAllStringSubmatch(string(out), -1)
	require.Len(t, matches, len(insns))
	for i, ins := range insns {
		var got []byte
		for _, f := range strings.Split(matches[i][1], ",") {
			v, err := strconv.ParseUint(strings.TrimSpace(f), 0, 8)
			require.NoError(t, err, "encoding %q", matches[i][1])
			got = append(got, byte(v))
		}
		denoted, _ := lossy(ins)
		require.Equal(t, encode(t, denoted), got, "%q", denoted.String())
	}
	t.Logf("llvm-mc assembled %d lines of our text to the same bytes (left out: %d gotol beyond 16 bits, which LLVM 19's assembler refuses)", len(insns), longGotol)
}

// TestLLVMOpcodeSweep offers LLVM every opcode byte with each value of the
// fields that select a variant. Every encoding that both LLVM and Decode
// accept must be a variant the random generator covers; encodings only LLVM
// accepts are logged: LLVM's disassembler is laxer than RFC 9669.
func TestLLVMOpcodeSweep(t *testing.T) {
	needLLVM(t)
	type cand struct {
		ins isa.Instruction
		b   []byte
	}
	var cands []cand
	imms := []int64{0, 1, 16, 32, 64, 1 << 16, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1}
	for op := range 256 {
		for src := range 4 {
			for _, off := range []int16{0, 1, 8, 16, 32} {
				for _, imm := range imms {
					ins := isa.Instruction{Opcode: isa.Opcode(op), Src: isa.Register(src), Offset: off, Imm: imm}
					cands = append(cands, cand{ins, encode(t, ins)})
				}
			}
		}
	}
	blocks := make([][]byte, len(cands))
	for i, c := range cands {
		blocks[i] = c.b
	}
	results := llvmDisassemble(t, blocks)

	covered := map[variant]bool{}
	for _, ins := range randomInstructions(1, llvmNumInstructions) {
		covered[variantOf(ins)] = true
	}
	laxer := map[string][]string{}
	both, llvmOnly := 0, 0
	for i, c := range cands {
		if !results[i].accepted {
			continue
		}
		dec, err := isa.Decode(c.b)
		if err != nil {
			llvmOnly++
			addLaxer(laxer, err, c.b, results[i].text)
			continue
		}
		both++
		require.True(t, covered[variantOf(dec[0])], "LLVM knows %s (%q), never generated", variantOf(dec[0]), results[i].text)
	}
	t.Logf("opcode sweep: %d encodings, %d accepted by LLVM and Decode, %d by LLVM only", len(cands), both, llvmOnly)
	logLaxer(t, laxer)
}

var numbers = regexp.MustCompile(`-?0x[0-9a-f]+|-?\d+`)

// addLaxer records an encoding LLVM accepts and Decode refuses, grouped by
// the kind of Decode's reason (numbers elided), with a few examples.
func addLaxer(laxer map[string][]string, err error, b []byte, text string) {
	key := numbers.ReplaceAllString(err.(*isa.DecodeError).Reason, "N")
	example := ""
	if len(laxer[key]) < 3 {
		example = fmt.Sprintf("% x => %q", b[:8], text)
	}
	laxer[key] = append(laxer[key], example)
}

func logLaxer(t *testing.T, laxer map[string][]string) {
	reasons := make([]string, 0, len(laxer))
	for r := range laxer {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		examples := slices.DeleteFunc(slices.Clone(laxer[r]), func(s string) bool { return s == "" })
		t.Logf("  LLVM accepts, Decode refuses (%d): %s; e.g. %s", len(laxer[r]), r, strings.Join(examples, "; "))
	}
}

// TestLLVMRejectedByDecode offers LLVM random slots that Decode refuses and
// records, without failing, the ones LLVM accepts.
func TestLLVMRejectedByDecode(t *testing.T) {
	needLLVM(t)
	g := newGen(2)
	var blocks [][]byte
	var errs []error
	for len(blocks) < 5000 {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		// Bias towards plausible encodings: a random field of a valid
		// instruction disturbed.
		if g.r.IntN(2) == 0 {
			valid := encode(t, families[g.r.IntN(len(families))].gen(g))
			copy(b, valid[:8])
			b[1+g.r.IntN(7)] ^= byte(1 << g.r.IntN(8))
		}
		if b[0] == uint8(isa.OpLDDW) {
			b = append(b, make([]byte, 8)...)
			b[8+g.r.IntN(8)] = byte(g.r.Uint32())
		}
		_, err := isa.Decode(b)
		if err == nil {
			continue
		}
		blocks = append(blocks, b)
		errs = append(errs, err)
	}
	results := llvmDisassemble(t, blocks)
	laxer := map[string][]string{}
	accepted := 0
	for i, r := range results {
		if !r.accepted {
			continue
		}
		accepted++
		addLaxer(laxer, errs[i], blocks[i], r.text)
	}
	t.Logf("%d random encodings refused by Decode; LLVM accepts %d of them", len(blocks), accepted)
	logLaxer(t, laxer)
}
