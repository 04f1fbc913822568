package interp_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/helpers"
	"github.com/ebpfvm/ebpfvm/interp"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/vm"
)

// fuzzBudget bounds every fuzzed run, so that no input hangs; hangLimit is
// how long a run may take before it counts as hung.
const (
	fuzzBudget = 20_000
	hangLimit  = 10 * time.Second
)

var fuzzTypes = []progtype.Type{progtype.Raw, progtype.SocketFilter, progtype.XDP}

// FuzzInterp runs random, unverified bytecode: never a panic, never more
// than the budget, and every failure a *vm.Fault. The input is one byte
// choosing the program type, two bytes of input-memory length, the memory,
// then the bytecode; slots that do not decode run as the invalid
// instructions they are. Programs may use an array map and a hash map and
// every helper the type allows. The seed corpus is in
// testdata/fuzz/FuzzInterp.
func FuzzInterp(f *testing.F) {
	f.Add(fuzzInput(0, nil, isa.ALUMov.Imm(isa.R0, 1), isa.Return()))
	f.Add(fuzzInput(2, make([]byte, 20), isa.Load(isa.R2, isa.R1, 0, isa.SizeW), isa.Load(isa.R0, isa.R2, 0, isa.SizeB), isa.Return()))
	f.Add(fuzzInput(1, []byte{1, 2, 3}, isa.ALUMov.Reg(isa.R6, isa.R1), isa.LoadAbs(0, isa.SizeH), isa.Return()))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		typ := fuzzTypes[int(data[0])%len(fuzzTypes)]
		n := min(int(binary.LittleEndian.Uint16(data[1:])), len(data)-3)
		mem, code := data[3:3+n], data[3+n:]
		insns := lenientDecode(code)
		if len(insns) == 0 {
			return
		}
		got := fuzzRun(t, typ, mem, insns, true)
		if interp.HaveFast {
			// The assembly loop and the Go loop must agree on everything a
			// run leaves behind.
			want := fuzzRun(t, typ, mem, insns, false)
			require.Equal(t, want, got, "the assembly loop and the Go loop differ on:\n%s", isa.Listing(insns))
		}
	})
}

// fuzzResult is what a fuzzed run leaves behind.
type fuzzResult struct {
	Invalid  bool // the program was refused before running
	R0       uint64
	Err      string
	Executed uint64
	PC       int
	Data     []byte
	Context  []byte
	Maps     [][]byte
}

// fuzzRun runs insns on fresh maps, with fastRun on or off: never a panic,
// never more than the budget, and every failure a *vm.Fault.
func fuzzRun(t *testing.T, typ progtype.Type, mem []byte, insns []isa.Instruction, fast bool) fuzzResult {
	defer interp.SetFast(interp.SetFast(fast))
	space := vm.NewSpace()
	arr, err := maps.New(&maps.Spec{Name: "arr", Type: maps.Array, KeySize: 4, ValueSize: 16, MaxEntries: 4}, maps.Options{NumCPU: 1})
	require.NoError(t, err)
	defer arr.Close()
	hash, err := maps.New(&maps.Spec{Name: "hash", Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4}, maps.Options{NumCPU: 1})
	require.NoError(t, err)
	defer hash.Close()
	var handles []uint64
	for _, m := range []*maps.Map{arr, hash} {
		i, err := helpers.RegisterMap(space, m, false)
		require.NoError(t, err)
		handles = append(handles, vm.MapHandle(i))
	}
	p, err := vm.NewProgram(insns, vm.ProgramOptions{
		Helpers: helpers.Standard().Table(typ.HelperAllowed),
		Space:   space,
		Meta:    typ,
		Resolve: func(ins isa.Instruction, _ int) (uint64, error) {
			// Map pointers name one of the two maps; value pointers
			// point into the array's first value.
			h := handles[uint32(ins.Imm)%2]
			switch ins.Src {
			case isa.PseudoMapFD, isa.PseudoMapIdx:
				return h, nil
			case isa.PseudoMapValue, isa.PseudoMapIdxValue:
				_, region, _ := space.Map(handles[0])
				return vm.Addr(region, uint32(ins.Imm>>32)%16), nil
			}
			return 0, fmt.Errorf("pseudo source %d", ins.Src)
		},
	})
	if err != nil {
		var pe *vm.ProgramError
		require.ErrorAs(t, err, &pe)
		return fuzzResult{Invalid: true}
	}
	m := vm.NewMachine(space)
	m.Budget = fuzzBudget
	// Fixed clock and random numbers, so that two runs can be compared.
	m.Env = &helpers.Env{Clock: func() uint64 { return 1e9 }, Rand: func() uint32 { return 4 }}
	run, err := typ.Setup(m, &progtype.Input{Data: mem})
	require.NoError(t, err)
	// A hang is a failure too: the fuzzer itself only notices crashes.
	type outcome struct {
		r0  uint64
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r0, err := interp.New(p).Run(m, run.Args[:]...)
		done <- outcome{r0, err}
	}()
	var out outcome
	select {
	case out = <-done:
	case <-time.After(hangLimit):
		t.Fatalf("the run did not end within %v (budget %d):\n%s", hangLimit, fuzzBudget, isa.Listing(insns))
	}
	res := fuzzResult{R0: out.r0, Executed: m.Executed, PC: m.PC}
	if out.err != nil {
		var f *vm.Fault
		require.True(t, errors.As(out.err, &f), "not a *vm.Fault: %T %v", out.err, out.err)
		res.Err = out.err.Error()
		res.R0 = 0
	}
	// Between two budget checks (backward jumps and calls) only forward
	// jumps run, so a run overshoots by at most the program's length.
	require.LessOrEqual(t, m.Executed, uint64(fuzzBudget+p.Slots()), "ran past the budget")
	res.Data = append([]byte(nil), run.Data()...)
	res.Context = append([]byte(nil), run.Context()...)
	for _, mm := range []*maps.Map{arr, hash} {
		for k, v := range mm.All() {
			res.Maps = append(res.Maps, append(append([]byte(nil), k...), v...))
		}
	}
	slices.SortFunc(res.Maps, bytes.Compare) // hash maps iterate in no fixed order
	return res
}

// lenientDecode decodes what isa.Decode accepts and otherwise turns each
// slot into an instruction as it is, valid or not, so that the
// interpreter meets every encoding.
func lenientDecode(code []byte) []isa.Instruction {
	code = code[:len(code)/isa.SlotSize*isa.SlotSize]
	if insns, err := isa.Decode(code); err == nil {
		return insns
	}
	var out []isa.Instruction
	for i := 0; i+isa.SlotSize <= len(code); i += isa.SlotSize {
		s := code[i:]
		ins := isa.Instruction{
			Opcode: isa.Opcode(s[0]),
			Dst:    isa.Register(s[1] & 0xf),
			Src:    isa.Register(s[1] >> 4),
			Offset: int16(binary.LittleEndian.Uint16(s[2:])),
			Imm:    int64(int32(binary.LittleEndian.Uint32(s[4:]))),
		}
		if ins.IsLDDW() {
			if i+2*isa.SlotSize > len(code) {
				ins.Opcode = 0 // a cut-off lddw: an invalid instruction
			} else {
				ins.Imm = int64(uint64(uint32(ins.Imm)) | uint64(binary.LittleEndian.Uint32(s[12:]))<<32)
				i += isa.SlotSize
			}
		}
		out = append(out, ins)
	}
	return out
}

func fuzzInput(typ byte, mem []byte, insns ...isa.Instruction) []byte {
	b := []byte{typ, byte(len(mem)), byte(len(mem) >> 8)}
	b = append(b, mem...)
	return append(b, isa.MustEncode(insns)...)
}
