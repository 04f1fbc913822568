package maps

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Map is a map: its values, its index and the operations on them. All
// methods are safe for concurrent use by many goroutines, whether they serve
// running programs or the Go host.
//
// Methods come in two groups. The Go API (Lookup, Update, Delete, NextKey,
// batches, iterators, ...) follows the bpf() syscall: it copies keys and
// values and applies the syscall's checks (BPF_F_RDONLY, BPF_F_WRONLY,
// BPF_F_LOCK). The program side (LookupOffset, UpdateElem, DeleteElem, Push,
// Pop, Peek, Reserve, Submit, ...) follows the helpers that programs call and
// works on offsets into Arena, without allocating on the lookup path.
type Map struct {
	spec       Spec
	name       string
	typ        MapType
	keySize    uint32
	valueSize  uint32
	maxEntries uint32
	stride     uint32 // value size rounded up to 8
	ncpu       int
	elemSize   uint32 // stride * ncpu for per-CPU maps, stride otherwise
	id         uint32
	memory     uint64
	closed     atomic.Bool
	frozen     atomic.Bool

	arena []byte

	arr   *arrayMap
	ht    *hashMap
	lpm   *lpmTrie
	qs    *queueStack
	bloom *bloomFilter
	rb    *ringBuf
	perf  *perfArray
	progs *progArray
	outer *mapOfMaps // array_of_maps and hash_of_maps, beside arr or ht
}

// New creates a map from spec, applying the kernel's checks and errors of
// map creation. All memory the map's values will ever use is allocated here.
func New(spec *Spec, opts Options) (*Map, error) {
	if spec == nil {
		return nil, &Error{Op: "create", Errno: eINVAL, Detail: "nil spec"}
	}
	ncpu := opts.numCPU()
	if ncpu > MaxNumCPU {
		return nil, specErr(spec, eINVAL, "NumCPU %d exceeds %d", ncpu, MaxNumCPU)
	}
	s := spec.Copy()
	fixup(s, ncpu)
	if err := validate(s, ncpu, 0); err != nil {
		return nil, err
	}
	m := &Map{
		spec:       *s,
		name:       s.Name,
		typ:        s.Type,
		keySize:    s.KeySize,
		valueSize:  s.ValueSize,
		maxEntries: s.MaxEntries,
		stride:     uint32(roundUp8(uint64(s.ValueSize))),
		ncpu:       ncpu,
	}
	m.elemSize = m.stride
	if s.Type.PerCPU() {
		m.elemSize = m.stride * uint32(ncpu)
	}
	need := m.memoryNeeded()
	if uint64(need) > opts.maxMemory() {
		return nil, specErr(s, eNOMEM, "needs %d bytes, more than the limit of %d (Options.MaxMemory)", uint64(need), opts.maxMemory())
	}
	m.memory = uint64(need)
	if err := m.init(); err != nil {
		return nil, err
	}
	register(m)
	return m, nil
}

// arenaSize is the size of the value arena, saturated for absurd specs.
func (m *Map) arenaSize() memSize {
	switch {
	case m.typ == ProgramArray || m.typ == PerfEventArray:
		return 0
	case m.typ.isArray():
		return mul(uint64(m.maxEntries), uint64(m.elemSize))
	case m.typ.isHash() || m.typ == LPMTrie:
		return mul(uint64(m.maxEntries), uint64(m.elemSize))
	case m.typ == RingBuf:
		return memSize(m.maxEntries)
	}
	return 0
}

// memoryNeeded estimates what init will allocate.
func (m *Map) memoryNeeded() memSize {
	n := m.arenaSize()
	max := uint64(m.maxEntries)
	switch {
	case m.typ.isHash():
		n = n.add(mul(max, uint64(m.keySize)))
		n = n.add(mul(roundPow2(max*2), 8)) // index
		n = n.add(mul(max, 4+4))            // free list, LRU bits
		if m.typ == HashOfMaps {
			n = n.add(mul(max, 8))
		}
	case m.typ == ArrayOfMaps || m.typ == ProgramArray || m.typ == PerfEventArray:
		n = n.add(mul(max, 8))
	case m.typ == LPMTrie:
		n = n.add(mul(max, 4))
	case m.typ == Queue || m.typ == Stack:
		n = n.add(mul(max+1, uint64(m.valueSize)))
	case m.typ == BloomFilter:
		n = n.add(memSize(bloomBytes(&m.spec)))
	}
	return n
}

// The arena is addressed by 32-bit offsets (the lower half of a virtual address).
const maxArena = 1<<32 - 1

func (m *Map) init() error {
	if a := m.arenaSize(); a > 0 {
		if a > maxArena {
			return specErr(&m.spec, eNOMEM, "values need %d bytes; a map's memory is limited to 4 GiB", uint64(a))
		}
		m.arena = alignedBytes(uint64(a))
	}
	switch {
	case m.typ.isArray():
		m.arr = &arrayMap{}
		switch m.typ {
		case ProgramArray:
			m.progs = &progArray{slots: make([]atomic.Pointer[progEntry], m.maxEntries)}
		case PerfEventArray:
			m.perf = newPerfArray(m.maxEntries)
		case ArrayOfMaps:
			m.outer = &mapOfMaps{tmpl: m.spec.InnerMap, slots: make([]atomic.Pointer[Map], m.maxEntries)}
		}
	case m.typ.isHash():
		m.ht = newHashMap(m)
		if m.typ == HashOfMaps {
			m.outer = &mapOfMaps{tmpl: m.spec.InnerMap, bySlot: make([]*Map, m.maxEntries)}
		}
	case m.typ == LPMTrie:
		m.lpm = newLPMTrie(m)
	case m.typ == Queue || m.typ == Stack:
		m.qs = newQueueStack(m)
	case m.typ == BloomFilter:
		m.bloom = newBloomFilter(&m.spec)
	case m.typ == RingBuf:
		m.rb = newRingBuf(m)
	}
	return nil
}

// alignedBytes allocates n zeroed bytes at an 8-byte aligned address, so
// that naturally aligned offsets are naturally aligned host addresses
// (programs use atomics on map values).
func alignedBytes(n uint64) []byte {
	if n == 0 {
		return nil
	}
	words := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), n)
}

// Arena returns the memory holding the map's values, which the loader
// registers as a region of the program's address space. It is allocated
// once, never moves and stays valid while anything references the map, so
// a program may keep a value pointer across deletions (as with the kernel's
// RCU). Value offsets returned by LookupOffset and Reserve index it. Maps
// whose values programs never point to (queue, stack, bloom_filter,
// prog_array, perf_event_array) have no arena.
func (m *Map) Arena() []byte { return m.arena }

// Spec returns the map's spec, after the fix-ups New applied.
func (m *Map) Spec() *Spec { return m.spec.Copy() }

// ID is the map's id, unique among the maps of the process; it stands for
// the kernel's map id and map fd (see ByID).
func (m *Map) ID() uint32 { return m.id }

// Name returns the map's name.
func (m *Map) Name() string { return m.name }

// Type returns the map's type.
func (m *Map) Type() MapType { return m.typ }

// KeySize returns the size of a key in bytes.
func (m *Map) KeySize() uint32 { return m.keySize }

// ValueSize returns the size of a value in bytes (of one CPU's value for
// per-CPU maps).
func (m *Map) ValueSize() uint32 { return m.valueSize }

// MaxEntries returns the maximum number of elements (the ring size for ringbuf).
func (m *Map) MaxEntries() uint32 { return m.maxEntries }

// Flags returns the map's creation flags.
func (m *Map) Flags() uint32 { return m.spec.Flags }

// NumCPU returns the number of virtual CPUs of a per-CPU map.
func (m *Map) NumCPU() int { return m.ncpu }

// ValueStride is the distance between consecutive values in the arena: the
// value size rounded up to 8 (per-CPU maps hold NumCPU values per element,
// one stride apart).
func (m *Map) ValueStride() uint32 { return m.stride }

// FullValueSize is the size of a value as Lookup returns it and Update takes
// it: ValueSize, or NumCPU strides for per-CPU maps (as the bpf() syscall).
func (m *Map) FullValueSize() int {
	if m.typ.PerCPU() {
		return int(m.stride) * m.ncpu
	}
	return int(m.valueSize)
}

func (m *Map) String() string {
	return fmt.Sprintf("%s(%s)#%d", m.typ, m.name, m.id)
}

// ProgAccess reports what programs may do with the map's values (the
// kernel's BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG), for the permissions of
// the arena's region.
func (m *Map) ProgAccess() (read, write bool) {
	return m.spec.Flags&FlagWronlyProg == 0, m.spec.Flags&FlagRdonlyProg == 0
}

// Info returns a description of the map.
func (m *Map) Info() Info {
	return Info{
		ID: m.id, Name: m.name, Type: m.typ, KeySize: m.keySize, ValueSize: m.valueSize,
		MaxEntries: m.maxEntries, Flags: m.spec.Flags, MapExtra: m.spec.MapExtra,
		NumCPU: m.ncpu, Memory: m.memory,
	}
}

// Close releases the map's id and its Go API: later calls of the Go API
// fail with EBADF. Like the kernel, which keeps a map alive while programs
// reference it, Close leaves the program side working and the arena valid.
// Ring buffer and perf readers are woken up.
func (m *Map) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	unregister(m)
	if m.rb != nil {
		m.rb.wakeAll()
	}
	return nil
}

// checkOpen and the permission checks mirror what the syscall checks of the
// file descriptor before it looks at the map.
func (m *Map) checkOpen(op string) error {
	if m.closed.Load() {
		return m.err(op, eBADF, "map is closed")
	}
	return nil
}

func (m *Map) checkRead(op string) error {
	if err := m.checkOpen(op); err != nil {
		return err
	}
	if m.spec.Flags&FlagWronly != 0 {
		return m.err(op, ePERM, "map was created with BPF_F_WRONLY")
	}
	return nil
}

func (m *Map) checkWrite(op string) error {
	if err := m.checkOpen(op); err != nil {
		return err
	}
	if m.spec.Flags&FlagRdonly != 0 {
		return m.err(op, ePERM, "map was created with BPF_F_RDONLY")
	}
	if m.frozen.Load() {
		return m.err(op, ePERM, "map is frozen")
	}
	return nil
}

// Freeze makes the map read-only for the Go API (BPF_MAP_FREEZE), as
// loaders do with .rodata once it is initialised; programs are unaffected.
// Freezing twice is EBUSY.
func (m *Map) Freeze() error {
	const op = "freeze"
	if err := m.checkWrite(op); err != nil {
		if m.frozen.Load() {
			return m.err(op, eBUSY, "map is already frozen")
		}
		return err
	}
	if m.frozen.Swap(true) {
		return m.err(op, eBUSY, "map is already frozen")
	}
	return nil
}

func (m *Map) checkKey(op string, key []byte) error {
	if len(key) != int(m.keySize) {
		if m.keySize == 0 {
			return m.err(op, eINVAL, "%s has no keys; pass a nil key", m.typ)
		}
		return m.err(op, eINVAL, "key has %d bytes, want %d", len(key), m.keySize)
	}
	return nil
}

func (m *Map) checkValue(op string, value []byte, want int) error {
	if len(value) != want {
		return m.err(op, eINVAL, "value has %d bytes, want %d", len(value), want)
	}
	return nil
}

// The registry maps ids to open maps, as the kernel's map idr does; maps of
// maps take inner maps by id where the kernel takes a file descriptor.
var registry struct {
	sync.Mutex
	next uint32
	byID map[uint32]*Map
}

func register(m *Map) {
	registry.Lock()
	defer registry.Unlock()
	if registry.byID == nil {
		registry.byID = make(map[uint32]*Map)
	}
	for {
		registry.next++
		if registry.next == 0 {
			continue
		}
		if _, taken := registry.byID[registry.next]; !taken {
			break
		}
	}
	m.id = registry.next
	registry.byID[m.id] = m
}

func unregister(m *Map) {
	registry.Lock()
	defer registry.Unlock()
	delete(registry.byID, m.id)
}

// ByID returns the open map with the given id.
func ByID(id uint32) (*Map, bool) {
	registry.Lock()
	defer registry.Unlock()
	m, ok := registry.byID[id]
	return m, ok
}
