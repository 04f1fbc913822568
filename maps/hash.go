package maps

import (
	"bytes"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
)

// hashMap is the hash table of hash, percpu_hash, lru_hash, lru_percpu_hash
// and hash_of_maps.
//
// Elements live in MaxEntries preallocated slots (as the kernel
// preallocates by default): slot s holds its key at keys[s*keySize] and its
// value(s) at arena offset s*elemSize. Freed slots are recycled through a
// LIFO free list; a freed slot's value memory stays valid, so a program
// holding a pointer to it reads stale data rather than faulting, as with
// the kernel's preallocated elements.
//
// The index is an open-addressing table with linear probing and
// backward-shift deletion, so that lookups touch one or two cache lines and
// never allocate. An entry is hash<<32 | slot+1 (0 is empty); the hash's low
// bits give the home bucket.
//
// Iteration (NextKey, iterators, batches) follows slot order, which does not
// depend on hashes: an element that stays in the map is visited exactly once
// by an iteration, whatever happens to other elements meanwhile.
type hashMap struct {
	mu      sync.RWMutex
	keySize int
	keys    []byte
	table   []uint64
	mask    uint32
	seed    maphash.Seed
	used    []uint64 // bitmap of live slots
	free    []uint32 // stack of free slots
	count   uint32
	slots   uint32

	lru  bool
	refs []atomic.Uint32 // LRU reference bits, set by program lookups
	hand uint32          // the CLOCK hand of LRU eviction
}

func newHashMap(m *Map) *hashMap {
	max := m.maxEntries
	h := &hashMap{
		keySize: int(m.keySize),
		keys:    make([]byte, uint64(max)*uint64(m.keySize)),
		seed:    maphash.MakeSeed(),
		used:    make([]uint64, (uint64(max)+63)/64),
		free:    make([]uint32, max),
		slots:   max,
		lru:     m.typ.isLRU(),
	}
	n := roundPow2(uint64(max) * 2)
	if n < 8 {
		n = 8
	}
	h.table = make([]uint64, n)
	h.mask = uint32(n - 1)
	// Slot 0 is used first: pop from the end.
	for i := range h.free {
		h.free[i] = max - 1 - uint32(i)
	}
	if h.lru {
		h.refs = make([]atomic.Uint32, max)
	}
	return h
}

func (h *hashMap) hash(key []byte) uint32 { return uint32(maphash.Bytes(h.seed, key)) }

func (h *hashMap) key(slot uint32) []byte {
	off := int(slot) * h.keySize
	return h.keys[off : off+h.keySize : off+h.keySize]
}

// find returns the slot of key and its table position, or ok=false and the
// position where it would be inserted.
func (h *hashMap) find(key []byte, hv uint32) (slot, pos uint32, ok bool) {
	i := hv & h.mask
	for {
		e := h.table[i]
		if e == 0 {
			return 0, i, false
		}
		if uint32(e>>32) == hv {
			s := uint32(e) - 1
			if bytes.Equal(h.key(s), key) {
				return s, i, true
			}
		}
		i = (i + 1) & h.mask
	}
}

func (h *hashMap) isUsed(s uint32) bool { return h.used[s/64]&(1<<(s%64)) != 0 }

// insert stores key at a free slot; the caller checked that one is free.
func (h *hashMap) insert(key []byte, hv, pos uint32) uint32 {
	s := h.free[len(h.free)-1]
	h.free = h.free[:len(h.free)-1]
	copy(h.key(s), key)
	h.table[pos] = uint64(hv)<<32 | uint64(s+1)
	h.used[s/64] |= 1 << (s % 64)
	h.count++
	if h.lru {
		h.refs[s].Store(0)
	}
	return s
}

// remove deletes the entry at table position pos (holding slot s).
func (h *hashMap) remove(s, pos uint32) {
	h.table[pos] = 0
	// Shift back the entries of the probe sequence that follows, so that
	// lookups never need tombstones.
	i, j := pos, pos
	for {
		j = (j + 1) & h.mask
		e := h.table[j]
		if e == 0 {
			break
		}
		home := uint32(e>>32) & h.mask
		var stays bool
		if i <= j {
			stays = i < home && home <= j
		} else {
			stays = home > i || home <= j
		}
		if !stays {
			h.table[i] = e
			h.table[j] = 0
			i = j
		}
	}
	h.used[s/64] &^= 1 << (s % 64)
	h.free = append(h.free, s)
	h.count--
}

// removeSlot deletes the element in slot s.
func (h *hashMap) removeSlot(s uint32) {
	k := h.key(s)
	_, pos, _ := h.find(k, h.hash(k))
	h.remove(s, pos)
}

// nextUsed returns the first live slot >= from.
func (h *hashMap) nextUsed(from uint32) (uint32, bool) {
	n := h.slots
	for from < n {
		w := h.used[from/64] >> (from % 64)
		if w != 0 {
			s := from + uint32(bits.TrailingZeros64(w))
			return s, s < n
		}
		from = (from/64 + 1) * 64
	}
	return 0, false
}

// evict frees a slot of a full LRU map with the CLOCK algorithm: the hand
// sweeps the slots, giving a referenced element a second chance (clearing
// its bit) and evicting the first unreferenced one.
func (h *hashMap) evict(m *Map) {
	n := m.maxEntries
	for {
		s := h.hand
		h.hand++
		if h.hand >= n {
			h.hand = 0
		}
		if !h.isUsed(s) {
			continue
		}
		if h.refs[s].Load() != 0 {
			h.refs[s].Store(0)
			continue
		}
		if m.outer != nil {
			m.outer.bySlot[s] = nil
		}
		h.removeSlot(s)
		return
	}
}

func (m *Map) valueAt(slot uint32) []byte {
	off := uint64(slot) * uint64(m.elemSize)
	return m.arena[off : off+uint64(m.elemSize) : off+uint64(m.elemSize)]
}

// copyOut copies the value of slot as the syscall returns it.
func (m *Map) copyOut(out []byte, slot uint32) {
	v := m.valueAt(slot)
	if m.typ.PerCPU() {
		copy(out, v)
	} else {
		copy(out, v[:m.valueSize])
	}
}

func (m *Map) hashLookup(key, out []byte) error {
	h := m.ht
	hv := h.hash(key)
	h.mu.RLock()
	s, _, ok := h.find(key, hv)
	if ok {
		m.copyOut(out, s)
	}
	h.mu.RUnlock()
	if !ok {
		return m.err("lookup", eNOENT, "")
	}
	return nil
}

// hashOffset is the program-side lookup; in an LRU map it marks the
// element referenced, as the kernel's inlined lookup does.
func (m *Map) hashOffset(key []byte, cpu int) (uint32, bool) {
	h := m.ht
	if m.typ.PerCPU() && uint(cpu) >= uint(m.ncpu) {
		return 0, false
	}
	hv := h.hash(key)
	h.mu.RLock()
	s, _, ok := h.find(key, hv)
	if ok && h.lru && h.refs[s].Load() == 0 {
		h.refs[s].Store(1)
	}
	h.mu.RUnlock()
	if !ok {
		return 0, false
	}
	off := s * m.elemSize
	if m.typ.PerCPU() {
		off += uint32(cpu) * m.stride
	}
	return off, true
}

// hashUpdate is the update of every hash type. prog selects the semantics
// of a program's update for per-CPU maps (only cpu's value is written; a
// new element's other values are zeroed).
//
// Unlike the kernel, which links a new element in place of the old one for
// hash and lru_hash, an existing element is updated in place: a program
// holding a pointer to the value sees the new value. Per-CPU maps update in
// place in the kernel too.
//
// inner is the map a hash_of_maps element refers to (value holds its id).
func (m *Map) hashUpdate(key, value []byte, flags UpdateFlags, prog bool, cpu int, inner *Map) error {
	const op = "update"
	// The kernel accepts BPF_F_LOCK here only for hash (and then needs a
	// spin lock); the per-CPU and LRU variants reject it as unknown.
	if m.typ == Hash {
		if flags&^UpdateLock > UpdateExist {
			return m.err(op, eINVAL, "unknown flags %#x", uint64(flags))
		}
		if flags&UpdateLock != 0 {
			return m.err(op, eINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value, which needs BTF")
		}
	} else if flags > UpdateExist {
		return m.err(op, eINVAL, "unknown flags %#x", uint64(flags))
	}
	h := m.ht
	hv := h.hash(key)
	h.mu.Lock()
	defer h.mu.Unlock()
	s, pos, ok := h.find(key, hv)
	if ok && flags == UpdateNoExist {
		return m.err(op, eEXIST, "")
	}
	if !ok && flags == UpdateExist {
		return m.err(op, eNOENT, "")
	}
	if !ok {
		if h.count >= m.maxEntries {
			if !h.lru {
				return m.err(op, e2BIG, "map is full (max_entries %d)", m.maxEntries)
			}
			h.evict(m)
			_, pos, _ = h.find(key, hv)
		}
		s = h.insert(key, hv, pos)
	} else if h.lru {
		h.refs[s].Store(1)
	}
	if m.outer != nil {
		m.outer.bySlot[s] = inner
	}
	v := m.valueAt(s)
	switch {
	case !m.typ.PerCPU():
		copy(v[:m.valueSize], value)
	case !prog:
		copy(v, value)
	default:
		if !ok {
			clear(v)
		}
		copy(v[uint32(cpu)*m.stride:][:m.valueSize], value)
	}
	return nil
}

func (m *Map) hashDelete(key []byte, out []byte) error {
	op := "delete"
	if out != nil {
		op = "lookup and delete"
	}
	h := m.ht
	hv := h.hash(key)
	h.mu.Lock()
	defer h.mu.Unlock()
	s, pos, ok := h.find(key, hv)
	if !ok {
		return m.err(op, eNOENT, "")
	}
	if out != nil {
		m.copyOut(out, s)
	}
	if m.outer != nil {
		m.outer.bySlot[s] = nil
	}
	h.remove(s, pos)
	return nil
}

// hashNextKey returns the key after key in slot order; a nil or missing key
// restarts at the first element, as the kernel does.
func (m *Map) hashNextKey(key, out []byte) error {
	h := m.ht
	var from uint32
	h.mu.RLock()
	defer h.mu.RUnlock()
	if key != nil {
		if s, _, ok := h.find(key, h.hash(key)); ok {
			from = s + 1
		}
	}
	s, ok := h.nextUsed(from)
	if !ok {
		return m.err("next key", eNOENT, "")
	}
	copy(out, h.key(s))
	return nil
}

// hashElemAt copies the element at or after slot position pos; it returns
// the position after it.
func (m *Map) hashElemAt(pos uint32, keyOut, valueOut []byte, cpu int) (off, next uint32, ok bool) {
	h := m.ht
	h.mu.RLock()
	defer h.mu.RUnlock()
	s, ok := h.nextUsed(pos)
	if !ok {
		return 0, 0, false
	}
	copy(keyOut, h.key(s))
	if valueOut != nil {
		m.copyOut(valueOut, s)
	}
	off = s * m.elemSize
	if m.typ.PerCPU() && cpu > 0 && cpu < m.ncpu {
		off += uint32(cpu) * m.stride
	}
	return off, s + 1, true
}
