package maps

import (
	"encoding/binary"
	"testing"
)

func benchMap(b *testing.B, s *Spec, fill int) *Map {
	b.Helper()
	m, err := New(s, Options{NumCPU: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	for i := range fill {
		key := make([]byte, s.KeySize)
		binary.NativeEndian.PutUint32(key, uint32(i))
		if err := m.Update(key, make([]byte, m.FullValueSize()), UpdateAny); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

func benchKeys(n, size int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = make([]byte, size)
		binary.NativeEndian.PutUint32(keys[i], uint32(i))
	}
	return keys
}

var hashSpec = &Spec{Type: Hash, KeySize: 8, ValueSize: 8, MaxEntries: 1024}
var arraySpec = &Spec{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 1024}

func BenchmarkHashLookup(b *testing.B) {
	m := benchMap(b, hashSpec, 1000)
	keys := benchKeys(1000, 8)
	i := 0
	for b.Loop() {
		if _, err := m.Lookup(keys[i%1000]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkHashLookupInto(b *testing.B) {
	m := benchMap(b, hashSpec, 1000)
	keys := benchKeys(1000, 8)
	v := make([]byte, 8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.LookupInto(keys[i%1000], v); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkHashUpdate(b *testing.B) {
	m := benchMap(b, hashSpec, 1000)
	keys := benchKeys(1000, 8)
	v := make([]byte, 8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.Update(keys[i%1000], v, UpdateAny); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkHashInsertDelete measures the insertion of new elements.
func BenchmarkHashInsertDelete(b *testing.B) {
	m := benchMap(b, hashSpec, 0)
	keys := benchKeys(1000, 8)
	v := make([]byte, 8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%1000]
		if err := m.Update(k, v, UpdateNoExist); err != nil {
			b.Fatal(err)
		}
		if err := m.Delete(k); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkArrayLookup(b *testing.B) {
	m := benchMap(b, arraySpec, 0)
	keys := benchKeys(1024, 4)
	i := 0
	for b.Loop() {
		if _, err := m.Lookup(keys[i%1024]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkArrayLookupInto(b *testing.B) {
	m := benchMap(b, arraySpec, 0)
	keys := benchKeys(1024, 4)
	v := make([]byte, 8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.LookupInto(keys[i%1024], v); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkArrayUpdate(b *testing.B) {
	m := benchMap(b, arraySpec, 0)
	keys := benchKeys(1024, 4)
	v := make([]byte, 8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.Update(keys[i%1024], v, UpdateAny); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// The program side: what the map_lookup_elem helper costs besides the
// interpreter's call overhead.

func BenchmarkHashLookupOffset(b *testing.B) {
	m := benchMap(b, hashSpec, 1000)
	keys := benchKeys(1000, 8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := m.LookupOffset(keys[i%1000], 0); !ok {
			b.Fatal("missing")
		}
		i++
	}
}

func BenchmarkHashLookupOffsetParallel(b *testing.B) {
	m := benchMap(b, hashSpec, 1000)
	keys := benchKeys(1000, 8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := m.LookupOffset(keys[i%1000], 0); !ok {
				b.Fatal("missing")
			}
			i++
		}
	})
}

func BenchmarkLRUHashLookupOffset(b *testing.B) {
	m := benchMap(b, &Spec{Type: LRUHash, KeySize: 8, ValueSize: 8, MaxEntries: 1024}, 1000)
	keys := benchKeys(1000, 8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := m.LookupOffset(keys[i%1000], 0); !ok {
			b.Fatal("missing")
		}
		i++
	}
}

func BenchmarkArrayLookupOffset(b *testing.B) {
	m := benchMap(b, arraySpec, 0)
	keys := benchKeys(1024, 4)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := m.LookupOffset(keys[i%1024], 0); !ok {
			b.Fatal("missing")
		}
		i++
	}
}

func BenchmarkLPMLookupOffset(b *testing.B) {
	m := benchMap(b, &Spec{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 1024, Flags: FlagNoPrealloc}, 0)
	for i := range 256 {
		k := append(binary.NativeEndian.AppendUint32(nil, 24), 10, byte(i), 0, 0)
		if err := m.Update(k, make([]byte, 8), UpdateAny); err != nil {
			b.Fatal(err)
		}
	}
	key := append(binary.NativeEndian.AppendUint32(nil, 32), 10, 77, 0, 9)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := m.LookupOffset(key, 0); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkHashUpdateElem(b *testing.B) {
	m := benchMap(b, hashSpec, 1000)
	keys := benchKeys(1000, 8)
	v := make([]byte, 8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := m.UpdateElem(keys[i%1000], v, UpdateAny, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRingbufOutputRead(b *testing.B) {
	m, err := New(&Spec{Type: RingBuf, MaxEntries: 1 << 16}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	rd, _ := NewRingbufReader(m)
	data := make([]byte, 64)
	var rec RingbufRecord
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Output(data, 0); err != nil {
			b.Fatal(err)
		}
		if err := rd.ReadInto(&rec); err != nil {
			b.Fatal(err)
		}
	}
}
