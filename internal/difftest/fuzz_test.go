package difftest

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/internal/progen"
	"github.com/ebpfvm/ebpfvm/isa"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/vm"
)

var fuzzTypes = []progtype.Type{progtype.Raw, progtype.SocketFilter, progtype.XDP}

// unsafeFaults are the faults a program ebpfvm's verifier accepted must
// never raise: the verifier proved its accesses, jumps and calls safe.
var unsafeFaults = map[vm.FaultKind]bool{
	vm.FaultOutOfBounds: true, vm.FaultNull: true, vm.FaultNotWritable: true, vm.FaultMisaligned: true,
	vm.FaultBadJump: true, vm.FaultInvalidInsn: true, vm.FaultContext: true, vm.FaultBadCall: true,
	vm.FaultCallDepth: true,
}

// FuzzVerifiedRun loads random bytecode through the facade, with ebpfvm's
// verifier: loading never panics and refuses only with a *SpecError, and a
// program the verifier accepts runs without a memory, context, jump or
// call fault (soundness). The input is one byte choosing the program type,
// two bytes of input length, the input, then bytecode; lddw instructions
// with a map pseudo source refer to an array map (even immediate) or a
// hash map (odd). The seed corpus (testdata/fuzz/FuzzVerifiedRun) holds
// generated programs, so that mutations stay close to verifiable ones.
func FuzzVerifiedRun(f *testing.F) {
	for i := range 4 {
		f.Add(fuzzEncode(progen.Generate(11, i, progen.Config{Blocks: 6})))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		typ := fuzzTypes[int(data[0])%len(fuzzTypes)]
		n := min(int(binary.LittleEndian.Uint16(data[1:])), len(data)-3)
		in, code := data[3:3+n], data[3+n:]
		insns, err := isa.Decode(code[:len(code)/isa.SlotSize*isa.SlotSize])
		if err != nil || len(insns) == 0 {
			return
		}
		spec := ebpfvm.NewProgramSpec("main", typ, insns)
		spec.Maps["arr"] = &ebpfvm.MapSpec{Spec: ebpfmaps.Spec{Type: ebpfmaps.Array, KeySize: 4, ValueSize: 32, MaxEntries: 4}}
		spec.Maps["hash"] = &ebpfvm.MapSpec{Spec: ebpfmaps.Spec{Type: ebpfmaps.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 4}}
		refs := map[int]ebpfvm.Reference{}
		for i, ins := range insns {
			switch {
			case ins.IsLDDW() && (ins.Src == isa.PseudoMapFD || ins.Src == isa.PseudoMapIdx):
				refs[i] = ebpfvm.Reference{Kind: ebpfvm.RefMap, Map: []string{"arr", "hash"}[ins.Imm&1]}
			case ins.IsLDDW() && (ins.Src == isa.PseudoMapValue || ins.Src == isa.PseudoMapIdxValue):
				refs[i] = ebpfvm.Reference{Kind: ebpfvm.RefMapValue, Map: "arr", Offset: int64(uint64(ins.Imm)>>32) % 32}
			}
		}
		spec.Programs["main"].References = refs
		done := make(chan error, 1)
		go func() {
			coll, err := ebpfvm.NewCollection(spec, &ebpfvm.CollectionOptions{NumCPU: 1})
			if err != nil {
				var se *ebpfvm.SpecError
				if !errors.As(err, &se) {
					done <- err
					return
				}
				done <- nil
				return
			}
			defer coll.Close()
			_, err = coll.Programs["main"].Execute(&ebpfvm.RunOptions{Data: in, Budget: 1_000_000, AnyCPU: true})
			var fault *vm.Fault
			if errors.As(err, &fault) && unsafeFaults[fault.Kind] {
				done <- err
				return
			}
			done <- nil
		}()
		select {
		case err := <-done:
			require.NoError(t, err, "accepted by the verifier:\n%s", isa.Listing(insns))
		case <-time.After(20 * time.Second):
			t.Fatalf("verifying and running did not end within 20s:\n%s", isa.Listing(insns))
		}
	})
}

// fuzzEncode turns a generated program into FuzzVerifiedRun's input.
func fuzzEncode(p *progen.Program) []byte {
	typ := byte(2)
	if p.Spec.Program.Type == "socket_filter" {
		typ = 1
	}
	insns := append([]isa.Instruction(nil), p.Spec.Program.Instructions...)
	for i, ref := range p.Spec.Program.References {
		if ref.Map == "hash" {
			insns[i].Imm |= 1
		}
	}
	b := []byte{typ, byte(len(p.Input.Data)), byte(len(p.Input.Data) >> 8)}
	b = append(b, p.Input.Data...)
	return append(b, isa.MustEncode(insns)...)
}
