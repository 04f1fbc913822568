package maps

import (
	"errors"
)

// BatchCursor is where a batch lookup continues; the zero value starts at
// the beginning. Use one cursor per walk.
type BatchCursor struct {
	pos     uint32 // hash maps: next slot
	prevKey []byte // other maps: the last key returned (the kernel's out_batch)
}

// BatchOptions are the batch syscall's flags.
type BatchOptions struct {
	// ElemFlags applies to each element: only 0 or UpdateLock (which needs
	// a spin lock, so is EINVAL here), as in the kernel.
	ElemFlags uint64
	// Flags must be 0 for hash maps (EINVAL), and is ignored by others.
	Flags uint64
}

func (o *BatchOptions) get() BatchOptions {
	if o == nil {
		return BatchOptions{}
	}
	return *o
}

func (m *Map) batchElemFlags(op string, o BatchOptions) error {
	if o.ElemFlags&^uint64(UpdateLock) != 0 {
		return m.err(op, eINVAL, "unknown element flags %#x", o.ElemFlags)
	}
	if o.ElemFlags&uint64(UpdateLock) != 0 {
		return m.err(op, eINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value, which needs BTF")
	}
	return nil
}

// batchCount checks the buffers: keys holds n keys, values n full values.
func (m *Map) batchCount(op string, keys, values []byte, withValues bool) (int, error) {
	if m.keySize == 0 {
		return 0, m.err(op, eINVAL, "%s has no keys", m.typ)
	}
	if len(keys)%int(m.keySize) != 0 {
		return 0, m.err(op, eINVAL, "keys buffer of %d bytes is not a multiple of the key size %d", len(keys), m.keySize)
	}
	n := len(keys) / int(m.keySize)
	if withValues && len(values) != n*m.FullValueSize() {
		return 0, m.err(op, eINVAL, "values buffer has %d bytes, want %d for %d elements", len(values), n*m.FullValueSize(), n)
	}
	return n, nil
}

// BatchLookup copies up to len(keys)/KeySize elements, starting at cursor,
// into keys and values (FullValueSize bytes each), and advances cursor. It
// returns the number of elements copied; ErrKeyNotExist (ENOENT) means the
// walk reached the end, possibly with a partial batch, as in the kernel.
// Supported by arrays, percpu arrays, array_of_maps, the hash maps and
// lpm_trie; others return ENOTSUPP.
func (m *Map) BatchLookup(cursor *BatchCursor, keys, values []byte, opts *BatchOptions) (int, error) {
	return m.batchLookup("batch lookup", cursor, keys, values, opts, false)
}

// BatchLookupAndDelete is BatchLookup that also deletes what it returns.
// Only hash maps support it (else ENOTSUPP).
func (m *Map) BatchLookupAndDelete(cursor *BatchCursor, keys, values []byte, opts *BatchOptions) (int, error) {
	return m.batchLookup("batch lookup and delete", cursor, keys, values, opts, true)
}

func (m *Map) batchLookup(op string, cursor *BatchCursor, keys, values []byte, opts *BatchOptions, del bool) (int, error) {
	o := opts.get()
	hash := m.typ.isHash()
	// The syscall checks the handle's permissions before the map type.
	if err := m.checkRead(op); err != nil {
		return 0, err
	}
	if del {
		if err := m.checkWrite(op); err != nil {
			return 0, err
		}
	}
	switch {
	case hash:
	case !del && (m.typ == Array || m.typ == PerCPUArray || m.typ == ArrayOfMaps || m.typ == LPMTrie):
	default:
		return 0, m.err(op, ENOTSUPP, "")
	}
	if cursor == nil {
		return 0, m.err(op, eINVAL, "nil cursor")
	}
	if err := m.batchElemFlags(op, o); err != nil {
		return 0, err
	}
	if hash && o.Flags != 0 {
		return 0, m.err(op, eINVAL, "unknown flags %#x", o.Flags)
	}
	n, err := m.batchCount(op, keys, values, true)
	if err != nil || n == 0 {
		return 0, err
	}
	if hash {
		return m.hashBatch(op, cursor, keys, values, n, del)
	}
	return m.genericBatchLookup(op, cursor, keys, values, n)
}

// hashBatch is the kernel's hash batch with one element per "bucket": the
// cursor is a slot position. The kernel returns ENOENT together with the
// last elements when nothing follows them.
func (m *Map) hashBatch(op string, cursor *BatchCursor, keys, values []byte, n int, del bool) (int, error) {
	h := m.ht
	ks, vs := int(m.keySize), m.FullValueSize()
	h.mu.Lock()
	defer h.mu.Unlock()
	if cursor.pos >= h.slots {
		return 0, m.err(op, eNOENT, "")
	}
	total := 0
	pos := cursor.pos
	for total < n {
		s, ok := h.nextUsed(pos)
		if !ok {
			break
		}
		copy(keys[total*ks:], h.key(s))
		m.copyOut(values[total*vs:(total+1)*vs], s)
		if del {
			if m.outer != nil {
				m.outer.bySlot[s] = nil
			}
			h.removeSlot(s)
		}
		total++
		pos = s + 1
	}
	cursor.pos = pos
	if _, more := h.nextUsed(pos); !more {
		cursor.pos = h.slots
		return total, m.err(op, eNOENT, "")
	}
	return total, nil
}

// genericBatchLookup is generic_map_lookup_batch: NextKey from the last
// key, skipping keys whose lookup fails with ENOENT.
func (m *Map) genericBatchLookup(op string, cursor *BatchCursor, keys, values []byte, n int) (int, error) {
	ks, vs := int(m.keySize), m.FullValueSize()
	prev := cursor.prevKey
	key := make([]byte, ks)
	var err error
	cp := 0
	for cp < n {
		if err = m.NextKeyInto(prev, key); err != nil {
			break
		}
		err = m.LookupInto(key, values[cp*vs:(cp+1)*vs])
		if err == nil {
			copy(keys[cp*ks:], key)
			cp++
		} else if !errors.Is(err, eNOENT) {
			return cp, err
		}
		prev = append(prev[:0:0], key...)
	}
	if cp > 0 {
		cursor.prevKey = prev
	}
	if err != nil {
		if errors.Is(err, eNOENT) {
			return cp, m.err(op, eNOENT, "")
		}
		return cp, err
	}
	return cp, nil
}

// BatchUpdate updates len(keys)/KeySize elements with Update's semantics
// and UpdateAny (the kernel allows no other element flags in a batch),
// stopping at the first error. It returns the number updated. Supported by
// arrays, percpu arrays, the hash maps, lpm_trie and maps of maps (whose
// values are inner map ids).
func (m *Map) BatchUpdate(keys, values []byte, opts *BatchOptions) (int, error) {
	const op = "batch update"
	if err := m.checkWrite(op); err != nil {
		return 0, err
	}
	switch m.typ {
	case Array, PerCPUArray, ArrayOfMaps, Hash, PerCPUHash, LRUHash, LRUPerCPUHash, HashOfMaps, LPMTrie:
	default:
		return 0, m.err(op, ENOTSUPP, "")
	}
	if err := m.batchElemFlags(op, opts.get()); err != nil {
		return 0, err
	}
	n, err := m.batchCount(op, keys, values, true)
	if err != nil {
		return 0, err
	}
	ks, vs := int(m.keySize), m.FullValueSize()
	for i := range n {
		if err := m.Update(keys[i*ks:(i+1)*ks], values[i*vs:(i+1)*vs], UpdateAny); err != nil {
			return i, err
		}
	}
	return n, nil
}

// BatchDelete deletes len(keys)/KeySize keys, stopping at the first error
// (ENOENT for a missing key). It returns the number deleted. Supported by
// the hash maps and lpm_trie.
func (m *Map) BatchDelete(keys []byte, opts *BatchOptions) (int, error) {
	const op = "batch delete"
	if err := m.checkWrite(op); err != nil {
		return 0, err
	}
	switch m.typ {
	case Hash, PerCPUHash, LRUHash, LRUPerCPUHash, HashOfMaps, LPMTrie:
	default:
		return 0, m.err(op, ENOTSUPP, "")
	}
	if err := m.batchElemFlags(op, opts.get()); err != nil {
		return 0, err
	}
	n, err := m.batchCount(op, keys, nil, false)
	if err != nil {
		return 0, err
	}
	ks := int(m.keySize)
	for i := range n {
		if err := m.Delete(keys[i*ks : (i+1)*ks]); err != nil {
			return i, err
		}
	}
	return n, nil
}
