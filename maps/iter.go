package maps

import (
	"errors"
	"iter"
)

// Iterator walks the elements of a map (see Iterate).
type Iterator struct {
	m       *Map
	key     []byte
	value   []byte
	pos     uint32 // hash maps: the next slot
	prev    []byte // other maps: the last key, for NextKey
	started bool
	done    bool
	err     error
	steps   uint32
}

// ErrIterationAborted reports an iteration of an lpm_trie that restarted
// too often because elements were deleted under it (NextKey of a missing
// key restarts from the beginning, as in the kernel).
var ErrIterationAborted = errors.New("maps: iteration aborted: the map changed too much while iterating")

// Iterate returns an iterator over the elements of the map. For hash maps
// it follows slot order and visits every element that stays in the map
// for the whole iteration exactly once, whatever else changes. Arrays go in
// index order (prog_array, perf_event_array and array_of_maps skip empty
// slots), lpm_trie in the kernel's NextKey order.
func (m *Map) Iterate() *Iterator {
	return &Iterator{m: m}
}

// Next advances to the next element; it returns false at the end or on
// error (see Err).
func (it *Iterator) Next() bool {
	if it.done {
		return false
	}
	m := it.m
	if err := m.checkRead("iterate"); err != nil {
		return it.fail(err)
	}
	if it.key == nil {
		it.key = make([]byte, m.keySize)
	}
	switch {
	case m.typ.isHash():
		key := make([]byte, m.keySize)
		value := make([]byte, m.FullValueSize())
		_, next, ok := m.hashElemAt(it.pos, key, value, 0)
		if !ok {
			return it.fail(nil)
		}
		it.pos = next
		it.key, it.value = key, value
		return true
	case m.typ.isArray() || m.typ == LPMTrie:
		for {
			var prev []byte
			if it.started {
				prev = it.prev
			}
			key, err := m.NextKey(prev)
			if errors.Is(err, eNOENT) {
				return it.fail(nil)
			}
			if err != nil {
				return it.fail(err)
			}
			// Without concurrent deletions an lpm_trie iteration takes at
			// most MaxEntries steps.
			it.steps++
			if m.typ == LPMTrie && uint64(it.steps) > 4*uint64(m.maxEntries)+16 {
				return it.fail(ErrIterationAborted)
			}
			it.started = true
			it.prev = key
			value, err := m.Lookup(key)
			if errors.Is(err, eNOENT) {
				continue // an empty slot, or deleted meanwhile
			}
			if err != nil {
				if m.typ == PerfEventArray {
					continue // no values to show
				}
				return it.fail(err)
			}
			it.key, it.value = key, value
			return true
		}
	}
	_, err := m.NextKey(nil)
	if errors.Is(err, eNOENT) {
		err = nil
	}
	return it.fail(err)
}

func (it *Iterator) fail(err error) bool {
	it.done = true
	it.err = err
	it.key, it.value = nil, nil
	return false
}

// Key returns the current key (a copy the caller may keep).
func (it *Iterator) Key() []byte { return it.key }

// Value returns the current value (a copy the caller may keep), as Lookup
// returns it.
func (it *Iterator) Value() []byte { return it.value }

// Err returns the error that stopped the iteration, if any.
func (it *Iterator) Err() error { return it.err }

// All returns the elements of the map as a Go iterator. It stops at the
// first error; use Iterate to see it.
func (m *Map) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		it := m.Iterate()
		for it.Next() {
			if !yield(it.Key(), it.Value()) {
				return
			}
		}
	}
}

// Keys returns the keys of the map as a Go iterator.
func (m *Map) Keys() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for k := range m.All() {
			if !yield(k) {
				return
			}
		}
	}
}
