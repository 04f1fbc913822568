package maps

import (
	"math/bits"
)

// Limits of the kernel (x86-64, 4 KiB pages) that map creation checks.
const (
	kmallocMaxSize   = 1 << 22 // KMALLOC_MAX_SIZE
	pcpuMinUnitSize  = 32 << 10
	htabElemSize     = 48 // sizeof(struct htab_elem)
	lpmNodeSize      = 24 // sizeof(struct lpm_trie_node)
	lpmDataSizeMax   = 256
	lpmKeySizeMin    = 4 + 1
	lpmKeySizeMax    = 4 + lpmDataSizeMax
	lpmValSizeMax    = kmallocMaxSize - lpmDataSizeMax - lpmNodeSize
	ringbufMaxDataSz = ((1 << 24) - 2 - 1) * PageSize
	maxRecordSize    = 0xffff_ffff / 4 // RINGBUF_MAX_RECORD_SZ
	intMax           = 1<<31 - 1
)

// Flags each type accepts at creation (the kernel's *_CREATE_FLAG_MASK).
const (
	arrayFlagMask = FlagNumaNode | FlagMmapable | FlagAccessMask | FlagPreserveElems | FlagInnerMap
	htabFlagMask  = FlagNoPrealloc | FlagNoCommonLRU | FlagNumaNode | FlagAccessMask | FlagZeroSeed
	lpmFlagMask   = FlagNoPrealloc | FlagNumaNode | FlagAccessMask
	qsFlagMask    = FlagNumaNode | FlagAccessMask
	bloomFlagMask = FlagNumaNode | FlagZeroSeed | FlagAccessMask
	ringFlagMask  = FlagNumaNode
)

func accessOK(flags uint32) bool {
	return flags&(FlagRdonlyProg|FlagWronlyProg) != FlagRdonlyProg|FlagWronlyProg
}

// fixup fills in what cilium/ebpf and libbpf fill in before creating a map,
// so that specs read from ELF objects work unchanged: perf event arrays get
// 4-byte keys and values and one entry per CPU, maps of maps 4-byte values.
func fixup(s *Spec, ncpu int) {
	switch s.Type {
	case PerfEventArray:
		if s.KeySize == 0 {
			s.KeySize = 4
		}
		if s.ValueSize == 0 {
			s.ValueSize = 4
		}
		if s.MaxEntries == 0 || s.MaxEntries > uint32(ncpu) {
			s.MaxEntries = uint32(ncpu)
		}
	case ArrayOfMaps, HashOfMaps:
		if s.ValueSize == 0 {
			s.ValueSize = 4
		}
	}
}

// validate applies the kernel's checks of map creation (map_create, then
// the type's map_alloc_check and map_alloc), in the kernel's order so that
// the same spec fails with the same errno. It may adjust MaxEntries as the
// kernel does (lru maps with BPF_F_NO_COMMON_LRU).
func validate(s *Spec, ncpu int, depth int) error {
	if s.MapExtra != 0 && s.Type != BloomFilter {
		return specErr(s, eINVAL, "map_extra %#x is only meaningful for bloom_filter", s.MapExtra)
	}
	if s.Flags&FlagRdonly != 0 && s.Flags&FlagWronly != 0 {
		return specErr(s, eINVAL, "BPF_F_RDONLY and BPF_F_WRONLY together")
	}
	if !s.Type.Supported() {
		if int(s.Type) < len(typeNames) && s.Type != Unspec {
			return specErr(s, ENOTSUPP, "map type %s is not supported by ebpfvm", s.Type)
		}
		return specErr(s, eINVAL, "unknown map type %d", uint32(s.Type))
	}
	var err error
	switch {
	case s.Type.isArray():
		err = validateArray(s)
	case s.Type.isHash():
		err = validateHash(s, ncpu)
	case s.Type == LPMTrie:
		err = validateLPM(s)
	case s.Type == Queue || s.Type == Stack:
		err = validateQueue(s)
	case s.Type == RingBuf:
		err = validateRingbuf(s)
	case s.Type == BloomFilter:
		err = validateBloom(s)
	}
	if err != nil {
		return err
	}
	if s.Type == ArrayOfMaps || s.Type == HashOfMaps {
		if err := validateInner(s, ncpu, depth); err != nil {
			return err
		}
	}
	return validateName(s)
}

func validateName(s *Spec) error {
	// The kernel accepts only these characters (bpf_obj_name_cpy). It also
	// limits names to 15 bytes, which cilium/ebpf enforces by truncating;
	// ebpfvm keeps the whole name, which only serves diagnostics.
	for i := 0; i < len(s.Name); i++ {
		c := s.Name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return specErr(s, eINVAL, "name %q: only letters, digits, '_' and '.' are allowed", s.Name)
		}
	}
	return nil
}

func validateArray(s *Spec) error {
	fd := s.Type == ProgramArray || s.Type == PerfEventArray || s.Type == ArrayOfMaps
	if fd {
		if s.ValueSize != 4 {
			return specErr(s, eINVAL, "value size %d: %s values are 4-byte handles", s.ValueSize, s.Type)
		}
		if s.Flags&(FlagRdonlyProg|FlagWronlyProg) != 0 {
			return specErr(s, eINVAL, "BPF_F_RDONLY_PROG/BPF_F_WRONLY_PROG are not supported for %s", s.Type)
		}
	}
	percpu := s.Type == PerCPUArray
	switch {
	case s.MaxEntries == 0:
		return specErr(s, eINVAL, "max_entries must be > 0")
	case s.KeySize != 4:
		return specErr(s, eINVAL, "key size %d: array keys are 4-byte indexes", s.KeySize)
	case s.ValueSize == 0:
		return specErr(s, eINVAL, "value size must be > 0")
	case s.Flags&^arrayFlagMask != 0:
		return specErr(s, eINVAL, "flags %#x not allowed for %s", s.Flags&^arrayFlagMask, s.Type)
	case !accessOK(s.Flags):
		return specErr(s, eINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together")
	case percpu && s.Flags&FlagNumaNode != 0:
		return specErr(s, eINVAL, "BPF_F_NUMA_NODE is not allowed for per-CPU maps")
	}
	if s.Type != Array && s.Flags&(FlagMmapable|FlagInnerMap) != 0 {
		return specErr(s, eINVAL, "BPF_F_MMAPABLE and BPF_F_INNER_MAP are only allowed for array")
	}
	if s.Type != PerfEventArray && s.Flags&FlagPreserveElems != 0 {
		return specErr(s, eINVAL, "BPF_F_PRESERVE_ELEMS is only allowed for perf_event_array")
	}
	if s.ValueSize > intMax {
		return specErr(s, e2BIG, "value size %d exceeds INT_MAX", s.ValueSize)
	}
	if percpu && roundUp8(uint64(s.ValueSize)) > pcpuMinUnitSize {
		return specErr(s, e2BIG, "per-CPU value size %d exceeds %d", s.ValueSize, pcpuMinUnitSize)
	}
	return nil
}

func validateHash(s *Spec, ncpu int) error {
	if s.Type == HashOfMaps && s.ValueSize != 4 {
		return specErr(s, eINVAL, "value size %d: hash_of_maps values are 4-byte handles", s.ValueSize)
	}
	percpu := s.Type.PerCPU()
	lru := s.Type.isLRU()
	percpuLRU := s.Flags&FlagNoCommonLRU != 0
	prealloc := s.Flags&FlagNoPrealloc == 0
	switch {
	case s.Flags&^htabFlagMask != 0:
		return specErr(s, eINVAL, "flags %#x not allowed for %s", s.Flags&^htabFlagMask, s.Type)
	case !accessOK(s.Flags):
		return specErr(s, eINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together")
	case !lru && percpuLRU:
		return specErr(s, eINVAL, "BPF_F_NO_COMMON_LRU is only allowed for lru maps")
	case lru && !prealloc:
		return specErr(s, ENOTSUPP, "lru maps are always preallocated (BPF_F_NO_PREALLOC)")
	case s.Flags&FlagNumaNode != 0 && (percpu || percpuLRU):
		return specErr(s, eINVAL, "BPF_F_NUMA_NODE is not allowed for per-CPU maps")
	case s.MaxEntries == 0 || s.KeySize == 0 || s.ValueSize == 0:
		return specErr(s, eINVAL, "key size, value size and max_entries must be > 0")
	case uint64(s.KeySize)+uint64(s.ValueSize) >= kmallocMaxSize-htabElemSize:
		return specErr(s, e2BIG, "key size + value size %d is too large", uint64(s.KeySize)+uint64(s.ValueSize))
	case percpu && roundUp8(uint64(s.ValueSize)) > pcpuMinUnitSize:
		return specErr(s, e2BIG, "per-CPU value size %d exceeds %d", s.ValueSize, pcpuMinUnitSize)
	}
	if percpuLRU {
		// Every CPU's LRU list gets the same number of elements.
		n := uint64(ncpu)
		m := (uint64(s.MaxEntries) + n - 1) / n * n
		if m > 0xffff_ffff {
			m = uint64(s.MaxEntries) / n * n
		}
		s.MaxEntries = uint32(m)
	}
	if s.MaxEntries > 1<<31 {
		return specErr(s, e2BIG, "max_entries %d exceeds 2^31", s.MaxEntries)
	}
	// n_buckets (max_entries rounded up to a power of two) times the
	// 16-byte bucket must fit in 32 bits.
	if roundPow2(uint64(s.MaxEntries)) > 0xffff_ffff/16 {
		return specErr(s, e2BIG, "max_entries %d: too many buckets", s.MaxEntries)
	}
	return nil
}

func validateLPM(s *Spec) error {
	switch {
	case s.MaxEntries == 0:
		return specErr(s, eINVAL, "max_entries must be > 0")
	case s.Flags&FlagNoPrealloc == 0:
		return specErr(s, eINVAL, "lpm_trie requires BPF_F_NO_PREALLOC")
	case s.Flags&^lpmFlagMask != 0:
		return specErr(s, eINVAL, "flags %#x not allowed for lpm_trie", s.Flags&^lpmFlagMask)
	case !accessOK(s.Flags):
		return specErr(s, eINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together")
	case s.KeySize < lpmKeySizeMin || s.KeySize > lpmKeySizeMax:
		return specErr(s, eINVAL, "key size %d: lpm_trie keys are a 4-byte prefix length and 1 to 256 bytes of data", s.KeySize)
	case s.ValueSize < 1 || s.ValueSize > lpmValSizeMax:
		return specErr(s, eINVAL, "value size %d out of range 1..%d", s.ValueSize, lpmValSizeMax)
	}
	return nil
}

func validateQueue(s *Spec) error {
	switch {
	case s.MaxEntries == 0 || s.KeySize != 0 || s.ValueSize == 0:
		return specErr(s, eINVAL, "%s needs key size 0, value size > 0 and max_entries > 0", s.Type)
	case s.Flags&^qsFlagMask != 0:
		return specErr(s, eINVAL, "flags %#x not allowed for %s", s.Flags&^qsFlagMask, s.Type)
	case !accessOK(s.Flags):
		return specErr(s, eINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together")
	case s.ValueSize > kmallocMaxSize:
		return specErr(s, e2BIG, "value size %d exceeds %d", s.ValueSize, kmallocMaxSize)
	}
	return nil
}

func validateRingbuf(s *Spec) error {
	switch {
	case s.Flags&^ringFlagMask != 0:
		return specErr(s, eINVAL, "flags %#x not allowed for ringbuf", s.Flags&^ringFlagMask)
	case s.KeySize != 0 || s.ValueSize != 0:
		return specErr(s, eINVAL, "ringbuf needs key size 0 and value size 0")
	case s.MaxEntries == 0 || s.MaxEntries&(s.MaxEntries-1) != 0 || s.MaxEntries%PageSize != 0:
		return specErr(s, eINVAL, "ringbuf size %d must be a power of 2 and a multiple of the page size %d", s.MaxEntries, PageSize)
	case uint64(s.MaxEntries) > ringbufMaxDataSz:
		return specErr(s, e2BIG, "ringbuf size %d too large", s.MaxEntries)
	}
	return nil
}

func validateBloom(s *Spec) error {
	if s.ValueSize > kmallocMaxSize {
		return specErr(s, e2BIG, "value size %d exceeds %d", s.ValueSize, kmallocMaxSize)
	}
	switch {
	case s.KeySize != 0 || s.ValueSize == 0 || s.MaxEntries == 0:
		return specErr(s, eINVAL, "bloom_filter needs key size 0, value size > 0 and max_entries > 0")
	case s.Flags&^bloomFlagMask != 0:
		return specErr(s, eINVAL, "flags %#x not allowed for bloom_filter", s.Flags&^bloomFlagMask)
	case !accessOK(s.Flags):
		return specErr(s, eINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together")
	case s.MapExtra&^0xf != 0:
		return specErr(s, eINVAL, "map_extra %#x: only the low 4 bits (number of hash functions) may be set", s.MapExtra)
	}
	return nil
}

// validateInner checks the template of a map of maps as the kernel checks
// the inner map fd it is given (bpf_map_meta_alloc).
func validateInner(s *Spec, ncpu, depth int) error {
	in := s.InnerMap
	if in == nil {
		return specErr(s, eBADF, "%s needs an InnerMap spec (the kernel's inner_map_fd)", s.Type)
	}
	if depth > 0 || in.Type == ArrayOfMaps || in.Type == HashOfMaps {
		return specErr(s, eINVAL, "maps of maps of maps are not supported")
	}
	if in.Type == ProgramArray {
		return specErr(s, ENOTSUPP, "prog_array cannot be an inner map")
	}
	c := in.Copy()
	fixup(c, ncpu)
	if err := validate(c, ncpu, depth+1); err != nil {
		return specErr(s, errnoOf(err), "inner map: %v", err)
	}
	*in = *c
	return nil
}

// retainedFlags are the flags that belong to the map rather than to one
// handle of it, which is what the kernel compares for inner maps.
func retainedFlags(f uint32) uint32 { return f &^ (FlagRdonly | FlagWronly) }

// innerCompatible reports whether inner may be stored in a map of maps whose
// template is tmpl (the kernel's map_meta_equal).
func innerCompatible(tmpl *Spec, inner *Map) bool {
	if inner.typ != tmpl.Type || inner.keySize != tmpl.KeySize || inner.valueSize != tmpl.ValueSize ||
		retainedFlags(inner.spec.Flags) != retainedFlags(tmpl.Flags) {
		return false
	}
	if tmpl.Type == Array && tmpl.Flags&FlagInnerMap == 0 {
		return inner.maxEntries == tmpl.MaxEntries
	}
	return true
}

func roundUp8(n uint64) uint64 { return (n + 7) &^ 7 }

// roundPow2 rounds n up to a power of two (1 for 0).
func roundPow2(n uint64) uint64 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len64(n-1)
}

// memSize is a saturating byte count, so that absurd specs compare as huge
// instead of wrapping around.
type memSize uint64

const memHuge memSize = 1 << 62

func mul(a, b uint64) memSize {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 || lo > uint64(memHuge) {
		return memHuge
	}
	return memSize(lo)
}

func (m memSize) add(n memSize) memSize {
	if m+n > memHuge || m+n < m {
		return memHuge
	}
	return m + n
}
