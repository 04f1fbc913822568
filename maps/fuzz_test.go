package maps

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fuzzTypes are the map types FuzzMapOps exercises; the first input byte
// picks one.
var fuzzTypes = []MapType{Hash, PerCPUHash, LRUHash, Array, PerCPUArray, LPMTrie, Queue, Stack, BloomFilter, RingBuf, HashOfMaps, ProgramArray}

// FuzzMapOps applies random operation sequences to each map type, through
// the Go API and the program side, and checks them against a reference
// model of the kernel's semantics: no panic, the same results and errnos as
// the model, and the map's contents equal to the model's.
func FuzzMapOps(f *testing.F) {
	for i := range fuzzTypes {
		f.Add(append([]byte{byte(i), 3, 2, 5}, bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 4)...))
	}
	f.Fuzz(fuzzMapOps)
}

func fuzzMapOps(t *testing.T, data []byte) {
	if len(data) < 4 {
		return
	}
	typ := fuzzTypes[int(data[0])%len(fuzzTypes)]
	r := &fuzzReader{data: data[1:]}
	keySize := []uint32{1, 3, 4, 8}[r.byte()%4]
	valueSize := []uint32{1, 4, 7, 8, 12}[r.byte()%5]
	maxEntries := uint32(1 + r.byte()%16)
	spec := &Spec{Type: typ, KeySize: keySize, ValueSize: valueSize, MaxEntries: maxEntries}
	switch typ {
	case Array, PerCPUArray, ProgramArray:
		spec.KeySize = 4
	case LPMTrie:
		spec.KeySize = 4 + 1 + keySize%3
		spec.Flags = FlagNoPrealloc
	case Queue, Stack, BloomFilter:
		spec.KeySize = 0
	case RingBuf:
		spec.KeySize, spec.ValueSize, spec.MaxEntries = 0, 0, 4096
	case HashOfMaps:
		spec.ValueSize = 4
		spec.InnerMap = &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	}
	if typ == ProgramArray {
		spec.ValueSize = 4
	}
	m, err := New(spec, Options{NumCPU: 2})
	if err != nil {
		t.Fatalf("New(%v): %v", spec, err)
	}
	defer m.Close()
	fm := newFuzzModel(m)
	defer func() {
		for _, in := range fm.inners {
			in.Close()
		}
	}()
	for op := 0; !r.done(); op++ {
		fm.step(t, r, op)
	}
	fm.check(t)
}

type fuzzReader struct {
	data []byte
	pos  int
}

func (r *fuzzReader) done() bool { return r.pos >= len(r.data) }

func (r *fuzzReader) byte() byte {
	if r.pos >= len(r.data) {
		return 0
	}
	b := r.data[r.pos]
	r.pos++
	return b
}

func (r *fuzzReader) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = r.byte()
	}
	return b
}

// fuzzModel is the reference: what the kernel's semantics say the map holds.
type fuzzModel struct {
	m      *Map
	kv     map[string][]byte // hash, array (all indexes), prog_array, hash_of_maps
	lpm    map[string]lpmEntry
	queue  [][]byte
	pushed [][]byte
	ring   [][]byte
	rd     *RingbufReader
	inners []*Map
	// modelExisted records, for the last modelUpdate, whether the key existed.
	modelExisted bool
}

type lpmEntry struct {
	key   []byte // as last written, bits beyond the prefix included
	value []byte
}

func newFuzzModel(m *Map) *fuzzModel {
	fm := &fuzzModel{m: m, kv: map[string][]byte{}, lpm: map[string]lpmEntry{}}
	if m.typ == Array || m.typ == PerCPUArray {
		for i := range m.maxEntries {
			fm.kv[string(u32(i))] = make([]byte, m.FullValueSize())
		}
	}
	if m.typ == RingBuf {
		fm.rd, _ = NewRingbufReader(m)
	}
	if m.typ == HashOfMaps {
		for range 2 {
			in, _ := New(m.spec.InnerMap, Options{})
			fm.inners = append(fm.inners, in)
		}
	}
	return fm
}

func (fm *fuzzModel) key(r *fuzzReader) []byte {
	m := fm.m
	k := r.bytes(int(m.keySize))
	switch m.typ {
	case Array, PerCPUArray, ProgramArray:
		binary.NativeEndian.PutUint32(k, uint32(k[0]%byte(m.maxEntries+2)))
	case LPMTrie:
		binary.NativeEndian.PutUint32(k, uint32(k[0])%(m.lpm.maxPrefix+2))
	default:
		if len(k) > 0 {
			k[0] %= 24 // a small key space, so that keys repeat
		}
	}
	return k
}

func want(t *testing.T, op int, what string, err error, errno unix.Errno) {
	t.Helper()
	if errnoOf(err) != errno {
		t.Fatalf("op %d: %s: got %v, model says errno %d (%v)", op, what, err, int(errno), errno)
	}
}

func (fm *fuzzModel) step(t *testing.T, r *fuzzReader, op int) {
	m := fm.m
	code := r.byte()
	flags := UpdateFlags(r.byte() % 4)
	switch m.typ {
	case Queue, Stack:
		fm.stepQueue(t, r, op, code, flags)
		return
	case BloomFilter:
		v := r.bytes(int(m.valueSize))
		if code%2 == 0 {
			want(t, op, "push", m.Push(v, UpdateAny), 0)
			fm.pushed = append(fm.pushed, v)
		} else {
			for _, p := range fm.pushed {
				want(t, op, "peek of a pushed value", m.Peek(p), 0)
			}
		}
		return
	case RingBuf:
		fm.stepRing(t, r, op, code)
		return
	}
	key := fm.key(r)
	switch code % 6 {
	case 0, 1: // update
		v := r.bytes(m.FullValueSize())
		if m.typ == ProgramArray {
			err := m.SetProgram(binary.NativeEndian.Uint32(key), string(v))
			if binary.NativeEndian.Uint32(key) >= m.maxEntries {
				want(t, op, "set program", err, unix.E2BIG)
			} else {
				want(t, op, "set program", err, 0)
				fm.kv[string(key)] = u32(0)
			}
			return
		}
		var inner *Map
		if m.typ == HashOfMaps {
			inner = fm.inners[v[0]%2]
			v = u32(inner.ID())
		}
		werr := fm.modelUpdate(key, v, flags)
		var err error
		if code%6 == 1 && m.typ != HashOfMaps {
			// The program side, on CPU 0 for per-CPU maps: only that
			// CPU's value changes; a new element's others are zero.
			pv := v[:m.valueSize]
			err = m.UpdateElem(key, pv, flags, 0)
			if m.typ.PerCPU() {
				full := make([]byte, m.FullValueSize())
				if fm.modelExisted {
					copy(full, fm.kv[string(key)])
				}
				copy(full, pv)
				v = full
			}
		} else {
			err = m.Update(key, v, flags)
		}
		want(t, op, fmt.Sprintf("update %x flags %d", key, flags), err, werr)
		if werr == 0 {
			fm.commitUpdate(key, v)
		}
	case 2: // lookup
		got, err := m.Lookup(key)
		wv, werr := fm.modelLookup(key)
		want(t, op, fmt.Sprintf("lookup %x", key), err, werr)
		if werr == 0 && m.typ != ProgramArray && !bytes.Equal(got, wv) {
			t.Fatalf("op %d: lookup %x = %x, model %x", op, key, got, wv)
		}
		if werr == 0 && m.typ != HashOfMaps && m.typ != ProgramArray {
			off, ok := m.LookupOffset(key, 0)
			if !ok || !bytes.Equal(m.Arena()[off:off+m.valueSize], wv[:m.valueSize]) {
				t.Fatalf("op %d: program lookup of %x disagrees", op, key)
			}
		}
	case 3: // delete
		err := m.Delete(key)
		want(t, op, fmt.Sprintf("delete %x", key), err, fm.modelDelete(key))
	case 4: // next key from a model key: must be a key of the model
		n, err := m.NextKey(key)
		if err == nil {
			if _, werr := fm.modelLookup(n); werr != 0 && m.typ != ProgramArray && m.typ.isHash() {
				t.Fatalf("op %d: next key %x is not in the map", op, n)
			}
		}
	case 5:
		fm.check(t)
	}
}

func (fm *fuzzModel) modelUpdate(key, v []byte, flags UpdateFlags) unix.Errno {
	m := fm.m
	fm.modelExisted = false
	switch m.typ {
	case Array, PerCPUArray:
		if flags == 3 {
			return unix.EINVAL
		}
		if binary.NativeEndian.Uint32(key) >= m.maxEntries {
			return unix.E2BIG
		}
		if flags == UpdateNoExist {
			return unix.EEXIST
		}
		fm.modelExisted = true
		return 0
	case LPMTrie:
		if flags == 3 {
			return unix.EINVAL
		}
		pl, data := lpmSplit(key)
		if pl > m.lpm.maxPrefix {
			return unix.EINVAL
		}
		id := lpmID(pl, data)
		_, ok := fm.lpm[id]
		fm.modelExisted = ok
		switch {
		case ok && flags == UpdateNoExist:
			return unix.EEXIST
		case !ok && flags == UpdateExist:
			return unix.ENOENT
		case !ok && len(fm.lpm) >= int(m.maxEntries):
			return unix.ENOSPC
		}
		return 0
	}
	if flags == 3 {
		return unix.EINVAL
	}
	_, ok := fm.kv[string(key)]
	fm.modelExisted = ok
	switch {
	case ok && flags == UpdateNoExist:
		return unix.EEXIST
	case !ok && flags == UpdateExist:
		return unix.ENOENT
	case !ok && len(fm.kv) >= int(m.maxEntries) && m.typ != LRUHash:
		return unix.E2BIG
	}
	return 0
}

func (fm *fuzzModel) commitUpdate(key, v []byte) {
	m := fm.m
	if m.typ == LPMTrie {
		pl, data := lpmSplit(key)
		fm.lpm[lpmID(pl, data)] = lpmEntry{key: slices.Clone(key), value: slices.Clone(v)}
		return
	}
	if m.typ == LRUHash && !fm.modelExisted && len(fm.kv) >= int(m.maxEntries) {
		// Evicted: whatever ebpfvm's policy chose; the model follows the map.
		clear(fm.kv)
		for k, val := range m.All() {
			fm.kv[string(k)] = val
		}
		return
	}
	if m.typ == Array || m.typ == PerCPUArray {
		old := fm.kv[string(key)]
		copy(old, v)
		return
	}
	fm.kv[string(key)] = slices.Clone(v)
}

func (fm *fuzzModel) modelLookup(key []byte) ([]byte, unix.Errno) {
	m := fm.m
	if m.typ == LPMTrie {
		pl, data := lpmSplit(key)
		best := -1
		var bv []byte
		for _, e := range fm.lpm {
			epl, edata := lpmSplit(e.key)
			if epl <= pl && int(epl) > best && lpmID(epl, edata) == lpmID(epl, data) {
				best, bv = int(epl), e.value
			}
		}
		if best < 0 || pl > m.lpm.maxPrefix {
			return nil, unix.ENOENT
		}
		return bv, 0
	}
	v, ok := fm.kv[string(key)]
	if !ok {
		return nil, unix.ENOENT
	}
	return v, 0
}

func (fm *fuzzModel) modelDelete(key []byte) unix.Errno {
	m := fm.m
	switch m.typ {
	case Array, PerCPUArray:
		return unix.EINVAL
	case ProgramArray:
		if binary.NativeEndian.Uint32(key) >= m.maxEntries {
			return unix.E2BIG
		}
	case LPMTrie:
		pl, data := lpmSplit(key)
		if pl > m.lpm.maxPrefix {
			return unix.EINVAL
		}
		id := lpmID(pl, data)
		if _, ok := fm.lpm[id]; !ok {
			return unix.ENOENT
		}
		delete(fm.lpm, id)
		return 0
	}
	if _, ok := fm.kv[string(key)]; !ok {
		return unix.ENOENT
	}
	delete(fm.kv, string(key))
	return 0
}

// lpmID identifies an lpm_trie element: its prefix length and prefix bits.
func lpmID(pl uint32, data []byte) string {
	b := slices.Clone(data)
	for i := range b {
		bit := uint32(i) * 8
		switch {
		case bit >= pl:
			b[i] = 0
		case bit+8 > pl:
			b[i] &= 0xff << (8 - (pl - bit))
		}
	}
	return fmt.Sprintf("%d/%x", pl, b)
}

func (fm *fuzzModel) stepQueue(t *testing.T, r *fuzzReader, op int, code byte, flags UpdateFlags) {
	m := fm.m
	v := r.bytes(int(m.valueSize))
	out := make([]byte, m.valueSize)
	switch code % 3 {
	case 0:
		var werr unix.Errno
		full := len(fm.queue) == int(m.maxEntries)
		switch {
		case flags&UpdateNoExist != 0:
			werr = unix.EINVAL
		case full && flags != UpdateExist:
			werr = unix.E2BIG
		}
		want(t, op, "push", m.Push(v, flags), werr)
		if werr == 0 {
			if full {
				fm.queue = fm.queue[1:] // the oldest goes
			}
			fm.queue = append(fm.queue, v)
		}
	case 1, 2:
		del := code%3 == 2
		var err error
		if del {
			err = m.Pop(out)
		} else {
			err = m.Peek(out)
		}
		if len(fm.queue) == 0 {
			want(t, op, "pop/peek", err, unix.ENOENT)
			return
		}
		want(t, op, "pop/peek", err, 0)
		i := 0
		if m.typ == Stack {
			i = len(fm.queue) - 1
		}
		if !bytes.Equal(out, fm.queue[i]) {
			t.Fatalf("op %d: got %x, model %x", op, out, fm.queue[i])
		}
		if del {
			fm.queue = slices.Delete(fm.queue, i, i+1)
		}
	}
}

func (fm *fuzzModel) stepRing(t *testing.T, r *fuzzReader, op int, code byte) {
	m := fm.m
	switch code % 4 {
	case 0, 1:
		data := r.bytes(int(r.byte()) * 8)
		if off, ok := m.Reserve(uint64(len(data)), 0); ok {
			copy(m.Arena()[off:], data)
			if code%4 == 0 {
				want(t, op, "submit", m.Submit(off, 0), 0)
				fm.ring = append(fm.ring, data)
			} else {
				want(t, op, "discard", m.Discard(off, 0), 0)
			}
		}
	case 2:
		want(t, op, "submit of a bogus offset", m.Submit(uint32(r.byte())*3+1, 0), unix.EINVAL)
	case 3:
		fm.drainRing(t, op)
	}
}

func (fm *fuzzModel) drainRing(t *testing.T, op int) {
	for len(fm.ring) > 0 {
		fm.rd.SetDeadline(time.Unix(1, 0)) // all records are committed: never wait
		rec, err := fm.rd.Read()
		if err != nil {
			t.Fatalf("op %d: read: %v with %d records pending", op, err, len(fm.ring))
		}
		if !bytes.Equal(rec.RawSample, fm.ring[0]) {
			t.Fatalf("op %d: read %x, model %x", op, rec.RawSample, fm.ring[0])
		}
		fm.ring = fm.ring[1:]
	}
	// Nothing else is committed: a read skips trailing discarded records
	// and finds nothing.
	fm.rd.SetDeadline(time.Unix(1, 0))
	if rec, err := fm.rd.Read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("op %d: read %x, %v after the model's records", op, rec.RawSample, err)
	}
	if m := fm.m; m.Query(RingbufAvailData) != 0 {
		t.Fatalf("op %d: %d bytes left after draining", op, m.Query(RingbufAvailData))
	}
}

// check compares the whole map with the model.
func (fm *fuzzModel) check(t *testing.T) {
	m := fm.m
	switch m.typ {
	case RingBuf:
		fm.drainRing(t, -1)
		return
	case Queue, Stack, BloomFilter:
		return
	}
	got := map[string]string{}
	for k, v := range m.All() {
		got[string(k)] = string(v)
	}
	wantKV := map[string]string{}
	switch m.typ {
	case LPMTrie:
		for _, e := range fm.lpm {
			wantKV[string(e.key)] = string(e.value)
		}
	case ProgramArray:
		for k := range fm.kv {
			wantKV[k] = string(u32(0))
		}
	default:
		for k, v := range fm.kv {
			wantKV[k] = string(v)
		}
	}
	if len(got) > int(m.maxEntries) {
		t.Fatalf("%d elements, max_entries %d", len(got), m.maxEntries)
	}
	if fmt.Sprint(got) != fmt.Sprint(wantKV) {
		t.Fatalf("map holds %x\nmodel holds %x", got, wantKV)
	}
}
