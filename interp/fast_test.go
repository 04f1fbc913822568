package interp

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/vm"
	"github.com/stretchr/testify/require"
)

// TestFastLayout checks what fast_amd64.s assumes of the types it reads
// without go_asm.h: vm.Region's layout, the region shift, the write
// permission bit and the pre-decoded instruction's field offsets.
func TestFastLayout(t *testing.T) {
	var r vm.Region
	require.Equal(t, uintptr(16), unsafe.Sizeof(r), "translate scales region ids by 16")
	require.Equal(t, uintptr(0), unsafe.Offsetof(r.Base))
	require.Equal(t, uintptr(8), unsafe.Offsetof(r.Len))
	require.Equal(t, uintptr(4), unsafe.Sizeof(r.Len))
	require.Equal(t, uintptr(12), unsafe.Offsetof(r.Perm))
	require.Equal(t, vm.Perm(2), vm.PermWrite)
	require.Equal(t, 32, vm.RegionShift)
	var ins insn
	require.Equal(t, uintptr(1), unsafe.Offsetof(ins.dst))
	require.Equal(t, uintptr(2), unsafe.Offsetof(ins.src))
	require.Equal(t, uintptr(3), unsafe.Offsetof(ins.kind))
	require.Equal(t, uintptr(4), unsafe.Offsetof(ins.off))
	require.Equal(t, uintptr(8), unsafe.Offsetof(ins.imm))
	require.Equal(t, uintptr(16), unsafe.Sizeof(ins))
	require.Len(t, state{}.regs, 16, "handlers index the registers by a 4-bit number")
}

// TestFastGenerated checks that the committed fast_amd64.s and its
// declarations are what gen_fast.go writes from the kinds of code.go.
func TestFastGenerated(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the go tool is not on PATH")
		}
		t.Skip("the go tool is not on PATH")
	}
	dir := t.TempDir()
	cmd := exec.Command(goTool, "run", "gen_fast.go", "-o", dir)
	// The generator runs on the host, whatever the tests are built for.
	cmd.Env = append(os.Environ(), "GOOS=", "GOARCH=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, name := range []string{"fast_amd64.s", "fast_handlers_amd64.go"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		got, err := os.ReadFile(name)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want, got), "%s is stale: run go generate ./interp", name)
	}
}

// TestFastKinds runs every ALU and jump opcode the hot loops have a case
// for on random registers and operands, in fastRun and in the Go loop, and
// compares the registers after it (and whether the jump was taken).
func TestFastKinds(t *testing.T) {
	if !haveFast {
		t.Skip("no fastRun on this platform: the Go loop is the only one")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	special := []int64{0, 1, -1, 31, 32, 33, 63, 64, 65, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 0xffffffff, 0x80000000}
	value := func() int64 {
		if rng.IntN(3) == 0 {
			return special[rng.IntN(len(special))]
		}
		return int64(rng.Uint64())
	}
	counts := map[bool]int{} // runs by whether the marker was skipped
	covered := map[uint8]bool{}
	for op := range 256 {
		for range 200 {
			cls := isa.Opcode(op).Class()
			jump := cls == isa.ClassJMP || cls == isa.ClassJMP32
			ins := isa.Instruction{
				Opcode: isa.Opcode(op),
				Dst:    isa.Register(rng.IntN(10)),
				Src:    isa.Register(rng.IntN(10)),
				Imm:    int64(int32(value())),
			}
			switch {
			case jump:
				ins.Offset = 1 // over the marker below
			case (cls == isa.ClassALU || cls == isa.ClassALU64) && uint8(op)&0xf0 == uint8(isa.ALUEnd):
				ins.Imm = []int64{16, 32, 64}[rng.IntN(3)]
			default:
				ins.Offset = []int16{0, 0, 1, 8, 16, 32}[rng.IntN(6)] // sdiv, smod, movsx
			}
			// Operand fields an instruction does not use must be zero.
			alu := cls == isa.ClassALU || cls == isa.ClassALU64
			switch {
			case alu && uint8(op)&0xf0 == uint8(isa.ALUEnd):
				ins.Src = 0 // the source bit is the byte order
			case alu && uint8(op)&0xf0 == uint8(isa.ALUNeg):
				ins.Src, ins.Imm = 0, 0
			case uint8(op)&0x08 == 0:
				ins.Src = 0
			default:
				ins.Imm = 0
			}
			if ins.Validate() != nil {
				continue
			}
			kd := kindOf(ins)
			if kd == kGeneric || kd == kSlow || kd == kLDDW || kd >= kLdxB && kd <= kStDW || kd >= kLdxSB && kd <= kLdxSW {
				continue
			}
			covered[kd] = true
			var insns []isa.Instruction
			// r1 (the memory) is kept on the stack.
			insns = append(insns, isa.Store(isa.R10, -8, isa.R1, isa.SizeDW))
			for r := isa.R0; r <= isa.R9; r++ {
				insns = append(insns, isa.LoadImm64(r, value()))
			}
			// A taken jump skips the marker, which the not taken path
			// stores over the stack's zero.
			insns = append(insns, isa.StoreImm(isa.R10, -16, 0, isa.SizeDW), ins, isa.StoreImm(isa.R10, -16, 0x5a5a, isa.SizeDW))
			// Save r0..r9 into the memory.
			insns = append(insns, isa.Store(isa.R10, -24, isa.R1, isa.SizeDW), isa.Load(isa.R1, isa.R10, -8, isa.SizeDW))
			for r := isa.R0; r <= isa.R9; r++ {
				if r != isa.R1 {
					insns = append(insns, isa.Store(isa.R1, int16(8*r), r, isa.SizeDW))
				}
			}
			insns = append(insns, isa.Load(isa.R2, isa.R10, -24, isa.SizeDW), isa.Store(isa.R1, 8, isa.R2, isa.SizeDW))
			insns = append(insns, isa.Load(isa.R2, isa.R10, -16, isa.SizeDW), isa.Store(isa.R1, 80, isa.R2, isa.SizeDW), isa.ALUMov.Imm(isa.R0, 0), isa.Return())
			taken := [2]bool{}
			mems := [2][]byte{}
			for i, fast := range []bool{true, false} {
				func() {
					defer SetFast(SetFast(fast))
					p, err := vm.NewProgram(insns, vm.ProgramOptions{})
					require.NoError(t, err)
					m := vm.NewMachine(nil)
					args, out, err := progtype.SetupRaw(m, make([]byte, 88))
					require.NoError(t, err)
					_, err = New(p).Run(m, args[:]...)
					require.NoError(t, err)
					mems[i] = append([]byte(nil), out...)
					taken[i] = out[80] == 0
				}()
			}
			require.Equal(t, mems[1], mems[0], "fastRun and the Go loop differ on %v", ins)
			counts[taken[0]]++
		}
	}
	require.Greater(t, counts[true], 1000, "taken jumps")
	for kd := kAdd64K; kd < kCallLocal; kd++ {
		if kd < kLdxB || kd > kStDW && kd != kLDDW && (kd < kLdxSB || kd > kLdxSW) {
			require.True(t, covered[kd], "kind %d was not tested", kd)
		}
	}
}

// TestFastCalls runs bpf-to-bpf calls and returns, which fastRun handles
// itself, in fastRun and in the Go loop: results, faults, counts and the
// frames' stacks must agree.
func TestFastCalls(t *testing.T) {
	if !haveFast {
		t.Skip("no fastRun on this platform: the Go loop is the only one")
	}
	recursion := []isa.Instruction{ // calls itself until the frame limit faults
		isa.ALUAdd.Imm(isa.R0, 1),
		isa.LocalCall(-2),
		isa.Return(),
	}
	cases := []struct {
		name   string
		insns  []isa.Instruction
		budget uint64
	}{
		{"chain", callChain(50), 0},
		{"chain out of budget", callChain(1000), 500},
		{"recursion to the frame limit", recursion, 0},
		{"callee stack is cleared", []isa.Instruction{
			isa.LocalCall(2), // f dirties its frame
			isa.LocalCall(4), // g reads the same frame
			isa.Return(),
			isa.StoreImm(isa.R10, -8, 77, isa.SizeDW), // f: the frame's top and bottom
			isa.StoreImm(isa.R10, -512, 1000, isa.SizeDW),
			isa.Return(),
			isa.Load(isa.R0, isa.R10, -8, isa.SizeDW), // g: 0, not 1077
			isa.Load(isa.R1, isa.R10, -512, isa.SizeDW),
			isa.ALUAdd.Reg(isa.R0, isa.R1),
			isa.Return(),
		}, 0},
		{"callee-saved registers and frame pointer", []isa.Instruction{
			isa.ALUMov.Imm(isa.R6, 6), isa.ALUMov.Imm(isa.R9, 9),
			isa.StoreImm(isa.R10, -8, 5, isa.SizeDW),
			isa.LocalCall(4),
			isa.Load(isa.R0, isa.R10, -8, isa.SizeDW),
			isa.ALUAdd.Reg(isa.R0, isa.R6), isa.ALUAdd.Reg(isa.R0, isa.R9),
			isa.Return(),
			isa.ALUMov.Imm(isa.R6, 60), isa.ALUMov.Imm(isa.R9, 90), // clobbered by the callee
			isa.StoreImm(isa.R10, -8, 50, isa.SizeDW), // its own frame
			isa.ALUMov.Reg(isa.R0, isa.R10),
			isa.Return(),
		}, 0},
		{"call in a loop", []isa.Instruction{
			isa.ALUMov.Imm(isa.R6, 1000),
			isa.LocalCall(3),
			isa.ALUSub.Imm(isa.R6, 1),
			isa.JumpNE.Imm(isa.R6, 0, -3),
			isa.Return(),
			isa.ALUAdd.Reg(isa.R0, isa.R6),
			isa.Return(),
		}, 0},
	}
	type result struct {
		R0       uint64
		Err      string
		Executed uint64
		PC       int
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]result
			for i, fast := range []bool{true, false} {
				func() {
					defer SetFast(SetFast(fast))
					p, err := vm.NewProgram(tc.insns, vm.ProgramOptions{})
					require.NoError(t, err)
					m := vm.NewMachine(nil)
					if tc.budget != 0 {
						m.Budget = tc.budget
					}
					args, _, err := progtype.SetupRaw(m, nil)
					require.NoError(t, err)
					r0, err := New(p).Run(m, args[:]...)
					got[i] = result{R0: r0, Executed: m.Executed, PC: m.PC}
					if err != nil {
						got[i].Err = err.Error()
					}
				}()
			}
			require.Equal(t, got[1], got[0], "fastRun, then the Go loop")
			if tc.name == "callee stack is cleared" {
				require.Zero(t, got[0].R0)
			}
		})
	}
}

// TestStackLayout checks what fastRun's call handler assumes of the stack
// region: frame d's r10 is stackBytes-512*d into it, and ClearFrame(d)
// clears the 512 bytes below that.
func TestStackLayout(t *testing.T) {
	m := vm.NewMachine(nil)
	r := m.Regions[vm.RegionStack]
	require.Equal(t, uint32(vm.StackSize*vm.MaxCallFrames), r.Len)
	mem := unsafe.Slice((*byte)(r.Base), r.Len)
	for d := range vm.MaxCallFrames {
		for i := range mem {
			mem[i] = 0xff
		}
		m.ClearFrame(d)
		fp := vm.FramePointer(d)
		require.Equal(t, uint64(vm.RegionStack)<<vm.RegionShift|uint64(int(r.Len)-vm.StackSize*d), fp)
		lo := int(uint32(fp)) - vm.StackSize
		for i := range mem {
			require.Equal(t, i >= lo && i < lo+vm.StackSize, mem[i] == 0, "byte %d after ClearFrame(%d)", i, d)
		}
	}
}
