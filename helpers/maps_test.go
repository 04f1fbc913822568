package helpers

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ebpfvm/ebpfvm/interp"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/isa/asm"
	"github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/ebpfvm/ebpfvm/vm"
)

// mapEnv is a space of maps for programs; "ld_pseudo rN, 1, I" loads map I.
type mapEnv struct {
	space  *vm.Space
	maps   []*maps.Map
	inline uint32 // vm.Inline* flags of the programs
}

func newMapEnv(t testing.TB, specs ...maps.Spec) *mapEnv {
	t.Helper()
	e := &mapEnv{space: vm.NewSpace()}
	for _, s := range specs {
		m, err := maps.New(&s, maps.Options{NumCPU: 2})
		require.NoError(t, err)
		t.Cleanup(func() { m.Close() })
		_, err = RegisterMap(e.space, m, false)
		require.NoError(t, err)
		e.maps = append(e.maps, m)
	}
	return e
}

func (e *mapEnv) program(t testing.TB, src string) *vm.Program {
	t.Helper()
	insns, err := asm.Assemble(t.Name()+".s", src)
	require.NoError(t, err)
	p, err := vm.NewProgram(insns, vm.ProgramOptions{
		Helpers: Standard().Table(nil),
		Space:   e.space,
		Inline:  e.inline,
		Resolve: func(ins isa.Instruction, _ int) (uint64, error) {
			i, ok := e.space.MapIndexOf(e.maps[ins.Imm])
			require.True(t, ok)
			return vm.MapHandle(i), nil
		},
	})
	require.NoError(t, err)
	return p
}

func (e *mapEnv) run(t testing.TB, p *vm.Program, data []byte) (uint64, error) {
	t.Helper()
	m := vm.NewMachine(e.space)
	m.CPU = 1
	run, err := progtype.Raw.Setup(m, &progtype.Input{Data: data})
	require.NoError(t, err)
	return interp.New(p).Run(m, run.Args[:]...)
}

// callWithKV stores key k and value v on the stack and calls helper id
// with (map 0, &key, &value, flags).
func callWithKV(id int, k, v uint64, flags int) string {
	return fmt.Sprintf(`
		r1 = %d ll
		*(u64 *)(r10 - 8) = r1
		r1 = %d ll
		*(u64 *)(r10 - 16) = r1
		ld_pseudo r1, 1, 0
		r2 = r10
		r2 += -8
		r3 = r10
		r3 += -16
		r4 = %d
		call %d
		exit`, k, v, flags, id)
}

func TestMapHelperErrors(t *testing.T) {
	hash := maps.Spec{Name: "h", Type: maps.Hash, KeySize: 8, ValueSize: 8, MaxEntries: 2}
	array := maps.Spec{Name: "a", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2}
	tests := []struct {
		name string
		spec maps.Spec
		prep func(m *maps.Map)
		src  string
		want uint64
	}{
		{"update any", hash, nil, callWithKV(IDMapUpdateElem, 1, 7, 0), 0},
		{"update with bad flags", hash, nil, callWithKV(IDMapUpdateElem, 1, 7, 8), neg(unix.EINVAL)},
		{"update exist on a missing key", hash, nil, callWithKV(IDMapUpdateElem, 1, 7, 2), neg(unix.ENOENT)},
		{"update noexist on a present key", hash, func(m *maps.Map) { must(m.Update(u64b(1), u64b(1), 0)) }, callWithKV(IDMapUpdateElem, 1, 7, 1), neg(unix.EEXIST)},
		{"update a full map", hash, func(m *maps.Map) { must(m.Update(u64b(1), u64b(1), 0)); must(m.Update(u64b(2), u64b(1), 0)) }, callWithKV(IDMapUpdateElem, 3, 7, 0), neg(unix.E2BIG)},
		{"delete a missing key", hash, nil, callWithKV(IDMapDeleteElem, 5, 0, 0), neg(unix.ENOENT)},
		{"delete", hash, func(m *maps.Map) { must(m.Update(u64b(5), u64b(1), 0)) }, callWithKV(IDMapDeleteElem, 5, 0, 0), 0},
		{"array delete", array, nil, callWithKV(IDMapDeleteElem, 0, 0, 0), neg(unix.EINVAL)},
		{"array update past the end", array, nil, callWithKV(IDMapUpdateElem, 2, 0, 0), neg(unix.E2BIG)},
		{"array update noexist", array, nil, callWithKV(IDMapUpdateElem, 1, 0, 1), neg(unix.EEXIST)},
		{"lookup a missing key is NULL", hash, nil, callWithKV(IDMapLookupElem, 9, 0, 0), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMapEnv(t, tt.spec)
			if tt.prep != nil {
				tt.prep(e.maps[0])
			}
			r0, err := e.run(t, e.program(t, tt.src), nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
		})
	}
}

func TestMapHelperLookupAndPerCPU(t *testing.T) {
	e := newMapEnv(t, maps.Spec{Name: "pc", Type: maps.PerCPUHash, KeySize: 8, ValueSize: 8, MaxEntries: 4})
	require.NoError(t, e.maps[0].UpdatePerCPU(u64b(1), [][]byte{u64b(10), u64b(11)}, 0))
	// The run is on CPU 1: lookup sees CPU 1's value; lookup_percpu_elem
	// reads any CPU's, and NULL past the last CPU.
	p := e.program(t, `
		*(u64 *)(r10 - 8) = 1
		ld_pseudo r1, 1, 0
		r2 = r10
		r2 += -8
		call 1
		r6 = *(u64 *)(r0 + 0)
		ld_pseudo r1, 1, 0
		r2 = r10
		r2 += -8
		r3 = 0
		call 195
		r7 = *(u64 *)(r0 + 0)
		ld_pseudo r1, 1, 0
		r2 = r10
		r2 += -8
		r3 = 2
		call 195
		r0 <<= 16
		r6 <<= 8
		r0 |= r6
		r0 |= r7
		exit`)
	r0, err := e.run(t, p, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(11<<8|10), r0)
}

func TestQueueHelpers(t *testing.T) {
	e := newMapEnv(t, maps.Spec{Name: "q", Type: maps.Queue, ValueSize: 8, MaxEntries: 2})
	push := func(v uint64, flags int) string {
		return fmt.Sprintf("*(u64 *)(r10 - 8) = %d\nld_pseudo r1, 1, 0\nr2 = r10\nr2 += -8\nr3 = %d\ncall 87\nexit", v, flags)
	}
	pop := func(id int) string {
		return fmt.Sprintf("ld_pseudo r1, 1, 0\nr2 = r10\nr2 += -8\ncall %d\nif r0 != 0 goto +1\nr0 = *(u64 *)(r10 - 8)\nexit", id)
	}
	steps := []struct {
		src  string
		want uint64
	}{
		{pop(IDMapPopElem), neg(unix.ENOENT)},
		{push(1, 0), 0},
		{push(2, 0), 0},
		{push(3, 0), neg(unix.E2BIG)},
		{push(3, 2), 0}, // BPF_EXIST overwrites the oldest
		{pop(IDMapPeekElem), 2},
		{pop(IDMapPopElem), 2},
		{pop(IDMapPopElem), 3},
		{pop(IDMapPopElem), neg(unix.ENOENT)},
		{push(1, 4), neg(unix.EINVAL)},
	}
	for i, s := range steps {
		r0, err := e.run(t, e.program(t, s.src), nil)
		require.NoError(t, err, "step %d", i)
		require.Equal(t, s.want, r0, "step %d", i)
	}
}

func TestRingbufHelpers(t *testing.T) {
	e := newMapEnv(t, maps.Spec{Name: "rb", Type: maps.RingBuf, MaxEntries: 4096})
	tests := []struct {
		name string
		src  string
		want uint64
	}{
		{"reserve with flags is NULL", "ld_pseudo r1, 1, 0\nr2 = 8\nr3 = 1\ncall 131\nexit", 0},
		{"reserve too large is NULL", "ld_pseudo r1, 1, 0\nr2 = 8000\nr3 = 0\ncall 131\nexit", 0},
		{"output with bad flags", "*(u64 *)(r10 - 8) = 1\nld_pseudo r1, 1, 0\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 4\ncall 130\nexit", neg(unix.EINVAL)},
		{"query the ring size", "ld_pseudo r1, 1, 0\nr2 = 1\ncall 134\nexit", 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r0, err := e.run(t, e.program(t, tt.src), nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, r0)
		})
	}

	// Output until the ring is full: -EAGAIN, as in the kernel.
	out := e.program(t, "r2 = r1\nld_pseudo r1, 1, 0\nr3 = 1000\nr4 = 0\ncall 130\nexit")
	var last uint64
	for range 10 {
		var err error
		last, err = e.run(t, out, make([]byte, 1000))
		require.NoError(t, err)
		if last != 0 {
			break
		}
	}
	require.Equal(t, neg(unix.EAGAIN), last)

	// Submitting something that is not a record is a fault, not corruption.
	bad := e.program(t, "r1 = r10\nr1 += -8\nr2 = 0\ncall 132\nexit")
	_, err := e.run(t, bad, nil)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, vm.FaultHelper, f.Kind)
}

func TestTailCallAndForEachErrors(t *testing.T) {
	e := newMapEnv(t, maps.Spec{Name: "jmp", Type: maps.ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 2},
		maps.Spec{Name: "a", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	// A tail call to an empty slot or past the end returns with r0 kept.
	for _, index := range []int{0, 1, 5} {
		p := e.program(t, fmt.Sprintf("r0 = 77\nld_pseudo r2, 1, 0\nr3 = %d\ncall 12\nexit", index))
		r0, err := e.run(t, p, nil)
		require.NoError(t, err)
		require.Equal(t, uint64(77), r0)
	}
	// for_each_map_elem refuses flags.
	p := e.program(t, "ld_pseudo r1, 1, 1\nld_pseudo r2, 4, 3\nr3 = 0\nr4 = 1\ncall 164\nexit\nr0 = 0\nexit")
	r0, err := e.run(t, p, nil)
	require.NoError(t, err)
	require.Equal(t, neg(unix.EINVAL), r0)
	// A non-map in a map argument is a fault.
	p = e.program(t, "r1 = 5\nr2 = r10\nr2 += -8\n*(u64 *)(r10 - 8) = 0\ncall 1\nexit")
	_, err = e.run(t, p, nil)
	var f *vm.Fault
	require.ErrorAs(t, err, &f)
	require.Contains(t, err.Error(), "not a map pointer")
}

// BenchmarkLookupFromProgram measures a map lookup made by a running
// program: loading the map pointer and the key's address, the helper call
// through the interpreter, and the lookup. The "loop" case runs the same
// loop without the lookup, and "args" the loop with the lookup's argument
// setup but r0 = 0 in place of the call: array - args is the cost of the
// call instruction itself, array - loop that of the whole lookup.
func BenchmarkLookupFromProgram(b *testing.B) {
	const n = 1000
	lookup := `
		ld_pseudo r1, 1, 0
		r2 = r10
		r2 += -4
		call 1`
	for _, tc := range []struct {
		name, body string
		spec       maps.Spec
	}{
		{"loop", "", maps.Spec{Name: "a", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 16}},
		{"args", strings.Replace(lookup, "call 1", "r0 = 0", 1), maps.Spec{Name: "a", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 16}},
		{"array", lookup, maps.Spec{Name: "a", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 16}},
		{"hash", lookup, maps.Spec{Name: "h", Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1024}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newMapEnv(b, tc.spec)
			e.inline = Standard().Inline()
			require.NoError(b, e.maps[0].Update(u32b(3), u64b(1), 0))
			p := e.program(b, fmt.Sprintf(`
				r6 = %d
				*(u32 *)(r10 - 4) = 3
			loop:
				%s
				r6 += -1
				if r6 != 0 goto loop
				exit`, n, tc.body))
			m := vm.NewMachine(e.space)
			eng := interp.New(p)
			b.ResetTimer()
			for range b.N {
				m.Reset()
				if _, err := eng.Run(m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/iteration")
		})
	}
}

// TestInlineLookupMatchesHelper runs array lookups with the interpreter's
// inlined bpf_map_lookup_elem and through the helper: same results.
func TestInlineLookupMatchesHelper(t *testing.T) {
	require.Equal(t, vm.InlineMapLookup, Standard().Inline())
	r := Standard()
	require.NoError(t, r.Replace(Helper{Proto: Proto{ID: IDMapLookupElem, Name: "mine"}, Func: mapLookupElem}))
	require.Zero(t, r.Inline(), "a replaced helper is called, not inlined")

	for _, spec := range []maps.Spec{
		{Name: "a", Type: maps.Array, KeySize: 4, ValueSize: 12, MaxEntries: 3},
		{Name: "p", Type: maps.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 3},
		{Name: "h", Type: maps.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 3},
	} {
		for _, key := range []uint32{0, 2, 3, 0xffffffff} {
			src := fmt.Sprintf(`
				*(u32 *)(r10 - 4) = %d
				ld_pseudo r1, 1, 0
				r2 = r10
				r2 += -4
				call 1
				exit`, int32(key))
			var results [2]uint64
			for i, inline := range []uint32{0, vm.InlineMapLookup} {
				e := newMapEnv(t, spec)
				e.inline = inline
				if spec.Type == maps.Hash {
					require.NoError(t, e.maps[0].Update(u32b(2), u64b(9), 0))
				}
				r0, err := e.run(t, e.program(t, src), nil)
				require.NoError(t, err)
				results[i] = r0
			}
			require.Equal(t, results[0], results[1], "%s key %d", spec.Name, key)
		}
	}
	// A bad key pointer faults the same way either way.
	for _, inline := range []uint32{0, vm.InlineMapLookup} {
		e := newMapEnv(t, maps.Spec{Name: "a", Type: maps.Array, KeySize: 4, ValueSize: 8, MaxEntries: 3})
		e.inline = inline
		_, err := e.run(t, e.program(t, "ld_pseudo r1, 1, 0\nr2 = 0\ncall 1\nexit"), nil)
		var f *vm.Fault
		require.ErrorAs(t, err, &f)
		require.Equal(t, vm.FaultNull, f.Kind)
	}
}

func u32b(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64b(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func TestRingbufDiscard(t *testing.T) {
	e := newMapEnv(t, maps.Spec{Name: "rb", Type: maps.RingBuf, MaxEntries: 4096})
	rd, err := maps.NewRingbufReader(e.maps[0])
	require.NoError(t, err)
	defer rd.Close()
	// Reserve two records, discard the first and submit the second: the
	// reader sees only the second.
	p := e.program(t, `
		ld_pseudo r1, 1, 0
		r2 = 8
		r3 = 0
		call 131
		if r0 == 0 goto fail
		r6 = r0
		ld_pseudo r1, 1, 0
		r2 = 8
		r3 = 0
		call 131
		if r0 == 0 goto fail
		*(u64 *)(r0 + 0) = 2
		r7 = r0
		*(u64 *)(r6 + 0) = 1
		r1 = r6
		r2 = 0
		call 133
		r1 = r7
		r2 = 0
		call 132
		r0 = 0
		exit
	fail:
		r0 = 1
		exit`)
	r0, err := e.run(t, p, nil)
	require.NoError(t, err)
	require.Zero(t, r0)
	rd.SetDeadline(time.Now().Add(time.Second))
	rec, err := rd.Read()
	require.NoError(t, err)
	require.Equal(t, u64b(2), rec.RawSample)
}
