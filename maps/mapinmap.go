package maps

import (
	"encoding/binary"
	"sync/atomic"
)

func putIndex(b []byte, i uint32) { binary.NativeEndian.PutUint32(b, i) }

// mapOfMaps holds the inner maps of an array_of_maps (slots, by index) or a
// hash_of_maps (bySlot, by hash slot, guarded by the hash's lock). The
// arena holds each element's inner map id, which the syscall's lookup
// returns.
type mapOfMaps struct {
	tmpl   *Spec
	slots  []atomic.Pointer[Map]
	bySlot []*Map
}

// UpdateMap stores inner under key in an array_of_maps or hash_of_maps.
// inner must match the InnerMap spec (type, key and value sizes, flags, and
// for arrays max_entries unless the template has BPF_F_INNER_MAP): else
// EINVAL, as the kernel's map_meta_equal.
func (m *Map) UpdateMap(key []byte, inner *Map, flags UpdateFlags) error {
	const op = "update"
	if err := m.checkWrite(op); err != nil {
		return err
	}
	if err := m.checkKey(op, key); err != nil {
		return err
	}
	if inner == nil {
		return m.err(op, eBADF, "nil inner map")
	}
	return m.updateInner(key, inner, flags)
}

// updateMapByID is Update of a map of maps: the value is an inner map's id.
func (m *Map) updateMapByID(key, value []byte, flags UpdateFlags) error {
	if m.typ == ArrayOfMaps {
		// fd arrays check flags and the index before the fd.
		if err := m.aomPrecheck(key, flags); err != nil {
			return err
		}
	}
	id := binary.NativeEndian.Uint32(value)
	inner, ok := ByID(id)
	if !ok {
		return m.err("update", eBADF, "no open map has id %d", id)
	}
	return m.updateInner(key, inner, flags)
}

func (m *Map) aomPrecheck(key []byte, flags UpdateFlags) error {
	if flags != UpdateAny {
		return m.err("update", eINVAL, "only BPF_ANY is allowed")
	}
	if i := arrayIndex(key); i >= m.maxEntries {
		return m.err("update", e2BIG, "index %d out of range (max_entries %d)", i, m.maxEntries)
	}
	return nil
}

func (m *Map) updateInner(key []byte, inner *Map, flags UpdateFlags) error {
	const op = "update"
	if m.outer == nil {
		return m.err(op, eINVAL, "%s does not hold maps", m.typ)
	}
	if m.typ == ArrayOfMaps {
		if err := m.aomPrecheck(key, flags); err != nil {
			return err
		}
	}
	if !innerCompatible(m.outer.tmpl, inner) {
		return m.err(op, eINVAL, "inner map %s does not match the inner map spec %s", inner.spec.String(), m.outer.tmpl.String())
	}
	var id [4]byte
	binary.NativeEndian.PutUint32(id[:], inner.id)
	if m.typ == HashOfMaps {
		return m.hashUpdate(key, id[:], flags, false, 0, inner)
	}
	i := arrayIndex(key)
	l := m.arr.lock(i)
	l.Lock()
	m.outer.slots[i].Store(inner)
	copy(m.arena[uint64(i)*uint64(m.elemSize):], id[:])
	l.Unlock()
	return nil
}

func (m *Map) arrayOfMapsLookup(key, out []byte) error {
	i := arrayIndex(key)
	if i >= m.maxEntries {
		return m.err("lookup", eNOENT, "index %d out of range (max_entries %d)", i, m.maxEntries)
	}
	in := m.outer.slots[i].Load()
	if in == nil {
		return m.err("lookup", eNOENT, "slot %d is empty", i)
	}
	binary.NativeEndian.PutUint32(out, in.id)
	return nil
}

// LookupMap returns the inner map stored under key in a map of maps.
func (m *Map) LookupMap(key []byte) (*Map, error) {
	const op = "lookup"
	if err := m.checkRead(op); err != nil {
		return nil, err
	}
	if err := m.checkKey(op, key); err != nil {
		return nil, err
	}
	if m.outer == nil {
		return nil, m.err(op, eINVAL, "%s does not hold maps", m.typ)
	}
	in, ok := m.InnerMap(key)
	if !ok {
		return nil, m.err(op, eNOENT, "")
	}
	return in, nil
}

// InnerMap is bpf_map_lookup_elem on a map of maps, called by a program:
// the inner map stored under key. key must have KeySize bytes.
func (m *Map) InnerMap(key []byte) (*Map, bool) {
	if m.outer == nil || len(key) != int(m.keySize) {
		return nil, false
	}
	if m.typ == ArrayOfMaps {
		i := arrayIndex(key)
		if i >= m.maxEntries {
			return nil, false
		}
		in := m.outer.slots[i].Load()
		return in, in != nil
	}
	h := m.ht
	hv := h.hash(key)
	h.mu.RLock()
	s, _, ok := h.find(key, hv)
	var in *Map
	if ok {
		in = m.outer.bySlot[s]
	}
	h.mu.RUnlock()
	return in, in != nil
}

// progArray holds the programs of a prog_array. The maps package does not
// know what a program is: entries are whatever the loader stores (a
// *vm.Program, typically), and the tail-call helper gets them back.
type progArray struct {
	slots []atomic.Pointer[progEntry]
}

type progEntry struct{ p any }

// SetProgram stores program p at index of a prog_array (the kernel takes a
// program fd through Update). Out of range: E2BIG.
func (m *Map) SetProgram(index uint32, p any) error {
	const op = "update"
	if err := m.checkWrite(op); err != nil {
		return err
	}
	if m.progs == nil {
		return m.err(op, eINVAL, "%s does not hold programs", m.typ)
	}
	if index >= m.maxEntries {
		return m.err(op, e2BIG, "index %d out of range (max_entries %d)", index, m.maxEntries)
	}
	if p == nil {
		return m.err(op, eBADF, "nil program: use Delete to clear a slot")
	}
	m.progs.slots[index].Store(&progEntry{p: p})
	return nil
}

// Program is what bpf_tail_call needs: the program at index of a
// prog_array, if any. It never blocks or allocates.
func (m *Map) Program(index uint32) (any, bool) {
	if m.progs == nil || index >= m.maxEntries {
		return nil, false
	}
	e := m.progs.slots[index].Load()
	if e == nil {
		return nil, false
	}
	return e.p, true
}

// progLookup is the syscall's lookup of a prog_array, which returns the
// program's id: here the value of an ID() uint32 method if the stored
// program has one, else 0.
func (m *Map) progLookup(key, out []byte) error {
	p, ok := m.Program(arrayIndex(key))
	if !ok {
		return m.err("lookup", eNOENT, "")
	}
	var id uint32
	if ider, ok := p.(interface{ ID() uint32 }); ok {
		id = ider.ID()
	}
	binary.NativeEndian.PutUint32(out, id)
	return nil
}
