package maps

import (
	"fmt"
	"runtime"
)

// MapType is a map type, numbered as the kernel's enum bpf_map_type.
type MapType uint32

// Map types. Only the types listed in the package documentation can be
// created; the others are named so that specs read from ELF objects print
// sensibly and are rejected with a clear error.
const (
	Unspec              MapType = 0
	Hash                MapType = 1
	Array               MapType = 2
	ProgramArray        MapType = 3
	PerfEventArray      MapType = 4
	PerCPUHash          MapType = 5
	PerCPUArray         MapType = 6
	StackTrace          MapType = 7
	CgroupArray         MapType = 8
	LRUHash             MapType = 9
	LRUPerCPUHash       MapType = 10
	LPMTrie             MapType = 11
	ArrayOfMaps         MapType = 12
	HashOfMaps          MapType = 13
	DevMap              MapType = 14
	SockMap             MapType = 15
	CPUMap              MapType = 16
	XSKMap              MapType = 17
	SockHash            MapType = 18
	CgroupStorage       MapType = 19
	ReusePortSockArray  MapType = 20
	PerCPUCgroupStorage MapType = 21
	Queue               MapType = 22
	Stack               MapType = 23
	SkStorage           MapType = 24
	DevMapHash          MapType = 25
	StructOps           MapType = 26
	RingBuf             MapType = 27
	InodeStorage        MapType = 28
	TaskStorage         MapType = 29
	BloomFilter         MapType = 30
	UserRingBuf         MapType = 31
	CgrpStorage         MapType = 32
	Arena               MapType = 33
)

// The kernel's names (bpftool's, libbpf's), indexed by type.
var typeNames = [...]string{
	"unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash",
	"percpu_array", "stack_trace", "cgroup_array", "lru_hash", "lru_percpu_hash",
	"lpm_trie", "array_of_maps", "hash_of_maps", "devmap", "sockmap", "cpumap",
	"xskmap", "sockhash", "cgroup_storage", "reuseport_sockarray",
	"percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash",
	"struct_ops", "ringbuf", "inode_storage", "task_storage", "bloom_filter",
	"user_ringbuf", "cgrp_storage", "arena",
}

// String returns the kernel's name of the type ("hash", "lru_percpu_hash", ...).
func (t MapType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("map_type(%d)", uint32(t))
}

// ParseMapType returns the type with the kernel's name s.
func ParseMapType(s string) (MapType, bool) {
	for i, n := range typeNames {
		if n == s {
			return MapType(i), true
		}
	}
	return 0, false
}

// Supported reports whether New can create maps of type t.
func (t MapType) Supported() bool {
	switch t {
	case Hash, Array, ProgramArray, PerfEventArray, PerCPUHash, PerCPUArray,
		LRUHash, LRUPerCPUHash, LPMTrie, ArrayOfMaps, HashOfMaps, Queue, Stack,
		RingBuf, BloomFilter:
		return true
	}
	return false
}

// PerCPU reports whether the map holds one value per virtual CPU.
func (t MapType) PerCPU() bool {
	return t == PerCPUHash || t == PerCPUArray || t == LRUPerCPUHash
}

func (t MapType) isHash() bool {
	return t == Hash || t == PerCPUHash || t == LRUHash || t == LRUPerCPUHash || t == HashOfMaps
}

func (t MapType) isArray() bool {
	return t == Array || t == PerCPUArray || t == ProgramArray || t == PerfEventArray || t == ArrayOfMaps
}

func (t MapType) isLRU() bool { return t == LRUHash || t == LRUPerCPUHash }

// Map creation flags (Spec.Flags), with the kernel's values.
const (
	FlagNoPrealloc    = 1 << 0  // BPF_F_NO_PREALLOC
	FlagNoCommonLRU   = 1 << 1  // BPF_F_NO_COMMON_LRU
	FlagNumaNode      = 1 << 2  // BPF_F_NUMA_NODE (node 0: the Spec has no node field)
	FlagRdonly        = 1 << 3  // BPF_F_RDONLY: the Go API may not write
	FlagWronly        = 1 << 4  // BPF_F_WRONLY: the Go API may not read
	FlagStackBuildID  = 1 << 5  // BPF_F_STACK_BUILD_ID
	FlagZeroSeed      = 1 << 6  // BPF_F_ZERO_SEED
	FlagRdonlyProg    = 1 << 7  // BPF_F_RDONLY_PROG: programs may not write
	FlagWronlyProg    = 1 << 8  // BPF_F_WRONLY_PROG: programs may not read
	FlagClone         = 1 << 9  // BPF_F_CLONE
	FlagMmapable      = 1 << 10 // BPF_F_MMAPABLE
	FlagPreserveElems = 1 << 11 // BPF_F_PRESERVE_ELEMS
	FlagInnerMap      = 1 << 12 // BPF_F_INNER_MAP
	FlagLink          = 1 << 13 // BPF_F_LINK
	FlagPathFD        = 1 << 14 // BPF_F_PATH_FD
	FlagVTypeBTFObjFD = 1 << 15 // BPF_F_VTYPE_BTF_OBJ_FD
	FlagTokenFD       = 1 << 16 // BPF_F_TOKEN_FD

	// FlagAccessMask is BPF_F_ACCESS_MASK.
	FlagAccessMask = FlagRdonly | FlagWronly | FlagRdonlyProg | FlagWronlyProg
)

// UpdateFlags are the flags of an update, with the kernel's values.
type UpdateFlags uint64

// Update flags.
const (
	UpdateAny     UpdateFlags = 0 // BPF_ANY: create or replace
	UpdateNoExist UpdateFlags = 1 // BPF_NOEXIST: create only
	UpdateExist   UpdateFlags = 2 // BPF_EXIST: replace only; for queues and stacks, overwrite the oldest when full
	UpdateLock    UpdateFlags = 4 // BPF_F_LOCK: needs a bpf_spin_lock in the value's BTF, which ebpfvm maps never have
)

// Ring buffer flags of Submit, Discard and Output, and the queries of Query.
const (
	RingbufNoWakeup    = 1 // BPF_RB_NO_WAKEUP
	RingbufForceWakeup = 2 // BPF_RB_FORCE_WAKEUP

	RingbufAvailData = 0 // BPF_RB_AVAIL_DATA
	RingbufRingSize  = 1 // BPF_RB_RING_SIZE
	RingbufConsPos   = 2 // BPF_RB_CONS_POS
	RingbufProdPos   = 3 // BPF_RB_PROD_POS

	// RingbufBusyBit and RingbufDiscardBit are the kernel's bits in the
	// length word of a record header.
	RingbufBusyBit    = 1 << 31
	RingbufDiscardBit = 1 << 30
	// RingbufHeaderSize is the size of a record header (BPF_RINGBUF_HDR_SZ).
	RingbufHeaderSize = 8
)

// Perf event output flags: the low 32 bits select the array index, and
// PerfCurrentCPU the index of the CPU the program runs on.
const (
	PerfIndexMask  = 0xffff_ffff // BPF_F_INDEX_MASK
	PerfCurrentCPU = 0xffff_ffff // BPF_F_CURRENT_CPU
)

// PageSize is the page size the ring buffer's size rules refer to. It is
// fixed at 4096 (x86-64's) so that a spec is accepted or rejected the same
// way on every host.
const PageSize = 4096

// Spec describes a map, like cilium/ebpf's MapSpec.
type Spec struct {
	Name       string
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	// Flags are the kernel's map_flags (Flag* constants).
	Flags uint32
	// MapExtra is the kernel's map_extra: for a bloom filter, the low 4 bits
	// are the number of hash functions (0 means 5). Other types require 0.
	MapExtra uint64
	// InnerMap describes the maps that an array_of_maps or hash_of_maps
	// holds; the kernel takes it from a template map.
	InnerMap *Spec
}

// Copy returns a deep copy of s.
func (s *Spec) Copy() *Spec {
	if s == nil {
		return nil
	}
	c := *s
	c.InnerMap = s.InnerMap.Copy()
	return &c
}

func (s *Spec) String() string {
	return fmt.Sprintf("%s %q (key %d, value %d, max_entries %d, flags %#x)", s.Type, s.Name, s.KeySize, s.ValueSize, s.MaxEntries, s.Flags)
}

// Options configures New.
type Options struct {
	// NumCPU is the number of virtual CPUs: per-CPU maps hold that many
	// values per element. 0 means runtime.NumCPU().
	NumCPU int
	// MaxMemory bounds the memory one map may allocate, in bytes. 0 means
	// DefaultMaxMemory. A spec that needs more fails with ENOMEM, as the
	// kernel's allocation would.
	MaxMemory int64
}

// DefaultMaxMemory is the default of Options.MaxMemory.
const DefaultMaxMemory = 1 << 30

// MaxNumCPU bounds Options.NumCPU (the kernel's NR_CPUS on large configs).
const MaxNumCPU = 8192

func (o Options) numCPU() int {
	if o.NumCPU <= 0 {
		return runtime.NumCPU()
	}
	return o.NumCPU
}

func (o Options) maxMemory() uint64 {
	if o.MaxMemory <= 0 {
		return DefaultMaxMemory
	}
	return uint64(o.MaxMemory)
}

// Info describes a map, like the kernel's bpf_map_info.
type Info struct {
	ID         uint32
	Name       string
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	MapExtra   uint64
	NumCPU     int
	// Memory is the number of bytes the map allocated at creation.
	Memory uint64
}
