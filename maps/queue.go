package maps

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// queueStack is the kernel's queue and stack (kernel/bpf/queue_stack_maps.c):
// a ring of MaxEntries+1 values, head where pushes go, tail where a queue
// pops. Values are copied in and out, so they need no arena.
type queueStack struct {
	mu         sync.Mutex
	elems      []byte
	vs         uint32
	head, tail uint32
	size       uint32 // max_entries + 1
	stack      bool
}

func newQueueStack(m *Map) *queueStack {
	return &queueStack{
		elems: make([]byte, (uint64(m.maxEntries)+1)*uint64(m.valueSize)),
		vs:    m.valueSize,
		size:  m.maxEntries + 1,
		stack: m.typ == Stack,
	}
}

func (q *queueStack) elem(i uint32) []byte {
	off := uint64(i) * uint64(q.vs)
	return q.elems[off : off+uint64(q.vs)]
}

func (m *Map) qsPush(value []byte, flags UpdateFlags) error {
	q := m.qs
	// BPF_EXIST makes room by dropping the oldest element.
	if flags&UpdateNoExist != 0 || flags > UpdateExist {
		return m.err("push", eINVAL, "flags %#x: only BPF_ANY and BPF_EXIST are allowed", uint64(flags))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	head := q.head + 1
	if head >= q.size {
		head = 0
	}
	if head == q.tail {
		if flags != UpdateExist {
			return m.err("push", e2BIG, "%s is full (max_entries %d)", m.typ, m.maxEntries)
		}
		q.tail++
		if q.tail >= q.size {
			q.tail = 0
		}
	}
	copy(q.elem(q.head), value)
	q.head = head
	return nil
}

// qsGet is peek (delete false) and pop: the oldest element of a queue, the
// newest of a stack. On ENOENT the value is zeroed, as the kernel does.
func (m *Map) qsGet(value []byte, del bool) error {
	q := m.qs
	op := "peek"
	if del {
		op = "pop"
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == q.tail {
		clear(value)
		return m.err(op, eNOENT, "%s is empty", m.typ)
	}
	if !q.stack {
		copy(value, q.elem(q.tail))
		if del {
			q.tail++
			if q.tail >= q.size {
				q.tail = 0
			}
		}
		return nil
	}
	i := q.head - 1
	if i >= q.size {
		i = q.size - 1
	}
	copy(value, q.elem(i))
	if del {
		q.head = i
	}
	return nil
}

// bloomFilter is the kernel's bloom filter (kernel/bpf/bloom_filter.c) with
// its bit-array sizing; the hash function differs (the kernel's jhash is
// not needed for the semantics: no false negatives). Bits are set with
// atomic ORs, so pushes and peeks need no lock.
type bloomFilter struct {
	bits  []uint64
	mask  uint32
	nhash uint32
	seed  uint64
	vs    uint32
}

// bloomGeometry is the kernel's sizing: max_entries * hashes * 7/5 bits
// rounded up to a power of two, at least 64, at most 2^32.
func bloomGeometry(s *Spec) (nbytes uint64, mask uint32, nhash uint32) {
	nhash = uint32(s.MapExtra & 0xf)
	if nhash == 0 {
		nhash = 5
	}
	hi, nbits := bits.Mul32(s.MaxEntries, nhash)
	var over bool
	if hi != 0 {
		over = true
	} else {
		h2, l2 := bits.Mul32(nbits/5, 7)
		nbits = l2
		over = h2 != 0 || nbits > 1<<31
	}
	if over {
		return (uint64(0xffff_ffff) + 7) / 8, 0xffff_ffff, nhash
	}
	if nbits <= 64 {
		nbits = 64
	} else {
		nbits = uint32(roundPow2(uint64(nbits)))
	}
	nbytes = (uint64(nbits) + 7) / 8
	return roundUp8(nbytes), nbits - 1, nhash
}

func bloomBytes(s *Spec) uint64 {
	n, _, _ := bloomGeometry(s)
	return roundUp8(n)
}

func newBloomFilter(s *Spec) *bloomFilter {
	n, mask, nhash := bloomGeometry(s)
	b := &bloomFilter{bits: make([]uint64, (n+7)/8), mask: mask, nhash: nhash, vs: s.ValueSize}
	if s.Flags&FlagZeroSeed == 0 {
		b.seed = randomSeed()
	}
	return b
}

// hash is a seeded FNV-1a with a SplitMix64 finalizer: fast for the short
// values bloom filters hold, and well mixed in the low bits the mask keeps.
func (b *bloomFilter) hash(value []byte, i uint32) uint32 {
	h := uint64(0xcbf29ce484222325) ^ (b.seed + uint64(i)*0x9e3779b97f4a7c15)
	for _, c := range value {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return uint32(h) & b.mask
}

func (m *Map) bloomPush(value []byte, flags UpdateFlags) error {
	if flags != UpdateAny {
		return m.err("push", eINVAL, "bloom_filter takes only BPF_ANY")
	}
	b := m.bloom
	for i := range b.nhash {
		h := b.hash(value, i)
		atomic.OrUint64(&b.bits[h/64], 1<<(h%64))
	}
	return nil
}

func (m *Map) bloomPeek(value []byte) error {
	b := m.bloom
	for i := range b.nhash {
		h := b.hash(value, i)
		if atomic.LoadUint64(&b.bits[h/64])&(1<<(h%64)) == 0 {
			return m.err("peek", eNOENT, "value is not in the bloom filter")
		}
	}
	return nil
}
