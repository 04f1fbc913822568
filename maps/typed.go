package maps

import (
	"encoding/binary"
	"fmt"
)

// Typed helpers: keys and values of fixed-size types (integers, arrays,
// structs of them, without implicit padding) encoded with encoding/binary
// in host byte order, which is how programs see them.

func encode(m *Map, op, what string, v any, size int) ([]byte, error) {
	n := binary.Size(v)
	if n < 0 {
		return nil, m.err(op, eINVAL, "%s of type %T has no fixed size", what, v)
	}
	if n != size {
		return nil, m.err(op, eINVAL, "%s of type %T has %d bytes, want %d", what, v, n, size)
	}
	return binary.Append(make([]byte, 0, n), binary.NativeEndian, v)
}

func decode[V any](m *Map, op string, b []byte) (V, error) {
	var v V
	if n := binary.Size(&v); n != len(b) {
		return v, m.err(op, eINVAL, "value type %T has %d bytes, want %d", v, n, len(b))
	}
	if _, err := binary.Decode(b, binary.NativeEndian, &v); err != nil {
		return v, m.err(op, eINVAL, "decode %T: %v", v, err)
	}
	return v, nil
}

// LookupAs looks key up and decodes the value as a V.
func LookupAs[K, V any](m *Map, key K) (V, error) {
	var zero V
	k, err := encode(m, "lookup", "key", key, int(m.keySize))
	if err != nil {
		return zero, err
	}
	b, err := m.Lookup(k)
	if err != nil {
		return zero, err
	}
	return decode[V](m, "lookup", b)
}

// UpdateAs encodes key and value and updates the map.
func UpdateAs[K, V any](m *Map, key K, value V, flags UpdateFlags) error {
	k, err := encode(m, "update", "key", key, int(m.keySize))
	if err != nil {
		return err
	}
	v, err := encode(m, "update", "value", value, m.FullValueSize())
	if err != nil {
		return err
	}
	return m.Update(k, v, flags)
}

// DeleteAs encodes key and deletes it.
func DeleteAs[K any](m *Map, key K) error {
	k, err := encode(m, "delete", "key", key, int(m.keySize))
	if err != nil {
		return err
	}
	return m.Delete(k)
}

// LookupPerCPUAs looks key up in a per-CPU map and decodes one V per CPU.
func LookupPerCPUAs[K, V any](m *Map, key K) ([]V, error) {
	k, err := encode(m, "lookup", "key", key, int(m.keySize))
	if err != nil {
		return nil, err
	}
	vals, err := m.LookupPerCPU(k)
	if err != nil {
		return nil, err
	}
	out := make([]V, len(vals))
	for i, b := range vals {
		if out[i], err = decode[V](m, "lookup", b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdatePerCPUAs sets key of a per-CPU map to one value per CPU (missing
// trailing values are zero).
func UpdatePerCPUAs[K, V any](m *Map, key K, values []V, flags UpdateFlags) error {
	k, err := encode(m, "update", "key", key, int(m.keySize))
	if err != nil {
		return err
	}
	bs := make([][]byte, len(values))
	for i, v := range values {
		if bs[i], err = encode(m, "update", fmt.Sprintf("value %d", i), v, int(m.valueSize)); err != nil {
			return err
		}
	}
	return m.UpdatePerCPU(k, bs, flags)
}

// PushAs pushes value onto a queue, stack or bloom filter.
func PushAs[V any](m *Map, value V, flags UpdateFlags) error {
	v, err := encode(m, "push", "value", value, int(m.valueSize))
	if err != nil {
		return err
	}
	return m.Push(v, flags)
}

// PopAs pops a value from a queue or stack.
func PopAs[V any](m *Map) (V, error) {
	b := make([]byte, m.valueSize)
	if err := m.Pop(b); err != nil {
		var zero V
		return zero, err
	}
	return decode[V](m, "pop", b)
}
