package maps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }

func mustNew(t testing.TB, s *Spec) *Map {
	t.Helper()
	m, err := New(s, Options{NumCPU: 2})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func requireErrno(t testing.TB, want unix.Errno, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.ErrorIs(t, err, want, msgAndArgs...)
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want unix.Errno
	}{
		{"array ok", Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 4}, 0},
		{"array key size", Spec{Type: Array, KeySize: 8, ValueSize: 8, MaxEntries: 4}, unix.EINVAL},
		{"array no entries", Spec{Type: Array, KeySize: 4, ValueSize: 8}, unix.EINVAL},
		{"array value 0", Spec{Type: Array, KeySize: 4, MaxEntries: 1}, unix.EINVAL},
		{"array value > INT_MAX", Spec{Type: Array, KeySize: 4, ValueSize: 1 << 31, MaxEntries: 1}, unix.E2BIG},
		{"array 1 TB", Spec{Type: Array, KeySize: 4, ValueSize: 1 << 20, MaxEntries: 1 << 20}, unix.ENOMEM},
		{"array 4 GiB region limit", Spec{Type: Array, KeySize: 4, ValueSize: 1 << 12, MaxEntries: 1 << 20}, unix.ENOMEM},
		{"array bad flag", Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: FlagNoPrealloc}, unix.EINVAL},
		{"array mmapable", Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: FlagMmapable}, 0},
		{"percpu array mmapable", Spec{Type: PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: FlagMmapable}, unix.EINVAL},
		{"percpu value too big", Spec{Type: PerCPUArray, KeySize: 4, ValueSize: 32<<10 + 1, MaxEntries: 1}, unix.E2BIG},
		{"rdonly and wronly", Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: FlagRdonly | FlagWronly}, unix.EINVAL},
		{"rdonly_prog and wronly_prog", Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Flags: FlagRdonlyProg | FlagWronlyProg}, unix.EINVAL},
		{"map_extra on hash", Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, MapExtra: 3}, unix.EINVAL},
		{"hash ok", Spec{Type: Hash, KeySize: 3, ValueSize: 5, MaxEntries: 10}, 0},
		{"hash key 0", Spec{Type: Hash, ValueSize: 5, MaxEntries: 10}, unix.EINVAL},
		{"hash too many entries", Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1<<27 + 1}, unix.E2BIG},
		{"hash huge elements", Spec{Type: Hash, KeySize: 1 << 21, ValueSize: 1 << 21, MaxEntries: 1}, unix.E2BIG},
		{"hash over memory limit", Spec{Type: Hash, KeySize: 64, ValueSize: 1 << 16, MaxEntries: 1 << 20}, unix.ENOMEM},
		{"hash no_common_lru", Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoCommonLRU}, unix.EINVAL},
		{"lru no_prealloc", Spec{Type: LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc}, ENOTSUPP},
		{"percpu hash numa", Spec{Type: PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNumaNode}, unix.EINVAL},
		{"lpm ok", Spec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 10, Flags: FlagNoPrealloc}, 0},
		{"lpm needs no_prealloc", Spec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 10}, unix.EINVAL},
		{"lpm key too short", Spec{Type: LPMTrie, KeySize: 4, ValueSize: 4, MaxEntries: 10, Flags: FlagNoPrealloc}, unix.EINVAL},
		{"lpm key too long", Spec{Type: LPMTrie, KeySize: 261, ValueSize: 4, MaxEntries: 10, Flags: FlagNoPrealloc}, unix.EINVAL},
		{"queue ok", Spec{Type: Queue, ValueSize: 4, MaxEntries: 10}, 0},
		{"queue with key", Spec{Type: Queue, KeySize: 4, ValueSize: 4, MaxEntries: 10}, unix.EINVAL},
		{"stack value too big", Spec{Type: Stack, ValueSize: 1<<22 + 1, MaxEntries: 10}, unix.E2BIG},
		{"ringbuf ok", Spec{Type: RingBuf, MaxEntries: 4096}, 0},
		{"ringbuf not pow2", Spec{Type: RingBuf, MaxEntries: 3 * 4096}, unix.EINVAL},
		{"ringbuf below a page", Spec{Type: RingBuf, MaxEntries: 1024}, unix.EINVAL},
		{"ringbuf with value", Spec{Type: RingBuf, ValueSize: 4, MaxEntries: 4096}, unix.EINVAL},
		{"ringbuf 2 GiB over the limit", Spec{Type: RingBuf, MaxEntries: 1 << 31}, unix.ENOMEM},
		{"bloom ok", Spec{Type: BloomFilter, ValueSize: 4, MaxEntries: 100, MapExtra: 3}, 0},
		{"bloom map_extra", Spec{Type: BloomFilter, ValueSize: 4, MaxEntries: 100, MapExtra: 16}, unix.EINVAL},
		{"prog_array value", Spec{Type: ProgramArray, KeySize: 4, ValueSize: 8, MaxEntries: 1}, unix.EINVAL},
		{"perf defaults", Spec{Type: PerfEventArray}, 0},
		{"array_of_maps without inner", Spec{Type: ArrayOfMaps, KeySize: 4, MaxEntries: 1}, unix.EBADF},
		{"array_of_maps of prog_array", Spec{Type: ArrayOfMaps, KeySize: 4, MaxEntries: 1,
			InnerMap: &Spec{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 1}}, ENOTSUPP},
		{"hash_of_maps of maps of maps", Spec{Type: HashOfMaps, KeySize: 4, MaxEntries: 1,
			InnerMap: &Spec{Type: ArrayOfMaps, KeySize: 4, MaxEntries: 1, InnerMap: &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}}}, unix.EINVAL},
		{"invalid inner", Spec{Type: HashOfMaps, KeySize: 4, MaxEntries: 1,
			InnerMap: &Spec{Type: Array, KeySize: 8, ValueSize: 4, MaxEntries: 1}}, unix.EINVAL},
		{"bad name", Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: "a-b"}, unix.EINVAL},
		{"long name", Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: "a_very_long_map_name_indeed"}, 0},
		{"unsupported type", Spec{Type: SockMap, KeySize: 4, ValueSize: 4, MaxEntries: 1}, ENOTSUPP},
		{"unknown type", Spec{Type: 999, KeySize: 4, ValueSize: 4, MaxEntries: 1}, unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			m, err := New(&tt.spec, Options{NumCPU: 4})
			require.Less(t, time.Since(start), 2*time.Second, "absurd specs must fail without allocating")
			if tt.want == 0 {
				require.NoError(t, err)
				m.Close()
				return
			}
			requireErrno(t, tt.want, err)
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, "create", e.Op)
		})
	}
	_, err := New(nil, Options{})
	requireErrno(t, unix.EINVAL, err)
}

func TestNewFixups(t *testing.T) {
	m, err := New(&Spec{Type: PerfEventArray, MaxEntries: 100}, Options{NumCPU: 3})
	require.NoError(t, err)
	defer m.Close()
	require.Equal(t, uint32(3), m.MaxEntries())
	require.Equal(t, uint32(4), m.KeySize())
	require.Equal(t, uint32(4), m.ValueSize())

	m2, err := New(&Spec{Type: LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 10, Flags: FlagNoCommonLRU}, Options{NumCPU: 4})
	require.NoError(t, err)
	defer m2.Close()
	require.Equal(t, uint32(12), m2.MaxEntries(), "rounded up to a multiple of the CPUs, as the kernel does")
}

func TestArray(t *testing.T) {
	m := mustNew(t, &Spec{Name: "arr", Type: Array, KeySize: 4, ValueSize: 6, MaxEntries: 4})
	v := []byte{1, 2, 3, 4, 5, 6}
	tests := []struct {
		name  string
		key   uint32
		flags UpdateFlags
		want  unix.Errno
	}{
		{"any", 0, UpdateAny, 0},
		{"exist", 1, UpdateExist, 0},
		{"noexist", 2, UpdateNoExist, unix.EEXIST},
		{"out of range", 4, UpdateAny, unix.E2BIG},
		{"lock", 0, UpdateLock, unix.EINVAL},
		{"unknown flag", 0, 8, unix.EINVAL},
		{"noexist and exist", 0, 3, unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.Update(u32(tt.key), v, tt.flags)
			if tt.want == 0 {
				require.NoError(t, err)
				got, err := m.Lookup(u32(tt.key))
				require.NoError(t, err)
				require.Equal(t, v, got)
				return
			}
			requireErrno(t, tt.want, err)
		})
	}
	_, err := m.Lookup(u32(4))
	requireErrno(t, unix.ENOENT, err)
	requireErrno(t, unix.EINVAL, m.Delete(u32(0)))
	got, err := m.Lookup(u32(3))
	require.NoError(t, err)
	require.Equal(t, make([]byte, 6), got, "never written elements are zero")
	_, err = m.Lookup([]byte{1, 2})
	requireErrno(t, unix.EINVAL, err)

	// NextKey: nil and out-of-range keys start at 0, the last index ends.
	for _, tt := range []struct {
		key  []byte
		next uint32
		want unix.Errno
	}{{nil, 0, 0}, {u32(0), 1, 0}, {u32(2), 3, 0}, {u32(3), 0, unix.ENOENT}, {u32(100), 0, 0}} {
		n, err := m.NextKey(tt.key)
		if tt.want != 0 {
			requireErrno(t, tt.want, err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, u32(tt.next), n)
	}
	var keys []uint32
	for k := range m.Keys() {
		keys = append(keys, binary.NativeEndian.Uint32(k))
	}
	require.Equal(t, []uint32{0, 1, 2, 3}, keys, "arrays iterate in index order")

	// The program side sees the same memory.
	off, ok := m.LookupOffset(u32(1), 0)
	require.True(t, ok)
	require.Equal(t, uint32(8), off, "stride is the value size rounded up to 8")
	require.Equal(t, v, m.Arena()[off:off+6])
	m.Arena()[off] = 42
	got, _ = m.Lookup(u32(1))
	require.Equal(t, byte(42), got[0])
	_, ok = m.LookupOffset(u32(4), 0)
	require.False(t, ok)
	require.NoError(t, m.UpdateElem(u32(2), v, UpdateExist, 0))
	requireErrno(t, unix.EEXIST, m.UpdateElem(u32(2), v, UpdateNoExist, 0))
	requireErrno(t, unix.EINVAL, m.DeleteElem(u32(2)))
	_, err = m.LookupAndDelete(u32(0))
	requireErrno(t, ENOTSUPP, err)
}

func TestPerCPUArray(t *testing.T) {
	m := mustNew(t, &Spec{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 2})
	require.Equal(t, 16, m.FullValueSize())
	require.NoError(t, m.UpdatePerCPU(u32(0), [][]byte{u32(1), u32(2)}, UpdateAny))
	vals, err := m.LookupPerCPU(u32(0))
	require.NoError(t, err)
	require.Equal(t, [][]byte{u32(1), u32(2)}, vals)

	// A program on CPU 1 writes only its own value.
	require.NoError(t, m.UpdateElem(u32(0), u32(7), UpdateAny, 1))
	vals, _ = m.LookupPerCPU(u32(0))
	require.Equal(t, [][]byte{u32(1), u32(7)}, vals)
	off0, ok := m.LookupOffset(u32(0), 0)
	require.True(t, ok)
	off1, _ := m.LookupOffset(u32(0), 1)
	require.Equal(t, off0+8, off1)
	_, ok = m.LookupOffset(u32(0), 2)
	require.False(t, ok, "cpu out of range")
	requireErrno(t, unix.EINVAL, m.UpdateElem(u32(0), u32(7), UpdateAny, 5))

	vs, err := LookupPerCPUAs[uint32, uint32](m, 0)
	require.NoError(t, err)
	require.Equal(t, []uint32{1, 7}, vs)
	require.NoError(t, UpdatePerCPUAs(m, uint32(1), []uint32{9}, UpdateAny))
	vs, _ = LookupPerCPUAs[uint32, uint32](m, 1)
	require.Equal(t, []uint32{9, 0}, vs, "missing trailing values are zero")
	requireErrno(t, unix.EINVAL, m.UpdatePerCPU(u32(0), [][]byte{u32(1), u32(2), u32(3)}, UpdateAny))
	_, err = mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}).LookupPerCPU(u32(0))
	requireErrno(t, unix.EINVAL, err)
}

func hashKey(i int) []byte { return []byte{byte(i), byte(i >> 8), 0xaa} }

func TestHash(t *testing.T) {
	m := mustNew(t, &Spec{Name: "h", Type: Hash, KeySize: 3, ValueSize: 4, MaxEntries: 3})
	steps := []struct {
		op    string
		key   int
		flags UpdateFlags
		want  unix.Errno
	}{
		{"lookup", 1, 0, unix.ENOENT},
		{"delete", 1, 0, unix.ENOENT},
		{"update", 1, UpdateExist, unix.ENOENT},
		{"update", 1, UpdateNoExist, 0},
		{"update", 1, UpdateNoExist, unix.EEXIST},
		{"update", 1, UpdateExist, 0},
		{"update", 2, UpdateAny, 0},
		{"update", 3, UpdateAny, 0},
		{"update", 4, UpdateAny, unix.E2BIG},
		{"update", 3, UpdateAny, 0}, // replacing works when full
		{"update", 3, UpdateLock, unix.EINVAL},
		{"update", 3, 3, unix.EINVAL},
		{"delete", 2, 0, 0},
		{"update", 4, UpdateAny, 0},
		{"lookup", 4, 0, 0},
		{"lookup", 2, 0, unix.ENOENT},
	}
	for i, s := range steps {
		var err error
		switch s.op {
		case "lookup":
			_, err = m.Lookup(hashKey(s.key))
		case "delete":
			err = m.Delete(hashKey(s.key))
		case "update":
			err = m.Update(hashKey(s.key), u32(uint32(s.key)), s.flags)
		}
		if s.want == 0 {
			require.NoError(t, err, "step %d", i)
		} else {
			requireErrno(t, s.want, err, "step %d", i)
		}
	}

	// NextKey: nil and missing keys restart at the first key.
	first, err := m.NextKey(nil)
	require.NoError(t, err)
	n, err := m.NextKey(hashKey(77))
	require.NoError(t, err)
	require.Equal(t, first, n)
	var seen []string
	for k, v := range m.All() {
		seen = append(seen, fmt.Sprintf("%x=%x", k, v))
	}
	require.ElementsMatch(t, []string{
		fmt.Sprintf("%x=%x", hashKey(1), u32(1)),
		fmt.Sprintf("%x=%x", hashKey(3), u32(3)),
		fmt.Sprintf("%x=%x", hashKey(4), u32(4)),
	}, seen)
	k := first
	for range 2 {
		k, err = m.NextKey(k)
		require.NoError(t, err)
	}
	_, err = m.NextKey(k)
	requireErrno(t, unix.ENOENT, err)

	v, err := m.LookupAndDelete(hashKey(4))
	require.NoError(t, err)
	require.Equal(t, u32(4), v)
	_, err = m.LookupAndDelete(hashKey(4))
	requireErrno(t, unix.ENOENT, err)
}

// A value pointer a program holds stays valid memory after the element is
// deleted; the slot is recycled for the next insertion.
func TestHashSlotsStayValid(t *testing.T) {
	m := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	arena := m.Arena()
	require.NoError(t, m.Update(u32(1), u64(0x1111), UpdateAny))
	off, ok := m.LookupOffset(u32(1), 0)
	require.True(t, ok)
	require.NoError(t, m.Delete(u32(1)))
	require.Equal(t, u64(0x1111), arena[off:off+8], "deleted value memory is left as it was")
	require.NoError(t, m.Update(u32(2), u64(0x2222), UpdateAny))
	off2, _ := m.LookupOffset(u32(2), 0)
	require.Equal(t, off, off2, "freed slots are recycled")
	require.Same(t, &arena[0], &m.Arena()[0], "the arena never moves")
	// Updates of an existing element are in place.
	require.NoError(t, m.Update(u32(2), u64(0x3333), UpdateExist))
	require.Equal(t, u64(0x3333), arena[off:off+8])
}

func TestPerCPUHashProgramUpdate(t *testing.T) {
	m := mustNew(t, &Spec{Type: PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	require.NoError(t, m.UpdatePerCPU(u32(1), [][]byte{u32(5), u32(6)}, UpdateAny))
	require.NoError(t, m.UpdateElem(u32(1), u32(9), UpdateExist, 0))
	vals, _ := m.LookupPerCPU(u32(1))
	require.Equal(t, [][]byte{u32(9), u32(6)}, vals, "only the running CPU's value changes")
	// A new element starts with zeros on the other CPUs, even in a recycled slot.
	require.NoError(t, m.Delete(u32(1)))
	require.NoError(t, m.UpdateElem(u32(2), u32(3), UpdateNoExist, 1))
	vals, _ = m.LookupPerCPU(u32(2))
	require.Equal(t, [][]byte{u32(0), u32(3)}, vals)
	off, ok := m.LookupOffset(u32(2), 1)
	require.True(t, ok)
	require.Equal(t, u32(3), m.Arena()[off:off+4])
}

func TestLRUEvictionPolicy(t *testing.T) {
	m := mustNew(t, &Spec{Type: LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	for i := range 4 {
		require.NoError(t, m.Update(u32(uint32(i)), u32(uint32(i)), UpdateAny))
	}
	// Programs reference 0 and 2; Go-side lookups do not count, as in the kernel.
	_, ok := m.LookupOffset(u32(0), 0)
	require.True(t, ok)
	_, ok = m.LookupOffset(u32(2), 0)
	require.True(t, ok)
	_, err := m.Lookup(u32(1))
	require.NoError(t, err)
	// Inserting into a full LRU map evicts instead of failing: the CLOCK hand
	// gives 0 a second chance and evicts 1.
	require.NoError(t, m.Update(u32(10), u32(10), UpdateAny))
	_, err = m.Lookup(u32(1))
	requireErrno(t, unix.ENOENT, err)
	// Next: 2 (referenced, spared), 3 evicted.
	require.NoError(t, m.Update(u32(11), u32(11), UpdateAny))
	_, err = m.Lookup(u32(3))
	requireErrno(t, unix.ENOENT, err)
	var keys []uint32
	for k := range m.Keys() {
		keys = append(keys, binary.NativeEndian.Uint32(k))
	}
	require.ElementsMatch(t, []uint32{0, 2, 10, 11}, keys)
	// Failing updates never evict.
	requireErrno(t, unix.ENOENT, m.Update(u32(99), u32(0), UpdateExist))
	require.Len(t, slices.Collect(m.Keys()), 4)
}

func lpmKey(prefix uint32, a, b, c, d byte) []byte {
	return append(u32(prefix), a, b, c, d)
}

func TestLPMTrie(t *testing.T) {
	m := mustNew(t, &Spec{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 5, Flags: FlagNoPrealloc})
	// The example of kernel/bpf/lpm_trie.c.
	require.NoError(t, m.Update(lpmKey(16, 192, 168, 0, 0), u32(1), UpdateAny))
	require.NoError(t, m.Update(lpmKey(24, 192, 168, 0, 0), u32(2), UpdateAny))
	require.NoError(t, m.Update(lpmKey(24, 192, 168, 128, 0), u32(3), UpdateAny))
	require.NoError(t, m.Update(lpmKey(24, 192, 168, 1, 0), u32(5), UpdateAny))
	for _, tt := range []struct {
		key  []byte
		want uint32
	}{
		{lpmKey(32, 192, 168, 0, 7), 2},
		{lpmKey(32, 192, 168, 1, 1), 5},
		{lpmKey(32, 192, 168, 128, 9), 3},
		{lpmKey(32, 192, 168, 200, 1), 1},
		{lpmKey(16, 192, 168, 1, 1), 1},
		{lpmKey(32, 10, 0, 0, 1), 0},
	} {
		v, err := m.Lookup(tt.key)
		if tt.want == 0 {
			requireErrno(t, unix.ENOENT, err)
			continue
		}
		require.NoError(t, err, "%x", tt.key)
		require.Equal(t, u32(tt.want), v, "%x", tt.key)
	}
	// Post-order, more specific first, as documented in the kernel.
	var order []string
	for k := range m.Keys() {
		order = append(order, fmt.Sprintf("%d.%d.%d.%d/%d", k[4], k[5], k[6], k[7], binary.NativeEndian.Uint32(k)))
	}
	require.Equal(t, []string{"192.168.0.0/24", "192.168.1.0/24", "192.168.128.0/24", "192.168.0.0/16"}, order)

	// Delete and update are exact.
	requireErrno(t, unix.ENOENT, m.Delete(lpmKey(23, 192, 168, 0, 0)), "the intermediate node is no element")
	requireErrno(t, unix.ENOENT, m.Update(lpmKey(23, 192, 168, 0, 0), u32(9), UpdateExist))
	requireErrno(t, unix.EEXIST, m.Update(lpmKey(24, 192, 168, 1, 0), u32(9), UpdateNoExist))
	requireErrno(t, unix.EINVAL, m.Update(lpmKey(33, 0, 0, 0, 0), u32(9), UpdateAny))
	require.NoError(t, m.Update(lpmKey(8, 10, 0, 0, 0), u32(6), UpdateAny))
	requireErrno(t, unix.ENOSPC, m.Update(lpmKey(8, 11, 0, 0, 0), u32(7), UpdateAny))
	require.NoError(t, m.Delete(lpmKey(16, 192, 168, 0, 0)))
	_, err := m.Lookup(lpmKey(32, 192, 168, 200, 1))
	requireErrno(t, unix.ENOENT, err)
	off, ok := m.LookupOffset(lpmKey(32, 192, 168, 1, 77), 0)
	require.True(t, ok)
	require.Equal(t, u32(5), m.Arena()[off:off+4])
}

func TestQueueStack(t *testing.T) {
	for _, typ := range []MapType{Queue, Stack} {
		t.Run(typ.String(), func(t *testing.T) {
			m := mustNew(t, &Spec{Type: typ, ValueSize: 4, MaxEntries: 3})
			v := make([]byte, 4)
			requireErrno(t, unix.ENOENT, m.Pop(v))
			requireErrno(t, unix.ENOENT, m.Peek(v))
			for i := range 3 {
				require.NoError(t, m.Push(u32(uint32(i)), UpdateAny))
			}
			requireErrno(t, unix.E2BIG, m.Push(u32(3), UpdateAny))
			requireErrno(t, unix.EINVAL, m.Push(u32(3), UpdateNoExist))
			requireErrno(t, unix.EINVAL, m.Push(u32(3), 4))
			// BPF_EXIST drops the oldest element to make room.
			require.NoError(t, m.Push(u32(3), UpdateExist))
			want := []uint32{1, 2, 3}
			if typ == Stack {
				want = []uint32{3, 2, 1}
			}
			require.NoError(t, m.Peek(v))
			require.Equal(t, u32(want[0]), v)
			// The syscall API: lookup peeks, lookup-and-delete pops.
			got, err := m.Lookup(nil)
			require.NoError(t, err)
			require.Equal(t, u32(want[0]), got)
			got, err = m.LookupAndDelete(nil)
			require.NoError(t, err)
			require.Equal(t, u32(want[0]), got)
			x, err := PopAs[uint32](m)
			require.NoError(t, err)
			require.Equal(t, want[1], x)
			require.NoError(t, m.Update(nil, u32(8), UpdateAny))
			_, err = m.Lookup(u32(0))
			requireErrno(t, unix.EINVAL, err, "queues have no keys")
			requireErrno(t, unix.EINVAL, m.Delete(nil))
			_, err = m.NextKey(nil)
			requireErrno(t, unix.EINVAL, err)
			_, err = m.LookupAndDeleteWithFlags(nil, UpdateLock)
			requireErrno(t, unix.EINVAL, err)
		})
	}
}

func TestBloomFilter(t *testing.T) {
	m := mustNew(t, &Spec{Type: BloomFilter, ValueSize: 8, MaxEntries: 1000})
	for i := range 1000 {
		require.NoError(t, m.Push(u64(uint64(i)*7919), UpdateAny))
	}
	for i := range 1000 {
		require.NoError(t, m.Peek(u64(uint64(i)*7919)), "no false negatives")
	}
	fp := 0
	for i := range 10000 {
		if m.Peek(u64(uint64(i)*7919+1)) == nil {
			fp++
		}
	}
	require.Less(t, fp, 500, "false positive rate of the kernel's sizing (about 1%)")
	requireErrno(t, unix.EINVAL, m.Push(u64(1), UpdateExist))
	requireErrno(t, unix.EOPNOTSUPP, m.Pop(make([]byte, 8)))
	requireErrno(t, unix.EOPNOTSUPP, m.Delete(nil))
	_, err := m.Lookup(nil)
	requireErrno(t, unix.EINVAL, err)
	require.NoError(t, PushAs(m, uint64(5), UpdateAny))
}

func TestProgArray(t *testing.T) {
	m := mustNew(t, &Spec{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	_, ok := m.Program(1)
	require.False(t, ok)
	require.NoError(t, m.SetProgram(1, "prog-one"))
	requireErrno(t, unix.E2BIG, m.SetProgram(4, "x"))
	requireErrno(t, unix.EBADF, m.SetProgram(0, nil))
	p, ok := m.Program(1)
	require.True(t, ok)
	require.Equal(t, "prog-one", p)
	_, ok = m.Program(100)
	require.False(t, ok)
	v, err := m.Lookup(u32(1))
	require.NoError(t, err)
	require.Equal(t, u32(0), v, "programs without an ID method have id 0")
	requireErrno(t, unix.EINVAL, m.Update(u32(1), u32(3), UpdateAny), "programs are set with SetProgram")
	requireErrno(t, unix.E2BIG, m.Delete(u32(9)))
	require.NoError(t, m.Delete(u32(1)))
	requireErrno(t, unix.ENOENT, m.Delete(u32(1)))
	_, ok = m.Program(1)
	require.False(t, ok)
}

func TestMapOfMaps(t *testing.T) {
	inner := &Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 8}
	for _, typ := range []MapType{ArrayOfMaps, HashOfMaps} {
		t.Run(typ.String(), func(t *testing.T) {
			outer := mustNew(t, &Spec{Type: typ, KeySize: 4, MaxEntries: 4, InnerMap: inner})
			require.Equal(t, uint32(4), outer.ValueSize())
			a := mustNew(t, inner)
			b := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 100}) // max_entries may differ for hashes
			bad := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8})
			require.NoError(t, outer.UpdateMap(u32(0), a, UpdateAny))
			require.NoError(t, outer.Update(u32(1), u32(b.ID()), UpdateAny))
			requireErrno(t, unix.EINVAL, outer.UpdateMap(u32(2), bad, UpdateAny))
			requireErrno(t, unix.EBADF, outer.Update(u32(2), u32(0xffffff), UpdateAny))
			got, err := outer.LookupMap(u32(1))
			require.NoError(t, err)
			require.Same(t, b, got)
			id, err := outer.Lookup(u32(0))
			require.NoError(t, err)
			require.Equal(t, u32(a.ID()), id, "the syscall's lookup returns the inner map's id")
			in, ok := outer.InnerMap(u32(0))
			require.True(t, ok)
			require.Same(t, a, in)
			_, ok = outer.InnerMap(u32(3))
			require.False(t, ok)
			require.NoError(t, outer.Delete(u32(0)))
			_, ok = outer.InnerMap(u32(0))
			require.False(t, ok)
			_, err = outer.LookupMap(u32(0))
			requireErrno(t, unix.ENOENT, err)
			_, ok = outer.LookupOffset(u32(1), 0)
			require.False(t, ok, "programs get inner maps through InnerMap")
			requireErrno(t, ENOTSUPP, outer.UpdateElem(u32(1), u32(1), UpdateAny, 0))
		})
	}
	// Arrays as inner maps must match max_entries unless BPF_F_INNER_MAP.
	arrInner := &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 2}
	outer := mustNew(t, &Spec{Type: ArrayOfMaps, KeySize: 4, MaxEntries: 1, InnerMap: arrInner})
	requireErrno(t, unix.EINVAL, outer.UpdateMap(u32(0), mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 3}), UpdateAny))
	requireErrno(t, unix.EINVAL, outer.UpdateMap(u32(0), mustNew(t, arrInner), UpdateExist), "array_of_maps takes only BPF_ANY")
	flex := &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 2, Flags: FlagInnerMap}
	outer2 := mustNew(t, &Spec{Type: ArrayOfMaps, KeySize: 4, MaxEntries: 1, InnerMap: flex})
	require.NoError(t, outer2.UpdateMap(u32(0), mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 30, Flags: FlagInnerMap}), UpdateAny))
}

func TestPermissionsAndClose(t *testing.T) {
	ro := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: FlagRdonly})
	requireErrno(t, unix.EPERM, ro.Update(u32(1), u32(1), UpdateAny))
	requireErrno(t, unix.EPERM, ro.Delete(u32(1)))
	_, err := ro.Lookup(u32(1))
	requireErrno(t, unix.ENOENT, err)
	require.NoError(t, ro.UpdateElem(u32(1), u32(1), UpdateAny, 0), "BPF_F_RDONLY restricts user space only")

	wo := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: FlagWronly})
	require.NoError(t, wo.Update(u32(1), u32(1), UpdateAny))
	_, err = wo.Lookup(u32(1))
	requireErrno(t, unix.EPERM, err)
	_, err = wo.NextKey(nil)
	requireErrno(t, unix.EPERM, err)
	_, err = wo.LookupAndDelete(u32(1))
	requireErrno(t, unix.EPERM, err)

	rp := mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: FlagRdonlyProg})
	requireErrno(t, unix.EPERM, rp.UpdateElem(u32(1), u32(1), UpdateAny, 0))
	require.NoError(t, rp.Update(u32(1), u32(1), UpdateAny))

	fr := mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagRdonlyProg})
	require.NoError(t, fr.Update(u32(0), u32(5), UpdateAny))
	require.NoError(t, fr.Freeze())
	requireErrno(t, unix.EPERM, fr.Update(u32(0), u32(6), UpdateAny))
	requireErrno(t, unix.EBUSY, fr.Freeze())
	v, err := fr.Lookup(u32(0))
	require.NoError(t, err)
	require.Equal(t, u32(5), v)
	read, write := fr.ProgAccess()
	require.True(t, read)
	require.False(t, write)

	m, err := New(&Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 4}, Options{})
	require.NoError(t, err)
	require.NoError(t, m.Update(u32(1), u32(1), UpdateAny))
	_, ok := ByID(m.ID())
	require.True(t, ok)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close(), "closing twice is harmless")
	_, ok = ByID(m.ID())
	require.False(t, ok)
	_, err = m.Lookup(u32(1))
	requireErrno(t, unix.EBADF, err)
	_, ok = m.LookupOffset(u32(1), 0)
	require.True(t, ok, "running programs keep using a closed map")
}

func TestErrors(t *testing.T) {
	m := mustNew(t, &Spec{Name: "counters", Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	_, err := m.Lookup(u32(1))
	require.ErrorIs(t, err, unix.ENOENT)
	require.ErrorIs(t, err, ErrKeyNotExist)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "counters", e.Map)
	require.Equal(t, "lookup", e.Op)
	require.Equal(t, unix.ENOENT, e.Errno)
	require.Contains(t, err.Error(), `map "counters" (hash): lookup: ENOENT`)
	require.True(t, errors.Is(m.Update(u32(1), u32(1), UpdateLock), ErrInvalid))
}

func TestTyped(t *testing.T) {
	type point struct {
		X, Y int32
		Tag  [4]byte
	}
	m := mustNew(t, &Spec{Type: Hash, KeySize: 8, ValueSize: 12, MaxEntries: 4})
	p := point{X: -1, Y: 2, Tag: [4]byte{'a', 'b', 'c', 'd'}}
	require.NoError(t, UpdateAs(m, uint64(7), p, UpdateAny))
	got, err := LookupAs[uint64, point](m, 7)
	require.NoError(t, err)
	require.Equal(t, p, got)
	_, err = LookupAs[uint32, point](m, 7)
	requireErrno(t, unix.EINVAL, err, "wrong key size")
	_, err = LookupAs[uint64, uint64](m, 7)
	requireErrno(t, unix.EINVAL, err, "wrong value size")
	_, err = LookupAs[uint64, point](m, 8)
	requireErrno(t, unix.ENOENT, err)
	require.NoError(t, DeleteAs(m, uint64(7)))
	requireErrno(t, unix.EINVAL, UpdateAs(m, "not fixed", p, UpdateAny))
}

func TestBatch(t *testing.T) {
	t.Run("array", func(t *testing.T) {
		m := mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 5})
		keys := slices.Concat(u32(0), u32(1), u32(2))
		n, err := m.BatchUpdate(keys, slices.Concat(u32(10), u32(11), u32(12)), nil)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		n, err = m.BatchUpdate(slices.Concat(u32(3), u32(7)), slices.Concat(u32(13), u32(17)), nil)
		requireErrno(t, unix.E2BIG, err)
		require.Equal(t, 1, n, "stops at the first error")
		var c BatchCursor
		ks, vs := make([]byte, 12), make([]byte, 12)
		n, err = m.BatchLookup(&c, ks, vs, nil)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		require.Equal(t, slices.Concat(u32(10), u32(11), u32(12)), vs)
		n, err = m.BatchLookup(&c, ks, vs, nil)
		requireErrno(t, unix.ENOENT, err, "the end, with a partial batch")
		require.Equal(t, 2, n)
		require.Equal(t, slices.Concat(u32(3), u32(4)), ks[:8])
		_, err = m.BatchDelete(keys, nil)
		requireErrno(t, ENOTSUPP, err)
		_, err = m.BatchLookupAndDelete(&BatchCursor{}, ks, vs, nil)
		requireErrno(t, ENOTSUPP, err)
		_, err = m.BatchLookup(&BatchCursor{}, ks, vs, &BatchOptions{ElemFlags: uint64(UpdateLock)})
		requireErrno(t, unix.EINVAL, err)
		_, err = m.BatchLookup(nil, ks, vs, nil)
		requireErrno(t, unix.EINVAL, err)
		n, err = m.BatchLookup(&BatchCursor{}, nil, nil, nil)
		require.NoError(t, err)
		require.Zero(t, n)
	})
	t.Run("hash", func(t *testing.T) {
		m := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 10})
		for i := range 7 {
			require.NoError(t, m.Update(u32(uint32(i)), u32(uint32(100+i)), UpdateAny))
		}
		got := map[uint32]uint32{}
		var c BatchCursor
		for {
			ks, vs := make([]byte, 12), make([]byte, 12)
			n, err := m.BatchLookupAndDelete(&c, ks, vs, nil)
			for i := range n {
				got[binary.NativeEndian.Uint32(ks[i*4:])] = binary.NativeEndian.Uint32(vs[i*4:])
			}
			if err != nil {
				requireErrno(t, unix.ENOENT, err)
				break
			}
		}
		require.Len(t, got, 7)
		for k, v := range got {
			require.Equal(t, 100+k, v)
		}
		require.Empty(t, slices.Collect(m.Keys()))
		_, err := m.BatchLookup(&BatchCursor{}, make([]byte, 4), make([]byte, 4), &BatchOptions{Flags: 1})
		requireErrno(t, unix.EINVAL, err)
		_, err = m.BatchLookup(&BatchCursor{}, make([]byte, 5), make([]byte, 4), nil)
		requireErrno(t, unix.EINVAL, err)
		n, err := m.BatchDelete(slices.Concat(u32(1), u32(2)), nil)
		requireErrno(t, unix.ENOENT, err)
		require.Zero(t, n)
	})
}

func TestIterateHashUnderDeletion(t *testing.T) {
	m := mustNew(t, &Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 64})
	for i := range 64 {
		require.NoError(t, m.Update(u32(uint32(i)), u32(uint32(i)), UpdateAny))
	}
	// Delete odd keys while iterating: every even key is seen exactly once.
	seen := map[uint32]int{}
	for k := range m.Keys() {
		i := binary.NativeEndian.Uint32(k)
		seen[i]++
		if i%2 == 0 && i+1 < 64 {
			require.NoError(t, m.Delete(u32(i+1)))
		}
	}
	for i := uint32(0); i < 64; i += 2 {
		require.Equal(t, 1, seen[i], "key %d", i)
	}
}

func TestNextElem(t *testing.T) {
	m := mustNew(t, &Spec{Type: PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 8})
	for i := range 3 {
		require.NoError(t, m.UpdateElem(u32(uint32(i)), u32(uint32(10+i)), UpdateAny, 1))
	}
	key := make([]byte, 4)
	var pos uint32
	var got []uint32
	for {
		off, next, ok := m.NextElem(pos, key, 1)
		if !ok {
			break
		}
		got = append(got, binary.NativeEndian.Uint32(m.Arena()[off:]))
		pos = next
	}
	require.ElementsMatch(t, []uint32{10, 11, 12}, got)

	a := mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 3})
	n := 0
	for pos := uint32(0); ; n++ {
		_, next, ok := a.NextElem(pos, key, 0)
		if !ok {
			break
		}
		require.Equal(t, u32(pos), key)
		pos = next
	}
	require.Equal(t, 3, n)
}
