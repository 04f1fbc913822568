//go:build linux

package maps

// Differential tests against the Linux kernel: the same operations on a
// kernel map and on ours must give the same results and errnos.
//
// Kernel maps under test are created with cilium/ebpf; operations on them
// use raw bpf() syscalls on the map's fd, so that keys, values, flags and
// NULL pointers reach the kernel exactly as given, with no marshalling in
// between. The spec-validation test creates maps with a raw BPF_MAP_CREATE
// for the same reason (cilium/ebpf fixes specs up before creating them).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const (
	cmdMapCreate            = 0
	cmdLookupElem           = 1
	cmdUpdateElem           = 2
	cmdDeleteElem           = 3
	cmdGetNextKey           = 4
	cmdLookupAndDeleteElem  = 21
	cmdLookupBatch          = 24
	cmdLookupAndDeleteBatch = 25
	cmdUpdateBatch          = 26
	cmdDeleteBatch          = 27
	cmdMapGetInfoByFD       = 15
)

type elemAttr struct {
	fd    uint32
	_     uint32
	key   unsafe.Pointer
	value unsafe.Pointer
	flags uint64
}

type batchAttr struct {
	inBatch   unsafe.Pointer
	outBatch  unsafe.Pointer
	keys      unsafe.Pointer
	values    unsafe.Pointer
	count     uint32
	fd        uint32
	elemFlags uint64
	flags     uint64
}

type createAttr struct {
	mapType    uint32
	keySize    uint32
	valueSize  uint32
	maxEntries uint32
	flags      uint32
	innerFD    uint32
	numaNode   uint32
	name       [16]byte
	ifindex    uint32
	btfFD      uint32
	btfKey     uint32
	btfValue   uint32
	btfVmlinux uint32
	mapExtra   uint64
}

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (uintptr, unix.Errno) {
	r, _, e := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	return r, e
}

func ptr(b []byte) unsafe.Pointer {
	if b == nil {
		return nil
	}
	if len(b) == 0 {
		return unsafe.Pointer(unsafe.SliceData(b))
	}
	return unsafe.Pointer(&b[0])
}

// kmap is a kernel map operated on with raw syscalls.
type kmap struct {
	fd        int
	fullValue int
	keySize   int
}

func (k *kmap) elem(cmd int, key, value []byte, flags uint64) unix.Errno {
	a := elemAttr{fd: uint32(k.fd), key: ptr(key), value: ptr(value), flags: flags}
	_, e := bpf(cmd, unsafe.Pointer(&a), unsafe.Sizeof(a))
	return e
}

func (k *kmap) lookup(key []byte, flags uint64) ([]byte, unix.Errno) {
	v := make([]byte, k.fullValue)
	e := k.elem(cmdLookupElem, key, v, flags)
	return v, e
}

func (k *kmap) update(key, value []byte, flags uint64) unix.Errno {
	return k.elem(cmdUpdateElem, key, value, flags)
}

func (k *kmap) delete(key []byte) unix.Errno { return k.elem(cmdDeleteElem, key, nil, 0) }

func (k *kmap) nextKey(key []byte) ([]byte, unix.Errno) {
	n := make([]byte, k.keySize)
	e := k.elem(cmdGetNextKey, key, n, 0)
	return n, e
}

func (k *kmap) lookupAndDelete(key []byte, flags uint64) ([]byte, unix.Errno) {
	v := make([]byte, k.fullValue)
	e := k.elem(cmdLookupAndDeleteElem, key, v, flags)
	return v, e
}

func (k *kmap) batch(cmd int, in, out, keys, values []byte, count int, elemFlags, flags uint64) (int, unix.Errno) {
	a := batchAttr{inBatch: ptr(in), outBatch: ptr(out), keys: ptr(keys), values: ptr(values),
		count: uint32(count), fd: uint32(k.fd), elemFlags: elemFlags, flags: flags}
	_, e := bpf(cmd, unsafe.Pointer(&a), unsafe.Sizeof(a))
	return int(a.count), e
}

func kernelCreate(s *Spec, innerFD int) (int, unix.Errno) {
	a := createAttr{mapType: uint32(s.Type), keySize: s.KeySize, valueSize: s.ValueSize,
		maxEntries: s.MaxEntries, flags: s.Flags, innerFD: uint32(innerFD), mapExtra: s.MapExtra}
	copy(a.name[:15], s.Name)
	fd, e := bpf(cmdMapCreate, unsafe.Pointer(&a), unsafe.Sizeof(a))
	return int(fd), e
}

// needKernel skips (or, under CI, fails) when bpf() is unavailable.
func needKernel(t *testing.T) {
	t.Helper()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err == nil {
		m.Close()
		return
	}
	msg := fmt.Sprintf("bpf() is unavailable (run as root on Linux to compare with the kernel): %v", err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func possibleCPUs(t *testing.T) int {
	n, err := ebpf.PossibleCPU()
	require.NoError(t, err)
	return n
}

func errno(err error) unix.Errno { return errnoOf(err) }

// pair holds a kernel map and ours with the same spec.
type pair struct {
	t   *testing.T
	k   *kmap
	km  *ebpf.Map
	m   *Map
	rng *rand.Rand
	ops int
}

func newPair(t *testing.T, spec *Spec, seed uint64) *pair {
	t.Helper()
	ncpu := possibleCPUs(t)
	cs := &ebpf.MapSpec{Name: spec.Name, Type: ebpf.MapType(spec.Type), KeySize: spec.KeySize,
		ValueSize: spec.ValueSize, MaxEntries: spec.MaxEntries, Flags: spec.Flags, MapExtra: spec.MapExtra}
	km, err := ebpf.NewMap(cs)
	require.NoError(t, err, "kernel map %v", spec)
	t.Cleanup(func() { km.Close() })
	m, err := New(spec, Options{NumCPU: ncpu})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return &pair{
		t:   t,
		k:   &kmap{fd: km.FD(), fullValue: m.FullValueSize(), keySize: int(m.KeySize())},
		km:  km,
		m:   m,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

func (p *pair) eq(kerr unix.Errno, err error, format string, args ...any) {
	p.t.Helper()
	if errno(err) != kerr {
		p.t.Fatalf("op %d (%s): kernel errno %d (%v), ebpfvm %v", p.ops, fmt.Sprintf(format, args...), int(kerr), kerr, err)
	}
}

func (p *pair) eqBytes(kv, v []byte, format string, args ...any) {
	p.t.Helper()
	if !bytes.Equal(kv, v) {
		p.t.Fatalf("op %d (%s): kernel value %x, ebpfvm %x", p.ops, fmt.Sprintf(format, args...), kv, v)
	}
}

func (p *pair) randBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(p.rng.Uint32())
	}
	return b
}

func (p *pair) randFlags() uint64 {
	// Mostly valid flags; sometimes BPF_F_LOCK, an unknown bit or combinations.
	switch r := p.rng.IntN(20); {
	case r < 6:
		return 0
	case r < 10:
		return 1
	case r < 14:
		return 2
	case r == 14:
		return 3
	case r == 15:
		return 4
	case r == 16:
		return 5
	case r == 17:
		return 6
	default:
		return 1 << (3 + p.rng.IntN(6))
	}
}

// Basic operations, compared.

func (p *pair) lookup(key []byte, flags uint64) {
	p.t.Helper()
	kv, ke := p.k.lookup(key, flags)
	v, err := p.m.LookupWithFlags(key, UpdateFlags(flags))
	p.eq(ke, err, "lookup %x flags %#x", key, flags)
	if ke == 0 {
		p.eqBytes(kv, v, "lookup %x", key)
	}
}

func (p *pair) update(key, value []byte, flags uint64) {
	p.t.Helper()
	ke := p.k.update(key, value, flags)
	err := p.m.Update(key, value, UpdateFlags(flags))
	p.eq(ke, err, "update %x flags %#x", key, flags)
}

func (p *pair) delete(key []byte) {
	p.t.Helper()
	ke := p.k.delete(key)
	err := p.m.Delete(key)
	p.eq(ke, err, "delete %x", key)
}

func (p *pair) lookupAndDelete(key []byte, flags uint64) {
	p.t.Helper()
	kv, ke := p.k.lookupAndDelete(key, flags)
	v, err := p.m.LookupAndDeleteWithFlags(key, UpdateFlags(flags))
	p.eq(ke, err, "lookup and delete %x flags %#x", key, flags)
	if ke == 0 {
		p.eqBytes(kv, v, "lookup and delete %x", key)
	}
}

// nextKeyExact compares NextKey where the order is defined (arrays, lpm_trie).
func (p *pair) nextKeyExact(key []byte) {
	p.t.Helper()
	kn, ke := p.k.nextKey(key)
	n, err := p.m.NextKey(key)
	p.eq(ke, err, "next key %x", key)
	if ke == 0 {
		p.eqBytes(kn, n, "next key of %x", key)
	}
}

// nextKeyHash compares NextKey of a hash map: from nil or a missing key
// both restart at the first key (or ENOENT if empty); from an existing key
// the order differs, so only the result's validity is checked.
func (p *pair) nextKeyHash(key []byte) {
	p.t.Helper()
	exists := false
	if key != nil {
		_, err := p.m.Lookup(key)
		exists = err == nil
	}
	kn, ke := p.k.nextKey(key)
	n, err := p.m.NextKey(key)
	if !exists {
		p.eq(ke, err, "next key %x", key)
	}
	if ke == 0 {
		_, e := p.k.lookup(kn, 0)
		require.Zero(p.t, e, "kernel next key %x does not exist", kn)
	}
	if err == nil {
		_, e := p.m.Lookup(n)
		require.NoError(p.t, e, "ebpfvm next key %x does not exist", n)
		require.NotEqual(p.t, key, n)
	}
}

// contents returns the kernel's and our elements, as key -> value.
func (p *pair) contents() (kernel, ours map[string]string) {
	p.t.Helper()
	kernel = map[string]string{}
	var key []byte
	for i := 0; ; i++ {
		require.Less(p.t, i, int(p.m.MaxEntries())*4+16, "kernel iteration does not end")
		n, e := p.k.nextKey(key)
		if e == unix.ENOENT {
			break
		}
		require.Zero(p.t, e)
		v, e := p.k.lookup(n, 0)
		if e == 0 {
			kernel[string(n)] = string(v)
		}
		key = n
	}
	ours = map[string]string{}
	for k, v := range p.m.All() {
		ours[string(k)] = string(v)
	}
	return kernel, ours
}

func (p *pair) sameContents() {
	p.t.Helper()
	k, o := p.contents()
	require.Equal(p.t, k, o, "contents differ after op %d", p.ops)
}

// walkBatch reads the whole map with batch lookups of the given chunk.
func (p *pair) walkBatchKernel(cmd, chunk int) (map[string]string, unix.Errno) {
	ks, vs := p.k.keySize, p.k.fullValue
	out := map[string]string{}
	var in []byte
	outB := make([]byte, max(ks, 4))
	for i := 0; ; i++ {
		require.Less(p.t, i, 100000)
		keys := make([]byte, chunk*ks)
		vals := make([]byte, chunk*vs)
		n, e := p.k.batch(cmd, in, outB, keys, vals, chunk, 0, 0)
		if e == unix.ENOSPC {
			chunk *= 2
			continue
		}
		if e != 0 && e != unix.ENOENT {
			n = 0 // failed before the kernel reset the count
		}
		for j := range n {
			out[string(keys[j*ks:(j+1)*ks])] = string(vals[j*vs : (j+1)*vs])
		}
		if e != 0 {
			return out, e
		}
		in = slices.Clone(outB)
	}
}

func (p *pair) walkBatchOurs(del bool, chunk int) (map[string]string, unix.Errno) {
	ks, vs := p.k.keySize, p.k.fullValue
	out := map[string]string{}
	var c BatchCursor
	for i := 0; ; i++ {
		require.Less(p.t, i, 100000)
		keys := make([]byte, chunk*ks)
		vals := make([]byte, chunk*vs)
		var n int
		var err error
		if del {
			n, err = p.m.BatchLookupAndDelete(&c, keys, vals, nil)
		} else {
			n, err = p.m.BatchLookup(&c, keys, vals, nil)
		}
		for j := range n {
			out[string(keys[j*ks:(j+1)*ks])] = string(vals[j*vs : (j+1)*vs])
		}
		if err != nil {
			return out, errno(err)
		}
	}
}

func (p *pair) batchLookupAll(del bool) {
	p.t.Helper()
	chunk := 8 + p.rng.IntN(16)
	cmd := cmdLookupBatch
	if del {
		cmd = cmdLookupAndDeleteBatch
	}
	kset, ke := p.walkBatchKernel(cmd, chunk)
	oset, oe := p.walkBatchOurs(del, chunk)
	require.Equal(p.t, ke, oe, "op %d: batch lookup (delete %v) end errno", p.ops, del)
	require.Equal(p.t, kset, oset, "op %d: batch lookup (delete %v) elements", p.ops, del)
}

// batchLookupExact compares chunk by chunk, for maps whose batches follow
// NextKey order (generic_map_lookup_batch).
func (p *pair) batchLookupExact() {
	p.t.Helper()
	ks, vs := p.k.keySize, p.k.fullValue
	chunk := 1 + p.rng.IntN(10)
	var in []byte
	var c BatchCursor
	for i := 0; ; i++ {
		require.Less(p.t, i, 100000)
		kk, kv := make([]byte, chunk*ks), make([]byte, chunk*vs)
		ok, ov := make([]byte, chunk*ks), make([]byte, chunk*vs)
		outB := make([]byte, ks)
		kn, ke := p.k.batch(cmdLookupBatch, in, outB, kk, kv, chunk, 0, 0)
		on, err := p.m.BatchLookup(&c, ok, ov, nil)
		p.eq(ke, err, "batch lookup chunk %d", chunk)
		require.Equal(p.t, kn, on, "op %d: batch lookup count", p.ops)
		p.eqBytes(kk[:kn*ks], ok[:on*ks], "batch keys")
		p.eqBytes(kv[:kn*vs], ov[:on*vs], "batch values")
		if ke != 0 {
			return
		}
		in = outB
	}
}

func (p *pair) batchUpdate(keys, values []byte, elemFlags uint64) {
	p.t.Helper()
	n := len(keys) / p.k.keySize
	kn, ke := p.k.batch(cmdUpdateBatch, nil, nil, keys, values, n, elemFlags, 0)
	on, err := p.m.BatchUpdate(keys, values, &BatchOptions{ElemFlags: elemFlags})
	p.eq(ke, err, "batch update of %d, elem flags %#x", n, elemFlags)
	// An invalid elem_flags or map type fails before the kernel resets the count.
	if elemFlags == 0 && ke != ENOTSUPP && ke != unix.EPERM {
		require.Equal(p.t, kn, on, "op %d: batch update count", p.ops)
	}
}

func (p *pair) batchDelete(keys []byte) {
	p.t.Helper()
	n := len(keys) / p.k.keySize
	kn, ke := p.k.batch(cmdDeleteBatch, nil, nil, keys, nil, n, 0, 0)
	on, err := p.m.BatchDelete(keys, nil)
	p.eq(ke, err, "batch delete of %d", n)
	if ke != ENOTSUPP && ke != unix.EPERM {
		require.Equal(p.t, kn, on, "op %d: batch delete count", p.ops)
	}
}

// opCounts records how many operations each differential test compared,
// for the report.
var opCounts = map[string]int{}

const diffOps = 12000

func TestKernelDiffArray(t *testing.T) {
	needKernel(t)
	for _, typ := range []MapType{Array, PerCPUArray} {
		t.Run(typ.String(), func(t *testing.T) {
			spec := &Spec{Name: "diff_" + typ.String(), Type: typ, KeySize: 4, ValueSize: 12, MaxEntries: 48}
			p := newPair(t, spec, uint64(typ))
			key := func() []byte {
				b := make([]byte, 4)
				binary.NativeEndian.PutUint32(b, uint32(p.rng.IntN(56)))
				if p.rng.IntN(50) == 0 {
					return p.randBytes(4)
				}
				return b
			}
			fv := p.m.FullValueSize()
			for p.ops = 0; p.ops < diffOps; p.ops++ {
				switch r := p.rng.IntN(100); {
				case r < 25:
					p.lookup(key(), lookupFlags(p.rng))
				case r < 55:
					p.update(key(), p.randBytes(fv), p.randFlags())
				case r < 60:
					p.delete(key())
				case r < 72:
					if p.rng.IntN(8) == 0 {
						p.nextKeyExact(nil)
					} else {
						p.nextKeyExact(key())
					}
				case r < 76:
					p.lookupAndDelete(key(), lookupFlags(p.rng))
				case r < 80:
					p.batchLookupExact()
				case r < 90:
					n := 1 + p.rng.IntN(6)
					var ks []byte
					for range n {
						ks = append(ks, key()...)
					}
					p.batchUpdate(ks, p.randBytes(n*fv), batchElemFlags(p.rng))
				case r < 92:
					p.batchDelete(key())
				default:
					p.sameContents()
				}
			}
			p.sameContents()
			opCounts[typ.String()] += p.ops
		})
	}
}

func lookupFlags(rng *rand.Rand) uint64 {
	switch rng.IntN(30) {
	case 0:
		return 4
	case 1:
		return 1
	}
	return 0
}

func batchElemFlags(rng *rand.Rand) uint64 {
	switch rng.IntN(20) {
	case 0:
		return 4
	case 1:
		return 2
	}
	return 0
}

func TestKernelDiffHash(t *testing.T) {
	needKernel(t)
	cases := []struct {
		typ   MapType
		flags uint32
		max   uint32
		keys  int // key space
	}{
		{Hash, 0, 64, 100},
		{Hash, FlagNoPrealloc, 64, 100},
		{PerCPUHash, 0, 64, 100},
		// LRU maps: a key space far below max_entries, so that the kernel's
		// approximate LRU (per-CPU free lists) never evicts and results
		// are deterministic. Eviction is tested separately.
		{LRUHash, 0, 2048, 200},
		{LRUPerCPUHash, 0, 2048, 200},
		{LRUHash, FlagNoCommonLRU, 4096, 200},
	}
	for i, c := range cases {
		name := fmt.Sprintf("%s_flags%#x", c.typ, c.flags)
		t.Run(name, func(t *testing.T) {
			spec := &Spec{Name: "diff_hash", Type: c.typ, KeySize: 6, ValueSize: 10, MaxEntries: c.max, Flags: c.flags}
			p := newPair(t, spec, uint64(100+i))
			key := func() []byte {
				b := make([]byte, 6)
				binary.NativeEndian.PutUint32(b, uint32(p.rng.IntN(c.keys)))
				b[5] = 0x5a
				return b
			}
			fv := p.m.FullValueSize()
			for p.ops = 0; p.ops < diffOps; p.ops++ {
				switch r := p.rng.IntN(100); {
				case r < 25:
					p.lookup(key(), lookupFlags(p.rng))
				case r < 55:
					p.update(key(), p.randBytes(fv), p.randFlags())
				case r < 68:
					p.delete(key())
				case r < 76:
					if p.rng.IntN(4) == 0 {
						p.nextKeyHash(nil)
					} else {
						p.nextKeyHash(key())
					}
				case r < 84:
					p.lookupAndDelete(key(), lookupFlags(p.rng))
				case r < 86:
					p.batchLookupAll(false)
				case r == 86 && p.rng.IntN(4) == 0:
					p.batchLookupAll(true)
				case r < 93:
					n := 1 + p.rng.IntN(6)
					var ks []byte
					for range n {
						ks = append(ks, key()...)
					}
					p.batchUpdate(ks, p.randBytes(n*fv), batchElemFlags(p.rng))
				case r < 96:
					n := 1 + p.rng.IntN(4)
					var ks []byte
					for range n {
						ks = append(ks, key()...)
					}
					p.batchDelete(ks)
				default:
					p.sameContents()
				}
			}
			p.sameContents()
			opCounts[name] += p.ops
		})
	}
}

func TestKernelDiffLPMTrie(t *testing.T) {
	needKernel(t)
	for i, dataSize := range []int{4, 2, 5} {
		name := fmt.Sprintf("data%d", dataSize)
		t.Run(name, func(t *testing.T) {
			spec := &Spec{Name: "diff_lpm", Type: LPMTrie, KeySize: uint32(4 + dataSize), ValueSize: 6, MaxEntries: 40, Flags: FlagNoPrealloc}
			p := newPair(t, spec, uint64(200+i))
			maxPrefix := dataSize * 8
			// A few base addresses make prefixes overlap often.
			bases := make([][]byte, 6)
			for j := range bases {
				bases[j] = p.randBytes(dataSize)
			}
			key := func() []byte {
				b := make([]byte, 4+dataSize)
				pl := p.rng.IntN(maxPrefix + 1)
				if p.rng.IntN(30) == 0 {
					pl = maxPrefix + 1 + p.rng.IntN(8)
				}
				binary.NativeEndian.PutUint32(b, uint32(pl))
				copy(b[4:], bases[p.rng.IntN(len(bases))])
				// Flip a bit now and then, also beyond the prefix.
				if p.rng.IntN(2) == 0 {
					bit := p.rng.IntN(maxPrefix)
					b[4+bit/8] ^= 1 << (7 - bit%8)
				}
				return b
			}
			fv := p.m.FullValueSize()
			for p.ops = 0; p.ops < diffOps; p.ops++ {
				switch r := p.rng.IntN(100); {
				case r < 25:
					p.lookup(key(), lookupFlags(p.rng))
				case r < 55:
					p.update(key(), p.randBytes(fv), p.randFlags())
				case r < 70:
					p.delete(key())
				case r < 84:
					if p.rng.IntN(6) == 0 {
						p.nextKeyExact(nil)
					} else {
						p.nextKeyExact(key())
					}
				case r < 86:
					p.lookupAndDelete(key(), 0)
				case r < 89:
					p.batchLookupExact()
				case r < 93:
					n := 1 + p.rng.IntN(5)
					var ks []byte
					for range n {
						ks = append(ks, key()...)
					}
					p.batchUpdate(ks, p.randBytes(n*fv), batchElemFlags(p.rng))
				case r < 96:
					n := 1 + p.rng.IntN(3)
					var ks []byte
					for range n {
						ks = append(ks, key()...)
					}
					p.batchDelete(ks)
				default:
					p.walkNextKeys()
				}
			}
			p.walkNextKeys()
			opCounts["lpm_trie_"+name] += p.ops
		})
	}
}

// walkNextKeys compares the whole NextKey sequence and every value.
func (p *pair) walkNextKeys() {
	p.t.Helper()
	var key []byte
	for i := 0; ; i++ {
		require.Less(p.t, i, 1000)
		kn, ke := p.k.nextKey(key)
		n, err := p.m.NextKey(key)
		p.eq(ke, err, "walk next key %x", key)
		if ke != 0 {
			return
		}
		p.eqBytes(kn, n, "walk next key of %x", key)
		p.lookup(n, 0)
		key = n
	}
}

func TestKernelDiffQueueStack(t *testing.T) {
	needKernel(t)
	for _, typ := range []MapType{Queue, Stack} {
		t.Run(typ.String(), func(t *testing.T) {
			spec := &Spec{Name: "diff_qs", Type: typ, ValueSize: 12, MaxEntries: 16}
			p := newPair(t, spec, uint64(300+typ))
			for p.ops = 0; p.ops < diffOps; p.ops++ {
				var key []byte
				if p.rng.IntN(60) == 0 {
					key = p.randBytes(4)
				}
				switch r := p.rng.IntN(100); {
				case r < 40:
					p.update(key, p.randBytes(12), p.randFlags())
				case r < 60:
					p.lookup(key, lookupFlags(p.rng))
				case r < 90:
					p.lookupAndDelete(key, lookupFlags(p.rng))
				case r < 94:
					p.delete(key)
				default:
					kn, ke := p.k.nextKey(key)
					n, err := p.m.NextKey(key)
					p.eq(ke, err, "next key")
					_, _ = kn, n
				}
			}
			opCounts[typ.String()] += p.ops
		})
	}
}

func TestKernelDiffBloomFilter(t *testing.T) {
	needKernel(t)
	spec := &Spec{Name: "diff_bloom", Type: BloomFilter, ValueSize: 8, MaxEntries: 4096, MapExtra: 3}
	p := newPair(t, spec, 400)
	pushed := map[string]bool{}
	value := func() []byte {
		b := make([]byte, 8)
		binary.NativeEndian.PutUint64(b, uint64(p.rng.IntN(3000)))
		return b
	}
	var unknown, fpKernel, fpOurs int
	for p.ops = 0; p.ops < diffOps; p.ops++ {
		switch r := p.rng.IntN(100); {
		case r < 40:
			v, f := value(), p.randFlags()
			p.update(nil, v, f)
			if f == 0 {
				pushed[string(v)] = true
			}
		case r < 90:
			// Peek: the kernel reads the value to test from the value buffer.
			v := value()
			ke := p.k.elem(cmdLookupElem, nil, slices.Clone(v), 0)
			err := p.m.Peek(v)
			if pushed[string(v)] {
				p.eq(ke, err, "peek of a pushed value")
				require.Zero(t, ke)
			} else {
				// Either may report a false positive; only count them.
				unknown++
				if ke == 0 {
					fpKernel++
				}
				if err == nil {
					fpOurs++
				}
			}
		case r < 94:
			p.delete(nil)
		case r < 97:
			p.lookupAndDelete(nil, 0)
		default:
			_, ke := p.k.nextKey(nil)
			_, err := p.m.NextKey(nil)
			p.eq(ke, err, "next key")
		}
	}
	t.Logf("peeks of values never pushed: %d; false positives: kernel %d, ebpfvm %d", unknown, fpKernel, fpOurs)
	require.LessOrEqual(t, fpOurs, unknown/20+5)
	opCounts["bloom_filter"] += p.ops
}

func TestKernelDiffMapOfMaps(t *testing.T) {
	needKernel(t)
	ncpu := possibleCPUs(t)
	for _, typ := range []MapType{ArrayOfMaps, HashOfMaps} {
		t.Run(typ.String(), func(t *testing.T) {
			innerSpec := &Spec{Name: "inner", Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 4}
			// A pool of inner maps, the last one incompatible.
			type innerPair struct {
				k *ebpf.Map
				m *Map
			}
			var inners []innerPair
			for i := range 4 {
				s := innerSpec.Copy()
				if i == 3 {
					s.ValueSize = 8
				}
				km, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: s.KeySize, ValueSize: s.ValueSize, MaxEntries: s.MaxEntries})
				require.NoError(t, err)
				t.Cleanup(func() { km.Close() })
				m, err := New(s, Options{NumCPU: ncpu})
				require.NoError(t, err)
				t.Cleanup(func() { m.Close() })
				inners = append(inners, innerPair{km, m})
			}
			kernelID := map[uint32]int{}
			oursID := map[uint32]int{}
			for i, in := range inners {
				info, err := in.k.Info()
				require.NoError(t, err)
				id, _ := info.ID()
				kernelID[uint32(id)] = i
				oursID[in.m.ID()] = i
			}
			keySize := uint32(4)
			if typ == HashOfMaps {
				keySize = 3
			}
			spec := &Spec{Name: "diff_outer", Type: typ, KeySize: keySize, ValueSize: 4, MaxEntries: 8, InnerMap: innerSpec}
			km, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.MapType(typ), KeySize: keySize, ValueSize: 4, MaxEntries: 8,
				InnerMap: &ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 4}})
			require.NoError(t, err)
			t.Cleanup(func() { km.Close() })
			m, err := New(spec, Options{NumCPU: ncpu})
			require.NoError(t, err)
			t.Cleanup(func() { m.Close() })
			p := &pair{t: t, k: &kmap{fd: km.FD(), fullValue: 4, keySize: int(keySize)}, km: km, m: m,
				rng: rand.New(rand.NewPCG(500+uint64(typ), 1))}
			key := func() []byte {
				b := make([]byte, keySize)
				b[0] = byte(p.rng.IntN(11))
				return b
			}
			// Values map to inner indexes on both sides.
			innerIndex := func(v []byte, ids map[uint32]int) int {
				i, ok := ids[binary.NativeEndian.Uint32(v)]
				require.True(t, ok, "unknown inner map id %x", v)
				return i
			}
			// Every update and delete of a map of maps waits for an RCU grace
			// period in the kernel: the minimum of operations keeps it short.
			for p.ops = 0; p.ops < 10000; p.ops++ {
				switch r := p.rng.IntN(100); {
				case r < 50:
					k := key()
					kv, ke := p.k.lookup(k, 0)
					v, err := m.Lookup(k)
					p.eq(ke, err, "lookup %x", k)
					if ke == 0 {
						require.Equal(t, innerIndex(kv, kernelID), innerIndex(v, oursID))
					}
				case r < 66:
					k, f := key(), p.randFlags()
					i := p.rng.IntN(len(inners) + 1)
					kval, oval := make([]byte, 4), make([]byte, 4)
					if i < len(inners) {
						binary.NativeEndian.PutUint32(kval, uint32(inners[i].k.FD()))
						binary.NativeEndian.PutUint32(oval, inners[i].m.ID())
					} else {
						binary.NativeEndian.PutUint32(kval, 9999) // no such fd
						binary.NativeEndian.PutUint32(oval, 0xfffffff)
					}
					ke := p.k.update(k, kval, f)
					err := m.Update(k, oval, UpdateFlags(f))
					p.eq(ke, err, "update %x with inner %d flags %#x", k, i, f)
				case r < 72:
					p.delete(key())
				case r < 93:
					if typ == ArrayOfMaps {
						p.nextKeyExact(key())
					} else {
						p.nextKeyHash(key())
					}
				case r < 95:
					p.lookupAndDelete(key(), 0)
				case r < 97:
					n := 1 + p.rng.IntN(3)
					var ks []byte
					for range n {
						ks = append(ks, key()...)
					}
					p.batchDelete(ks)
				case r < 98:
					// Batch lookups: the same keys (values are ids, compared below).
					kset, ke := p.walkBatchKernel(cmdLookupBatch, 4)
					oset, oe := p.walkBatchOurs(false, 4)
					require.Equal(t, ke, oe)
					require.Equal(t, slices.Sorted(maps.Keys(kset)), slices.Sorted(maps.Keys(oset)))
				default:
					kset, ours := p.contents()
					require.Len(t, ours, len(kset))
					for k, v := range kset {
						require.Contains(t, ours, k)
						require.Equal(t, innerIndex([]byte(v), kernelID), innerIndex([]byte(ours[k]), oursID))
					}
				}
			}
			opCounts[typ.String()] += p.ops
		})
	}
}

// fakeProg stands for a loaded program; its ID is the kernel program's.
type fakeProg struct{ id uint32 }

func (f fakeProg) ID() uint32 { return f.id }

func TestKernelDiffProgArray(t *testing.T) {
	needKernel(t)
	var progs []*ebpf.Program
	var ids []uint32
	for range 3 {
		pr, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}})
		require.NoError(t, err)
		t.Cleanup(func() { pr.Close() })
		info, err := pr.Info()
		require.NoError(t, err)
		id, _ := info.ID()
		progs = append(progs, pr)
		ids = append(ids, uint32(id))
	}
	spec := &Spec{Name: "diff_progs", Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 8}
	p := newPair(t, spec, 600)
	key := func() []byte {
		b := make([]byte, 4)
		binary.NativeEndian.PutUint32(b, uint32(p.rng.IntN(10)))
		return b
	}
	for p.ops = 0; p.ops < diffOps; p.ops++ {
		switch r := p.rng.IntN(100); {
		case r < 35:
			p.lookup(key(), 0)
		case r < 65:
			k := key()
			i := p.rng.IntN(len(progs))
			v := make([]byte, 4)
			binary.NativeEndian.PutUint32(v, uint32(progs[i].FD()))
			ke := p.k.update(k, v, 0)
			err := p.m.SetProgram(binary.NativeEndian.Uint32(k), fakeProg{ids[i]})
			p.eq(ke, err, "set program %x", k)
		case r < 85:
			p.delete(key())
		default:
			p.nextKeyExact(key())
		}
	}
	opCounts["prog_array"] += p.ops
}

// TestKernelDiffCreate compares map creation: random specs (small sizes,
// so that no allocation is large) and edge cases must be accepted or
// rejected with the same errno.
func TestKernelDiffCreate(t *testing.T) {
	needKernel(t)
	ncpu := possibleCPUs(t)
	try := func(s *Spec) {
		t.Helper()
		innerFD := 0
		if s.InnerMap != nil {
			fd, e := kernelCreate(s.InnerMap, 0)
			require.Zero(t, e, "inner %v", s.InnerMap)
			defer unix.Close(fd)
			innerFD = fd
		}
		fd, ke := kernelCreate(s, innerFD)
		if ke == 0 {
			unix.Close(fd)
		}
		m, err := New(s, Options{NumCPU: ncpu})
		if err == nil {
			m.Close()
		}
		require.Equal(t, ke, errno(err), "spec %v (extra %#x): kernel %v, ebpfvm %v", s, s.MapExtra, ke, err)
	}
	edge := []*Spec{
		{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 0},
		{Type: Array, KeySize: 8, ValueSize: 4, MaxEntries: 1},
		{Type: Array, KeySize: 4, ValueSize: 0, MaxEntries: 1},
		{Type: Array, KeySize: 4, ValueSize: 1 << 31, MaxEntries: 1},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 32 << 10, MaxEntries: 1},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 32<<10 + 1, MaxEntries: 1},
		{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagMmapable},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagMmapable},
		{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagRdonly | FlagWronly},
		{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagRdonlyProg | FlagWronlyProg},
		{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, MapExtra: 1},
		{Type: Hash, KeySize: 1 << 21, ValueSize: 1 << 21, MaxEntries: 1},
		{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1<<31 + 1},
		{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1<<27 + 1},
		{Type: Hash, KeySize: 0, ValueSize: 4, MaxEntries: 1},
		{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoCommonLRU},
		{Type: LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc},
		{Type: LRUHash, KeySize: 4, ValueSize: 4, MaxEntries: 3, Flags: FlagNoCommonLRU},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNumaNode},
		{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNumaNode},
		{Type: LPMTrie, KeySize: 8, ValueSize: 4, MaxEntries: 1},
		{Type: LPMTrie, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc},
		{Type: LPMTrie, KeySize: 261, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc},
		{Type: LPMTrie, KeySize: 260, ValueSize: 4, MaxEntries: 1, Flags: FlagNoPrealloc},
		{Type: Queue, KeySize: 0, ValueSize: 4, MaxEntries: 1},
		{Type: Queue, KeySize: 4, ValueSize: 4, MaxEntries: 1},
		{Type: Stack, KeySize: 0, ValueSize: 1<<22 + 1, MaxEntries: 1},
		{Type: RingBuf, MaxEntries: 4096},
		{Type: RingBuf, MaxEntries: 4096 * 3},
		{Type: RingBuf, MaxEntries: 2048},
		{Type: RingBuf, KeySize: 4, MaxEntries: 4096},
		{Type: RingBuf, MaxEntries: 4096, Flags: FlagRdonly},
		{Type: BloomFilter, ValueSize: 4, MaxEntries: 100, MapExtra: 16},
		{Type: BloomFilter, ValueSize: 4, MaxEntries: 100, MapExtra: 15},
		{Type: BloomFilter, KeySize: 4, ValueSize: 4, MaxEntries: 100},
		{Type: BloomFilter, ValueSize: 1<<22 + 1, MaxEntries: 100},
		{Type: ProgramArray, KeySize: 4, ValueSize: 8, MaxEntries: 1},
		{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagRdonlyProg},
		{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagPreserveElems},
		{Type: PerfEventArray, KeySize: 4, ValueSize: 4, MaxEntries: 1, Flags: FlagPreserveElems},
		{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: "bad-name"},
		{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: "good_name.1"},
		{Type: ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMap: &Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1}},
		{Type: HashOfMaps, KeySize: 4, ValueSize: 8, MaxEntries: 1, InnerMap: &Spec{Type: Hash, KeySize: 4, ValueSize: 4, MaxEntries: 1}},
		{Type: HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1, InnerMap: &Spec{Type: ProgramArray, KeySize: 4, ValueSize: 4, MaxEntries: 1}},
		{Type: MapType(1000), KeySize: 4, ValueSize: 4, MaxEntries: 1},
	}
	for _, s := range edge {
		try(s)
	}
	// Random specs over every type we support, with small sizes.
	rng := rand.New(rand.NewPCG(7, 7))
	types := []MapType{Hash, Array, PerCPUHash, PerCPUArray, LRUHash, LRUPerCPUHash, LPMTrie, Queue, Stack, RingBuf, BloomFilter, ProgramArray}
	sizes := []uint32{0, 1, 3, 4, 5, 8, 12, 16, 260, 261}
	flagBits := []uint32{0, FlagNoPrealloc, FlagNoCommonLRU, FlagNumaNode, FlagRdonly, FlagWronly, FlagZeroSeed,
		FlagRdonlyProg, FlagWronlyProg, FlagClone, FlagMmapable, FlagPreserveElems, FlagInnerMap, FlagStackBuildID}
	n := 3000
	for range n {
		s := &Spec{
			Type:      types[rng.IntN(len(types))],
			KeySize:   sizes[rng.IntN(len(sizes))],
			ValueSize: sizes[rng.IntN(len(sizes))],
		}
		switch rng.IntN(4) {
		case 0:
			s.MaxEntries = 0
		case 1:
			s.MaxEntries = uint32(rng.IntN(8)) * 4096
		default:
			s.MaxEntries = uint32(1 + rng.IntN(100))
		}
		for range rng.IntN(3) {
			s.Flags |= flagBits[rng.IntN(len(flagBits))]
		}
		if rng.IntN(10) == 0 {
			s.MapExtra = uint64(rng.IntN(20))
		}
		try(s)
	}
	opCounts["create (specs)"] += n + len(edge)
}

// TestKernelDiffLRUEviction checks what is deterministic about eviction: a
// full LRU map never fails an insertion with E2BIG and never holds more
// than max_entries elements, in the kernel and here.
func TestKernelDiffLRUEviction(t *testing.T) {
	needKernel(t)
	spec := &Spec{Name: "diff_lru_evict", Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 256}
	p := newPair(t, spec, 700)
	for p.ops = 0; p.ops < 3000; p.ops++ {
		k := make([]byte, 4)
		binary.NativeEndian.PutUint32(k, uint32(p.ops))
		p.update(k, p.randBytes(8), 0)
		// The newest element survives its own insertion.
		p.lookup(k, 0)
	}
	kset, ours := p.contents()
	require.LessOrEqual(t, len(kset), 256)
	require.Len(t, ours, 256)
	opCounts["lru_hash eviction"] += p.ops
}

func TestMain(m *testing.M) {
	code := m.Run()
	if len(opCounts) > 0 && testing.Verbose() {
		names := make([]string, 0, len(opCounts))
		for n := range opCounts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Printf("kernel differential: %-28s %6d operations compared\n", n, opCounts[n])
		}
	}
	os.Exit(code)
}

// TestKernelDiffAccessFlags compares what BPF_F_RDONLY, BPF_F_WRONLY and
// freezing forbid.
func TestKernelDiffAccessFlags(t *testing.T) {
	needKernel(t)
	for _, flags := range []uint32{FlagRdonly, FlagWronly, 0} {
		for _, typ := range []MapType{Hash, Array, Queue} {
			spec := &Spec{Type: typ, KeySize: 4, ValueSize: 4, MaxEntries: 4, Flags: flags}
			if typ == Queue {
				spec.KeySize = 0
			}
			fd, ke := kernelCreate(spec, 0)
			require.Zero(t, ke)
			m, err := New(spec, Options{NumCPU: possibleCPUs(t)})
			require.NoError(t, err)
			p := &pair{t: t, k: &kmap{fd: fd, fullValue: 4, keySize: int(spec.KeySize)}, m: m}
			var key []byte // NULL for the queue
			if spec.KeySize > 0 {
				key = make([]byte, spec.KeySize)
			}
			for round := range 2 {
				p.update(key, u32(1), 0)
				p.lookup(key, 0)
				p.lookupAndDelete(key, 0)
				p.delete(key)
				_, ke := p.k.nextKey(nil)
				_, err := m.NextKey(nil)
				p.eq(ke, err, "next key")
				if typ != Queue {
					p.batchUpdate(key, u32(2), 0)
					kset, ke := p.walkBatchKernel(cmdLookupBatch, 4)
					oset, oe := p.walkBatchOurs(false, 4)
					require.Equal(t, ke, oe, "batch lookup")
					require.Equal(t, kset, oset)
				}
				if round == 0 && flags == 0 {
					// Freeze, then everything again.
					var a struct{ fd uint32 }
					a.fd = uint32(fd)
					_, ke := bpf(22, unsafe.Pointer(&a), unsafe.Sizeof(a)) // BPF_MAP_FREEZE
					require.Zero(t, ke)
					require.NoError(t, m.Freeze())
				}
			}
			unix.Close(fd)
			m.Close()
		}
	}
}
