package maps

import (
	"encoding/binary"
	"sync"
)

// arrayStripes is the number of locks an array spreads its elements over:
// Go-side copies of different elements do not contend, and a copy never
// sees a half-written value from another Go-side write.
const arrayStripes = 64

// arrayMap holds what array, percpu_array, prog_array, perf_event_array and
// array_of_maps share: element i lives at arena offset i*elemSize.
type arrayMap struct {
	locks [arrayStripes]sync.RWMutex
}

func (a *arrayMap) lock(i uint32) *sync.RWMutex { return &a.locks[i%arrayStripes] }

func arrayIndex(key []byte) uint32 { return binary.NativeEndian.Uint32(key) }

// arrayNextKey is array_map_get_next_key: a missing or out-of-range key
// restarts at 0; the last index ends the iteration.
func (m *Map) arrayNextKey(key, out []byte) error {
	idx := uint32(0xffff_ffff)
	if key != nil {
		idx = arrayIndex(key)
	}
	switch {
	case idx >= m.maxEntries:
		binary.NativeEndian.PutUint32(out, 0)
	case idx == m.maxEntries-1:
		return m.err("next key", eNOENT, "")
	default:
		binary.NativeEndian.PutUint32(out, idx+1)
	}
	return nil
}

func (m *Map) arrayLookup(key, out []byte) error {
	i := arrayIndex(key)
	if i >= m.maxEntries {
		return m.err("lookup", eNOENT, "index %d out of range (max_entries %d)", i, m.maxEntries)
	}
	l := m.arr.lock(i)
	l.RLock()
	off := uint64(i) * uint64(m.elemSize)
	if m.typ == PerCPUArray {
		copy(out, m.arena[off:off+uint64(m.elemSize)])
	} else {
		copy(out, m.arena[off:off+uint64(m.valueSize)])
	}
	l.RUnlock()
	return nil
}

// arrayUpdate is array_map_update_elem (prog: a program's update, which for
// percpu_array writes only cpu's value) and bpf_percpu_array_update.
func (m *Map) arrayUpdate(key, value []byte, flags UpdateFlags, prog bool, cpu int) error {
	const op = "update"
	percpuSys := m.typ == PerCPUArray && !prog
	if percpuSys {
		if flags > UpdateExist {
			return m.err(op, eINVAL, "unknown flags %#x", uint64(flags))
		}
	} else if flags&^UpdateLock > UpdateExist {
		return m.err(op, eINVAL, "unknown flags %#x", uint64(flags))
	}
	i := arrayIndex(key)
	if i >= m.maxEntries {
		return m.err(op, e2BIG, "index %d out of range (max_entries %d)", i, m.maxEntries)
	}
	if flags&UpdateNoExist != 0 {
		return m.err(op, eEXIST, "array elements always exist (BPF_NOEXIST)")
	}
	if flags&UpdateLock != 0 {
		return m.err(op, eINVAL, "BPF_F_LOCK needs a bpf_spin_lock in the value, which needs BTF")
	}
	off := uint64(i) * uint64(m.elemSize)
	l := m.arr.lock(i)
	l.Lock()
	switch {
	case percpuSys:
		copy(m.arena[off:off+uint64(m.elemSize)], value)
	case m.typ == PerCPUArray:
		off += uint64(cpu) * uint64(m.stride)
		copy(m.arena[off:off+uint64(m.valueSize)], value)
	default:
		copy(m.arena[off:off+uint64(m.valueSize)], value)
	}
	l.Unlock()
	return nil
}

// arrayOffset is the program-side lookup of array and percpu_array.
func (m *Map) arrayOffset(key []byte, cpu int) (uint32, bool) {
	i := arrayIndex(key)
	if i >= m.maxEntries {
		return 0, false
	}
	off := i * m.elemSize
	if m.typ == PerCPUArray {
		if uint(cpu) >= uint(m.ncpu) {
			return 0, false
		}
		off += uint32(cpu) * m.stride
	}
	return off, true
}

// fdArrayDelete is the delete of prog_array, perf_event_array and
// array_of_maps: out of range is E2BIG, an empty slot ENOENT.
func (m *Map) fdArrayDelete(key []byte) error {
	i := arrayIndex(key)
	if i >= m.maxEntries {
		return m.err("delete", e2BIG, "index %d out of range (max_entries %d)", i, m.maxEntries)
	}
	var had bool
	switch m.typ {
	case ProgramArray:
		had = m.progs.slots[i].Swap(nil) != nil
	case PerfEventArray:
		had = m.perf.detach(i)
	case ArrayOfMaps:
		l := m.arr.lock(i)
		l.Lock()
		had = m.outer.slots[i].Swap(nil) != nil
		clear(m.arena[uint64(i)*uint64(m.elemSize):][:4])
		l.Unlock()
	}
	if !had {
		return m.err("delete", eNOENT, "slot %d is empty", i)
	}
	return nil
}
