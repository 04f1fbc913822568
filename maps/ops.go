package maps

// Lookup returns a copy of the value of key, as the bpf() syscall returns
// it: for per-CPU maps, NumCPU values one ValueStride apart (see
// LookupPerCPU); for a queue or stack, the element Pop would return (key
// nil); for a map of maps, the id of the inner map; for a prog_array, the
// id of the program (see progArray). Errors: ENOENT for a missing key.
func (m *Map) Lookup(key []byte) ([]byte, error) {
	return m.LookupWithFlags(key, 0)
}

// LookupWithFlags is Lookup with the syscall's flags (only BPF_F_LOCK
// exists, and needs a spin lock, which ebpfvm values never have).
func (m *Map) LookupWithFlags(key []byte, flags UpdateFlags) ([]byte, error) {
	out := make([]byte, m.FullValueSize())
	if err := m.lookupInto(key, out, flags); err != nil {
		return nil, err
	}
	return out, nil
}

// LookupInto is Lookup into a caller's buffer of FullValueSize bytes.
func (m *Map) LookupInto(key, value []byte) error { return m.lookupInto(key, value, 0) }

func (m *Map) lookupInto(key, out []byte, flags UpdateFlags) error {
	const op = "lookup"
	if flags&^UpdateLock != 0 {
		return m.err(op, eINVAL, "unknown flags %#x", uint64(flags))
	}
	if err := m.checkRead(op); err != nil {
		return err
	}
	if flags&UpdateLock != 0 {
		return m.err(op, eINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value, which needs BTF")
	}
	if err := m.checkKey(op, key); err != nil {
		return err
	}
	if err := m.checkValue(op, out, m.FullValueSize()); err != nil {
		return err
	}
	switch m.typ {
	case Array, PerCPUArray:
		return m.arrayLookup(key, out)
	case Hash, PerCPUHash, LRUHash, LRUPerCPUHash, HashOfMaps:
		return m.hashLookup(key, out)
	case LPMTrie:
		return m.lpmLookup(key, out)
	case Queue, Stack:
		return m.qsGet(out, false)
	case BloomFilter:
		return m.err(op, eINVAL, "a bloom_filter lookup takes the value to test: use Peek")
	case ProgramArray:
		return m.progLookup(key, out)
	case ArrayOfMaps:
		return m.arrayOfMapsLookup(key, out)
	}
	return m.err(op, ENOTSUPP, "")
}

// Update sets the value of key with the kernel's flag semantics:
// UpdateAny, UpdateNoExist (EEXIST if the key exists), UpdateExist (ENOENT
// if it does not). Full maps return E2BIG (lpm_trie: ENOSPC) except LRU
// maps, which evict. For a queue, stack or bloom filter (key nil) Update
// pushes. For a map of maps the value is the 4-byte id of the inner map
// (the kernel takes a file descriptor); see also UpdateMap. Per-CPU maps
// take NumCPU values one ValueStride apart (see UpdatePerCPU).
func (m *Map) Update(key, value []byte, flags UpdateFlags) error {
	const op = "update"
	if err := m.checkWrite(op); err != nil {
		return err
	}
	if flags&UpdateLock != 0 {
		return m.err(op, eINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value, which needs BTF")
	}
	if err := m.checkKey(op, key); err != nil {
		return err
	}
	if err := m.checkValue(op, value, m.FullValueSize()); err != nil {
		return err
	}
	switch m.typ {
	case Array, PerCPUArray:
		return m.arrayUpdate(key, value, flags, false, 0)
	case Hash, PerCPUHash, LRUHash, LRUPerCPUHash:
		return m.hashUpdate(key, value, flags, false, 0, nil)
	case HashOfMaps, ArrayOfMaps:
		return m.updateMapByID(key, value, flags)
	case LPMTrie:
		return m.lpmUpdate(key, value, flags)
	case Queue, Stack:
		return m.qsPush(value, flags)
	case BloomFilter:
		return m.bloomPush(value, flags)
	case ProgramArray, PerfEventArray:
		if flags != UpdateAny {
			return m.err(op, eINVAL, "only BPF_ANY is allowed")
		}
		if i := arrayIndex(key); i >= m.maxEntries {
			return m.err(op, e2BIG, "index %d out of range (max_entries %d)", i, m.maxEntries)
		}
		if m.typ == ProgramArray {
			return m.err(op, eINVAL, "prog_array values are programs, not file descriptors: use SetProgram")
		}
		return m.err(op, eINVAL, "perf_event_array values are perf events: attach a PerfReader")
	}
	return m.err(op, ENOTSUPP, "")
}

// Delete removes key. Arrays cannot delete (EINVAL); a missing key is ENOENT.
func (m *Map) Delete(key []byte) error {
	const op = "delete"
	if err := m.checkWrite(op); err != nil {
		return err
	}
	if err := m.checkKey(op, key); err != nil {
		return err
	}
	return m.deleteElem(key)
}

func (m *Map) deleteElem(key []byte) error {
	const op = "delete"
	switch m.typ {
	case Array, PerCPUArray:
		return m.err(op, eINVAL, "array elements cannot be deleted")
	case Hash, PerCPUHash, LRUHash, LRUPerCPUHash, HashOfMaps:
		return m.hashDelete(key, nil)
	case LPMTrie:
		return m.lpmDelete(key)
	case Queue, Stack:
		return m.err(op, eINVAL, "use Pop")
	case BloomFilter:
		return m.err(op, eOPNOTSUPP, "bloom filters cannot delete")
	case ProgramArray, PerfEventArray, ArrayOfMaps:
		return m.fdArrayDelete(key)
	}
	return m.err(op, ENOTSUPP, "")
}

// NextKey returns the key that follows key; a nil key returns the first.
// Arrays go in index order and restart at 0 from an out-of-range key; hash
// maps go in ebpfvm's slot order and, as in the kernel, restart at the
// first key when key is missing; lpm_trie follows the kernel's post-order
// (more specific prefixes first). The last key returns ENOENT.
func (m *Map) NextKey(key []byte) ([]byte, error) {
	out := make([]byte, m.keySize)
	if err := m.NextKeyInto(key, out); err != nil {
		return nil, err
	}
	return out, nil
}

// NextKeyInto is NextKey into a caller's buffer of KeySize bytes.
func (m *Map) NextKeyInto(key, next []byte) error {
	const op = "next key"
	if err := m.checkRead(op); err != nil {
		return err
	}
	if key != nil {
		if err := m.checkKey(op, key); err != nil {
			return err
		}
	}
	if len(next) != int(m.keySize) {
		return m.err(op, eINVAL, "next key buffer has %d bytes, want %d", len(next), m.keySize)
	}
	switch {
	case m.typ.isArray():
		return m.arrayNextKey(key, next)
	case m.typ.isHash():
		return m.hashNextKey(key, next)
	case m.typ == LPMTrie:
		return m.lpmNextKey(key, next)
	case m.typ == Queue || m.typ == Stack:
		return m.err(op, eINVAL, "%s has no keys", m.typ)
	case m.typ == BloomFilter:
		return m.err(op, eOPNOTSUPP, "bloom filters have no keys")
	}
	return m.err(op, ENOTSUPP, "")
}

// LookupAndDelete returns the value of key and deletes it atomically. Only
// hash maps (not hash_of_maps), queues and stacks (Pop; key nil) support it
// (else ENOTSUPP), as in the kernel.
func (m *Map) LookupAndDelete(key []byte) ([]byte, error) {
	return m.LookupAndDeleteWithFlags(key, 0)
}

// LookupAndDeleteWithFlags is LookupAndDelete with the syscall's flags.
func (m *Map) LookupAndDeleteWithFlags(key []byte, flags UpdateFlags) ([]byte, error) {
	const op = "lookup and delete"
	if flags&^UpdateLock != 0 {
		return nil, m.err(op, eINVAL, "unknown flags %#x", uint64(flags))
	}
	if err := m.checkRead(op); err != nil {
		return nil, err
	}
	if err := m.checkWrite(op); err != nil {
		return nil, err
	}
	if flags != 0 && (m.typ == Queue || m.typ == Stack) {
		return nil, m.err(op, eINVAL, "%s takes no flags", m.typ)
	}
	if flags&UpdateLock != 0 {
		return nil, m.err(op, eINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value, which needs BTF")
	}
	if err := m.checkKey(op, key); err != nil {
		return nil, err
	}
	out := make([]byte, m.FullValueSize())
	var err error
	switch m.typ {
	case Queue, Stack:
		err = m.qsGet(out, true)
	case Hash, PerCPUHash, LRUHash, LRUPerCPUHash:
		err = m.hashDelete(key, out)
	default:
		err = m.err(op, ENOTSUPP, "")
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LookupPerCPU returns the values of key of a per-CPU map, one per virtual
// CPU, each ValueSize bytes.
func (m *Map) LookupPerCPU(key []byte) ([][]byte, error) {
	if !m.typ.PerCPU() {
		return nil, m.err("lookup", eINVAL, "%s is not a per-CPU map", m.typ)
	}
	full, err := m.Lookup(key)
	if err != nil {
		return nil, err
	}
	vals := make([][]byte, m.ncpu)
	for c := range vals {
		off := c * int(m.stride)
		vals[c] = full[off : off+int(m.valueSize) : off+int(m.valueSize)]
	}
	return vals, nil
}

// UpdatePerCPU sets the values of key of a per-CPU map, one per virtual
// CPU; missing trailing values are zero, as with cilium/ebpf.
func (m *Map) UpdatePerCPU(key []byte, values [][]byte, flags UpdateFlags) error {
	const op = "update"
	if !m.typ.PerCPU() {
		return m.err(op, eINVAL, "%s is not a per-CPU map", m.typ)
	}
	if len(values) > m.ncpu {
		return m.err(op, eINVAL, "%d values for %d CPUs", len(values), m.ncpu)
	}
	full := make([]byte, m.FullValueSize())
	for c, v := range values {
		if len(v) != int(m.valueSize) {
			return m.err(op, eINVAL, "value for CPU %d has %d bytes, want %d", c, len(v), m.valueSize)
		}
		copy(full[c*int(m.stride):], v)
	}
	return m.Update(key, full, flags)
}

// --- The program side: what helpers call while a program runs. ---

// LookupOffset is bpf_map_lookup_elem (and bpf_map_lookup_percpu_elem) for
// array, percpu_array, the hash maps and lpm_trie: the arena offset of the
// value of key, for the CPU cpu of a per-CPU map. It takes no locks longer
// than the lookup and does not allocate. In LRU maps it marks the element
// referenced. key must have KeySize bytes. ok is false for a missing key,
// an out-of-range cpu, or a map type programs cannot look up this way (see
// InnerMap for maps of maps).
// ArrayOffset is LookupOffset for array and percpu_array maps by index,
// for engines that inline bpf_map_lookup_elem. ok is false for other map
// types, an index past the end or an out-of-range cpu.
func (m *Map) ArrayOffset(index uint32, cpu int) (off uint32, ok bool) {
	if m.typ != Array && m.typ != PerCPUArray || index >= m.maxEntries {
		return 0, false
	}
	off = index * m.elemSize
	if m.typ == PerCPUArray {
		if uint(cpu) >= uint(m.ncpu) {
			return 0, false
		}
		off += uint32(cpu) * m.stride
	}
	return off, true
}

func (m *Map) LookupOffset(key []byte, cpu int) (off uint32, ok bool) {
	if len(key) != int(m.keySize) {
		return 0, false
	}
	switch m.typ {
	case Array, PerCPUArray:
		return m.arrayOffset(key, cpu)
	case Hash, PerCPUHash, LRUHash, LRUPerCPUHash:
		return m.hashOffset(key, cpu)
	case LPMTrie:
		return m.lpmOffset(key)
	}
	return 0, false
}

// UpdateElem is bpf_map_update_elem called by a program running on virtual
// CPU cpu: for per-CPU maps it writes only that CPU's value (a new
// element's other values are zeroed). value has ValueSize bytes.
func (m *Map) UpdateElem(key, value []byte, flags UpdateFlags, cpu int) error {
	const op = "update"
	if err := m.checkKey(op, key); err != nil {
		return err
	}
	if err := m.checkValue(op, value, int(m.valueSize)); err != nil {
		return err
	}
	if m.typ.PerCPU() && uint(cpu) >= uint(m.ncpu) {
		return m.err(op, eINVAL, "cpu %d out of range (%d CPUs)", cpu, m.ncpu)
	}
	if m.spec.Flags&FlagRdonlyProg != 0 {
		return m.err(op, ePERM, "map was created with BPF_F_RDONLY_PROG")
	}
	switch m.typ {
	case Array, PerCPUArray:
		return m.arrayUpdate(key, value, flags, true, cpu)
	case Hash, PerCPUHash, LRUHash, LRUPerCPUHash:
		return m.hashUpdate(key, value, flags, true, cpu, nil)
	case LPMTrie:
		return m.lpmUpdate(key, value, flags)
	case Queue, Stack, BloomFilter:
		return m.err(op, eINVAL, "use Push")
	}
	return m.err(op, ENOTSUPP, "programs cannot update %s", m.typ)
}

// DeleteElem is bpf_map_delete_elem called by a program.
func (m *Map) DeleteElem(key []byte) error {
	const op = "delete"
	if err := m.checkKey(op, key); err != nil {
		return err
	}
	if m.spec.Flags&FlagRdonlyProg != 0 {
		return m.err(op, ePERM, "map was created with BPF_F_RDONLY_PROG")
	}
	switch m.typ {
	case Array, PerCPUArray, Hash, PerCPUHash, LRUHash, LRUPerCPUHash, LPMTrie, Queue, Stack, BloomFilter:
		return m.deleteElem(key)
	}
	return m.err(op, ENOTSUPP, "programs cannot delete from %s", m.typ)
}

// Push is bpf_map_push_elem, and the Go API's push: it appends value to a
// queue or stack (UpdateExist overwrites the oldest element when full,
// else E2BIG) or adds it to a bloom filter.
func (m *Map) Push(value []byte, flags UpdateFlags) error {
	if err := m.checkValue("push", value, int(m.valueSize)); err != nil {
		return err
	}
	switch m.typ {
	case Queue, Stack:
		return m.qsPush(value, flags)
	case BloomFilter:
		return m.bloomPush(value, flags)
	}
	return m.err("push", ENOTSUPP, "only queue, stack and bloom_filter support push")
}

// Pop is bpf_map_pop_elem, and the Go API's pop: it removes the oldest
// element of a queue (the newest of a stack) into value. Empty: ENOENT.
func (m *Map) Pop(value []byte) error {
	if err := m.checkValue("pop", value, int(m.valueSize)); err != nil {
		return err
	}
	switch m.typ {
	case Queue, Stack:
		return m.qsGet(value, true)
	case BloomFilter:
		return m.err("pop", eOPNOTSUPP, "bloom filters cannot pop")
	}
	return m.err("pop", ENOTSUPP, "only queue and stack support pop")
}

// Peek is bpf_map_peek_elem: for a queue or stack it copies the element Pop
// would remove into value; for a bloom filter it tests value (input) and
// returns nil if it may be present, ENOENT if it is certainly absent.
func (m *Map) Peek(value []byte) error {
	if err := m.checkValue("peek", value, int(m.valueSize)); err != nil {
		return err
	}
	switch m.typ {
	case Queue, Stack:
		return m.qsGet(value, false)
	case BloomFilter:
		return m.bloomPeek(value)
	}
	return m.err("peek", ENOTSUPP, "only queue, stack and bloom_filter support peek")
}

// NextElem walks the elements of an array or hash map for
// bpf_for_each_map_elem without holding locks between steps (the callback
// may update the map). Start with pos 0; each call copies the next key into
// keyOut (KeySize bytes) and returns the arena offset of its value (for
// cpu's value in per-CPU maps) and the position to pass next. ok is false
// at the end, or for map types for_each_map_elem does not support.
func (m *Map) NextElem(pos uint32, keyOut []byte, cpu int) (off, next uint32, ok bool) {
	if len(keyOut) != int(m.keySize) {
		return 0, 0, false
	}
	switch m.typ {
	case Array, PerCPUArray:
		if pos >= m.maxEntries {
			return 0, 0, false
		}
		putIndex(keyOut, pos)
		off, ok = m.arrayOffset(keyOut, max(cpu, 0))
		return off, pos + 1, ok
	case Hash, PerCPUHash, LRUHash, LRUPerCPUHash:
		return m.hashElemAt(pos, keyOut, nil, cpu)
	}
	return 0, 0, false
}
