package ebpfvm

import (
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/vm"
	"github.com/stretchr/testify/require"
)

func assemble(t testing.TB, src string) []isa.Instruction {
	t.Helper()
	insns, err := asm.Assemble(t.Name(), src)
	require.NoError(t, err)
	return insns
}

// lddwRefs returns references for the lddw instructions of insns, in
// order, to the given maps.
func lddwRefs(insns []isa.Instruction, refs ...Reference) map[int]Reference {
	out := map[int]Reference{}
	for i, ins := range insns {
		if ins.IsLDDW() && ins.Src != isa.PseudoNone && ins.Src != isa.PseudoFunc && len(refs) > 0 {
			out[i] = refs[0]
			refs = refs[1:]
		}
	}
	return out
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func TestArrayCounterAndGlobalData(t *testing.T) {
	// counts[0] += rodata.step; return the new count.
	insns := assemble(t, `
		*(u32 *)(r10 - 4) = 0
		ld_pseudo r1, 1, 0
		r2 = r10
		r2 += -4
		call 1
		if r0 == 0 goto miss
		ld_pseudo r2, 2, 0
		r2 = *(u64 *)(r2 + 8)
		lock *(u64 *)(r0 + 0) += r2
		r0 = *(u64 *)(r0 + 0)
		exit
	miss:
		r0 = -1
		exit`)
	spec := &CollectionSpec{
		Maps: map[string]*MapSpec{
			"counts": {Spec: ebpfmaps.Spec{Name: "counts", Type: ebpfmaps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}},
			".rodata": {Spec: ebpfmaps.Spec{Name: ".rodata", Type: ebpfmaps.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1, Flags: ebpfmaps.FlagRdonlyProg},
				Contents: []MapKV{{Key: u32(0), Value: append(u64(99), u64(5)...)}}, ReadOnly: true},
		},
		Programs: map[string]*ProgramSpec{
			"count": {Name: "count", Instructions: insns, References: lddwRefs(insns,
				Reference{Kind: RefMap, Map: "counts"}, Reference{Kind: RefMapValue, Map: ".rodata"})},
		},
	}
	coll, err := NewCollection(spec, &CollectionOptions{NumCPU: 2})
	require.NoError(t, err)
	defer coll.Close()
	p := coll.Programs["count"]
	for i := 1; i <= 3; i++ {
		r0, _, err := p.Test(nil)
		require.NoError(t, err)
		require.Equal(t, uint64(5*i), r0)
	}
	v, err := ebpfmaps.LookupAs[uint32, uint64](coll.Maps["counts"], 0)
	require.NoError(t, err)
	require.Equal(t, uint64(15), v)

	// The program cannot write .rodata: the verifier rejects it, and
	// unverified it faults.
	bad := assemble(t, "ld_pseudo r1, 2, 0\n*(u64 *)(r1 + 0) = 1\nr0 = 0\nexit")
	spec.Programs = map[string]*ProgramSpec{"bad": {Name: "bad", Instructions: bad, References: lddwRefs(bad, Reference{Kind: RefMapValue, Map: ".rodata"})}}
	_, err = NewCollection(spec, nil)
	require.ErrorContains(t, err, "write into map forbidden")
	coll2, err := NewCollection(spec, &CollectionOptions{NoVerify: true})
	require.NoError(t, err)
	defer coll2.Close()
	_, _, err = coll2.Programs["bad"].Test(nil)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultNotWritable, f.Kind)
}

func TestHashMapFromProgramAndGo(t *testing.T) {
	// Insert key r1-memory[0..4) with value 7 (NOEXIST), return the errno.
	insns := assemble(t, `
		r6 = r1
		*(u64 *)(r10 - 8) = 7
		ld_pseudo r1, 1, 0
		r2 = r6
		r3 = r10
		r3 += -8
		r4 = 1
		call 2
		exit`)
	spec := &CollectionSpec{
		Maps: map[string]*MapSpec{"h": {Spec: ebpfmaps.Spec{Name: "h", Type: ebpfmaps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 2}}},
		Programs: map[string]*ProgramSpec{"ins": {Name: "ins", Instructions: insns,
			References: lddwRefs(insns, Reference{Kind: RefMap, Map: "h"})}},
	}
	coll, err := NewCollection(spec, nil)
	require.NoError(t, err)
	defer coll.Close()
	p := coll.Programs["ins"]
	r0, _, err := p.Test(u32(1))
	require.NoError(t, err)
	require.Equal(t, uint64(0), r0)
	r0, _, err = p.Test(u32(1))
	require.NoError(t, err)
	require.Equal(t, uint64(1<<64-17), r0) // -EEXIST
	r0, _, err = p.Test(u32(2))
	require.NoError(t, err)
	require.Equal(t, uint64(0), r0)
	r0, _, err = p.Test(u32(3))
	require.NoError(t, err)
	require.Equal(t, uint64(1<<64-7), r0) // -E2BIG: full
	v, err := coll.Maps["h"].Lookup(u32(2))
	require.NoError(t, err)
	require.Equal(t, u64(7), v)
}

func TestTailCallThroughProgArray(t *testing.T) {
	entry := assemble(t, `
		r6 = r1
		ld_pseudo r2, 1, 0
		r3 = *(u32 *)(r6 + 0)
		call 12
		r0 = 1000
		exit`)
	target := assemble(t, `
		r0 = *(u32 *)(r1 + 4)
		exit`)
	spec := &CollectionSpec{
		Maps: map[string]*MapSpec{"jmp": {Spec: ebpfmaps.Spec{Name: "jmp", Type: ebpfmaps.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 4},
			Contents: []MapKV{{Key: u32(2), Program: "target"}}}},
		Programs: map[string]*ProgramSpec{
			"entry":  {Name: "entry", Instructions: entry, References: lddwRefs(entry, Reference{Kind: RefMap, Map: "jmp"})},
			"target": {Name: "target", Instructions: target},
		},
	}
	coll, err := NewCollection(spec, nil)
	require.NoError(t, err)
	defer coll.Close()
	r0, _, err := coll.Programs["entry"].Test(append(u32(2), u32(77)...))
	require.NoError(t, err)
	require.Equal(t, uint64(77), r0)
	r0, _, err = coll.Programs["entry"].Test(append(u32(1), u32(77)...))
	require.NoError(t, err)
	require.Equal(t, uint64(1000), r0)
}

func TestRingbufOutputReachesGo(t *testing.T) {
	insns := assemble(t, `
		r6 = r1
		ld_pseudo r1, 1, 0
		r2 = 16
		r3 = 0
		call 131
		if r0 == 0 goto full
		r1 = *(u64 *)(r6 + 0)
		*(u64 *)(r0 + 0) = r1
		*(u64 *)(r0 + 8) = 42
		r1 = r0
		r2 = 0
		call 132
		r0 = 0
		exit
	full:
		r0 = 1
		exit`)
	spec := &CollectionSpec{
		Maps: map[string]*MapSpec{"events": {Spec: ebpfmaps.Spec{Name: "events", Type: ebpfmaps.RingBuf, MaxEntries: 4096}}},
		Programs: map[string]*ProgramSpec{"emit": {Name: "emit", Instructions: insns,
			References: lddwRefs(insns, Reference{Kind: RefMap, Map: "events"})}},
	}
	coll, err := NewCollection(spec, nil)
	require.NoError(t, err)
	defer coll.Close()
	rd, err := ebpfmaps.NewRingbufReader(coll.Maps["events"])
	require.NoError(t, err)
	defer rd.Close()
	for i := range 10 {
		r0, _, err := coll.Programs["emit"].Test(u64(uint64(i)))
		require.NoError(t, err)
		require.Equal(t, uint64(0), r0)
	}
	rd.SetDeadline(time.Now().Add(time.Second))
	for i := range 10 {
		rec, err := rd.Read()
		require.NoError(t, err)
		require.Equal(t, append(u64(uint64(i)), u64(42)...), rec.RawSample)
	}
}

func TestXDPProgramTypeAndHelperRules(t *testing.T) {
	// Drop packets shorter than 60 bytes, else shrink by 4 and pass.
	insns := assemble(t, `
		r6 = r1
		r2 = *(u32 *)(r6 + 0)
		r3 = *(u32 *)(r6 + 4)
		r3 -= r2
		r0 = 1
		if r3 < 60 goto out
		r1 = r6
		r2 = -4
		call 65
		r0 = 2
	out:
		exit`)
	coll, err := NewCollection(&CollectionSpec{Programs: map[string]*ProgramSpec{"x": {Name: "x", Type: progtype.XDP, Instructions: insns}}}, nil)
	require.NoError(t, err)
	defer coll.Close()
	r0, out, err := coll.Programs["x"].Test(make([]byte, 64))
	require.NoError(t, err)
	require.Equal(t, uint64(progtype.XDPPass), r0)
	require.Len(t, out, 60)
	r0, out, err = coll.Programs["x"].Test(make([]byte, 20))
	require.NoError(t, err)
	require.Equal(t, uint64(progtype.XDPDrop), r0)
	require.Len(t, out, 20)

	// A raw program may not call an XDP helper... (raw allows all); a socket
	// filter may not.
	_, err = NewCollection(&CollectionSpec{Programs: map[string]*ProgramSpec{"s": {Name: "s", Type: progtype.SocketFilter, Instructions: insns}}}, nil)
	var se *SpecError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 8, se.Insn)
	require.ErrorContains(t, err, "bpf_xdp_adjust_tail")
}

func TestStructuralChecks(t *testing.T) {
	tests := []struct {
		name  string
		insns []isa.Instruction
		want  string
	}{
		{"jump out", []isa.Instruction{isa.Ja(5), isa.Return()}, "jump to slot 6"},
		{"jump into lddw", []isa.Instruction{isa.Ja(1), isa.LoadImm64(isa.R0, 1), isa.Return()}, "jump to slot 2"},
		{"falls off", []isa.Instruction{isa.ALUMov.Imm(isa.R0, 1)}, "falls off"},
		{"unknown helper", []isa.Instruction{isa.HelperCall(9999), isa.Return()}, "unknown helper 9999"},
		{"unresolved map", []isa.Instruction{isa.LoadPseudo(isa.R1, isa.PseudoMapFD, 3, 0), isa.Return()}, "refers to no map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCollection(NewProgramSpec("p", nil, tt.insns), nil)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestConcurrentRunsSharePerCPUMaps(t *testing.T) {
	// Each run adds 1 to its CPU's slot of a per-CPU array; with runs pinned
	// to free virtual CPUs, no increment is lost.
	insns := assemble(t, `
		*(u32 *)(r10 - 4) = 0
		ld_pseudo r1, 1, 0
		r2 = r10
		r2 += -4
		call 1
		if r0 == 0 goto out
		r1 = *(u64 *)(r0 + 0)
		r1 += 1
		*(u64 *)(r0 + 0) = r1
	out:
		r0 = 0
		exit`)
	spec := &CollectionSpec{
		Maps: map[string]*MapSpec{"pc": {Spec: ebpfmaps.Spec{Name: "pc", Type: ebpfmaps.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}}},
		Programs: map[string]*ProgramSpec{"inc": {Name: "inc", Instructions: insns,
			References: lddwRefs(insns, Reference{Kind: RefMap, Map: "pc"})}},
	}
	coll, err := NewCollection(spec, &CollectionOptions{NumCPU: 4})
	require.NoError(t, err)
	defer coll.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if _, _, err := coll.Programs["inc"].Test(nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	values, err := coll.Maps["pc"].LookupPerCPU(u32(0))
	require.NoError(t, err)
	var sum uint64
	for _, v := range values {
		sum += binary.LittleEndian.Uint64(v)
	}
	require.Equal(t, uint64(8*500), sum)
}

func TestHookProgramType(t *testing.T) {
	type request struct {
		Method uint32 `ebpf:"method"`
		Size   uint32 `ebpf:"size"`
		Allow  uint32 `ebpf:"allow,rw"`
	}
	hook, err := progtype.HookFromStruct("http_request", request{})
	require.NoError(t, err)
	// allow = method == 1 && size < 100
	insns := assemble(t, `
		r2 = *(u32 *)(r1 + 0)
		r3 = *(u32 *)(r1 + 4)
		r0 = 0
		if r2 != 1 goto out
		if r3 >= 100 goto out
		r0 = 1
	out:
		*(u32 *)(r1 + 8) = r0
		exit`)
	coll, err := NewCollection(&CollectionSpec{Programs: map[string]*ProgramSpec{"policy": {Name: "policy", Type: hook, Instructions: insns}}}, nil)
	require.NoError(t, err)
	defer coll.Close()
	for _, tt := range []struct {
		req  request
		want uint32
	}{{request{Method: 1, Size: 10}, 1}, {request{Method: 2, Size: 10}, 0}, {request{Method: 1, Size: 1000}, 0}} {
		ctx, err := hook.Encode(tt.req)
		require.NoError(t, err)
		res, err := coll.Programs["policy"].Execute(&RunOptions{Context: ctx, AnyCPU: true})
		require.NoError(t, err)
		var out request
		require.NoError(t, hook.Decode(res.Context, &out))
		require.Equal(t, tt.want, out.Allow)
	}

	// Writing a read-only field: the verifier rejects it, and unverified
	// it faults at run time.
	bad := assemble(t, "*(u32 *)(r1 + 0) = 5\nr0 = 0\nexit")
	badSpec := &CollectionSpec{Programs: map[string]*ProgramSpec{"bad": {Name: "bad", Type: hook, Instructions: bad}}}
	_, err = NewCollection(badSpec, nil)
	require.ErrorContains(t, err, "invalid bpf_context access off=0 size=4")
	coll2, err := NewCollection(badSpec, &CollectionOptions{NoVerify: true})
	require.NoError(t, err)
	defer coll2.Close()
	_, err = coll2.Programs["bad"].Execute(&RunOptions{AnyCPU: true})
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultContext, f.Kind)
	require.ErrorContains(t, err, "method is read-only")
}

func TestForEachMapElem(t *testing.T) {
	// Sum the values of an array through a callback.
	insns := assemble(t, `
		*(u64 *)(r10 - 8) = 0
		ld_pseudo r1, 1, 0
		ld_pseudo r2, 4, 7
		r3 = r10
		r3 += -8
		r4 = 0
		call 164
		r0 = *(u64 *)(r10 - 8)
		exit
		r1 = *(u64 *)(r3 + 0)
		r2 = *(u64 *)(r4 + 0)
		r1 += r2
		*(u64 *)(r4 + 0) = r1
		r0 = 0
		exit`)
	spec := &CollectionSpec{
		Maps: map[string]*MapSpec{"a": {Spec: ebpfmaps.Spec{Name: "a", Type: ebpfmaps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 4},
			Contents: []MapKV{{Key: u32(0), Value: u64(1)}, {Key: u32(1), Value: u64(20)}, {Key: u32(3), Value: u64(300)}}}},
		Programs: map[string]*ProgramSpec{"sum": {Name: "sum", Instructions: insns, References: lddwRefs(insns, Reference{Kind: RefMap, Map: "a"})}},
	}
	coll, err := NewCollection(spec, nil)
	require.NoError(t, err)
	defer coll.Close()
	r0, _, err := coll.Programs["sum"].Test(nil)
	require.NoError(t, err)
	require.Equal(t, uint64(321), r0)
}

// TestMapSharedByProgramsAndGo has 8 goroutines update and look up one hash
// map, four through a running program and four through the Go API, while a
// ninth iterates it; -race checks that ebpfvm's side of it is sound.
func TestMapSharedByProgramsAndGo(t *testing.T) {
	// key = r1-memory[0..4); value += 1 atomically; return the value (0 if
	// the key is missing).
	insns := assemble(t, `
		r6 = r1
		ld_pseudo r1, 1, 0
		r2 = r6
		call 1
		if r0 == 0 goto out
		r1 = 1
		lock *(u64 *)(r0 + 0) += r1
		r0 = *(u64 *)(r0 + 0)
	out:
		exit`)
	spec := &CollectionSpec{
		Maps: map[string]*MapSpec{"h": {Spec: ebpfmaps.Spec{Name: "h", Type: ebpfmaps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64}}},
		Programs: map[string]*ProgramSpec{"inc": {Name: "inc", Instructions: insns,
			References: lddwRefs(insns, Reference{Kind: RefMap, Map: "h"})}},
	}
	coll, err := NewCollection(spec, &CollectionOptions{NumCPU: 4})
	require.NoError(t, err)
	defer coll.Close()
	m := coll.Maps["h"]
	for k := range 32 {
		require.NoError(t, m.Update(u32(uint32(k)), u64(0), ebpfmaps.UpdateNoExist))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				key := u32(uint32(i % 32))
				if g < 4 {
					if _, _, err := coll.Programs["inc"].Test(key); err != nil {
						errs <- err
						return
					}
					continue
				}
				if _, err := m.Lookup(key); err != nil && !errors.Is(err, ebpfmaps.ErrKeyNotExist) {
					errs <- err
					return
				}
				if err := m.Update(u32(uint32(32+i%32)), u64(uint64(i)), ebpfmaps.UpdateAny); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
				for range m.All() {
				}
			}
		}
	}()
	wg.Wait()
	close(done)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// Four goroutines added 1 to each of the 32 program keys 300/32 times
	// on average: 4*300 increments in all, none lost (atomic adds).
	var total uint64
	for k := range 32 {
		v, err := ebpfmaps.LookupAs[uint32, uint64](m, uint32(k))
		require.NoError(t, err)
		total += v
	}
	require.Equal(t, uint64(4*300), total)
}

func TestPerfEventOutput(t *testing.T) {
	// perf_event_output(ctx, map, BPF_F_CURRENT_CPU, data, 16)
	insns := assemble(t, `
		r6 = r1
		r2 = *(u64 *)(r6 + 0)
		*(u64 *)(r10 - 16) = r2
		*(u64 *)(r10 - 8) = 7
		r1 = r6
		ld_pseudo r2, 1, 0
		r3 = 0xffffffff ll
		r4 = r10
		r4 += -16
		r5 = 16
		call 25
		exit`)
	spec := &CollectionSpec{
		Maps: map[string]*MapSpec{"events": {Spec: ebpfmaps.Spec{Name: "events", Type: ebpfmaps.PerfEventArray}}},
		Programs: map[string]*ProgramSpec{"emit": {Name: "emit", Instructions: insns,
			References: lddwRefs(insns, Reference{Kind: RefMap, Map: "events"})}},
	}
	coll, err := NewCollection(spec, &CollectionOptions{NumCPU: 2})
	require.NoError(t, err)
	defer coll.Close()
	rd, err := ebpfmaps.NewPerfReader(coll.Maps["events"], 4096)
	require.NoError(t, err)
	defer rd.Close()
	for i := range 5 {
		r0, _, err := coll.Programs["emit"].Test(u64(uint64(100 + i)))
		require.NoError(t, err)
		require.Equal(t, uint64(0), r0)
	}
	rd.SetDeadline(time.Now().Add(time.Second))
	seen := map[uint64]bool{}
	for range 5 {
		rec, err := rd.Read()
		require.NoError(t, err)
		require.Len(t, rec.RawSample, 16)
		seen[binary.LittleEndian.Uint64(rec.RawSample)] = true
		require.Equal(t, uint64(7), binary.LittleEndian.Uint64(rec.RawSample[8:]))
	}
	require.Len(t, seen, 5)
}
