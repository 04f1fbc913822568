package helpers

import (
	"errors"

	"github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/vm"
	"golang.org/x/sys/unix"
)

// Map helpers find maps through the handles of the machine's vm.Space, where
// the loader registered every map (RegisterMap) with the region of its
// values; value pointers are that region plus the arena offsets the maps
// package returns.

// RegisterMap adds a map to space: its value arena becomes a region
// (read-only to programs if readOnly) and the map gets a handle. It returns
// the map's index (vm.MapHandle makes the handle). Registering a map again
// returns its first index.
func RegisterMap(space *vm.Space, m *maps.Map, readOnly bool) (int, error) {
	if i, ok := space.MapIndexOf(m); ok {
		return i, nil
	}
	var region uint32
	if arena := m.Arena(); len(arena) > 0 {
		// BPF_F_WRONLY_PROG maps stay readable here: the verifier enforces
		// it, and helpers read values from the region.
		perm := vm.PermRW
		if _, write := m.ProgAccess(); readOnly || !write {
			perm = vm.PermRead
		}
		r, err := vm.NewRegion(arena, perm)
		if err != nil {
			return 0, err
		}
		region = space.AddRegion("map "+m.Name(), r)
	}
	return space.AddMap(m, region), nil
}

// mapOf decodes a map pointer argument.
func mapOf(m *vm.Machine, handle uint64) (*maps.Map, uint32, error) {
	obj, region, ok := m.MapAt(handle)
	if ok {
		if mm, ok := obj.(*maps.Map); ok {
			return mm, region, nil
		}
	}
	return nil, 0, &vm.Fault{Kind: vm.FaultHelper, PC: m.PC, Addr: handle, Detail: "the map argument is not a map pointer"}
}

// errnoResult converts a maps error into the helper's negative errno.
func errnoResult(err error) (uint64, error) {
	if err == nil {
		return 0, nil
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return errno(e), nil
	}
	return 0, err
}

// mapMem decodes a map pointer and the key (or, with value, the value)
// memory of the map's size that ptr points to; write asks for writable
// memory (the helper fills it).
func mapMem(m *vm.Machine, mp, ptr uint64, value, write bool) (*maps.Map, uint32, []byte, error) {
	mm, region, err := mapOf(m, mp)
	if err != nil {
		return nil, 0, nil, err
	}
	n := mm.KeySize()
	if value {
		n = mm.ValueSize()
	}
	b, err := m.Slice(ptr, uint64(n), write)
	return mm, region, b, err
}

// handleOf returns the handle of an inner map, registering it if a Go
// caller inserted a map the space did not know.
func handleOf(m *vm.Machine, inner *maps.Map) (uint64, error) {
	i, err := RegisterMap(m.Space(), inner, false)
	if err != nil {
		return 0, err
	}
	m.SyncSpace()
	return vm.MapHandle(i), nil
}

func mapLookupElem(m *vm.Machine, mp, key, _, _, _ uint64) (uint64, error) {
	mm, region, k, err := mapMem(m, mp, key, false, false)
	if err != nil {
		return 0, err
	}
	switch mm.Type() {
	case maps.ArrayOfMaps, maps.HashOfMaps:
		inner, ok := mm.InnerMap(k)
		if !ok {
			return 0, nil
		}
		return handleOf(m, inner)
	}
	off, ok := mm.LookupOffset(k, m.CPU)
	if !ok {
		return 0, nil
	}
	return vm.Addr(region, off), nil
}

// mapLookupPercpuElem is bpf_map_lookup_percpu_elem(map, key, cpu).
func mapLookupPercpuElem(m *vm.Machine, mp, key, cpu, _, _ uint64) (uint64, error) {
	mm, region, k, err := mapMem(m, mp, key, false, false)
	if err != nil {
		return 0, err
	}
	if !mm.Type().PerCPU() || cpu >= uint64(mm.NumCPU()) {
		return 0, nil
	}
	off, ok := mm.LookupOffset(k, int(cpu))
	if !ok {
		return 0, nil
	}
	return vm.Addr(region, off), nil
}

func mapUpdateElem(m *vm.Machine, mp, key, value, flags, _ uint64) (uint64, error) {
	mm, _, k, err := mapMem(m, mp, key, false, false)
	if err != nil {
		return 0, err
	}
	v, err := m.Slice(value, uint64(mm.ValueSize()), false)
	if err != nil {
		return 0, err
	}
	return errnoResult(mm.UpdateElem(k, v, maps.UpdateFlags(flags), m.CPU))
}

func mapDeleteElem(m *vm.Machine, mp, key, _, _, _ uint64) (uint64, error) {
	mm, _, k, err := mapMem(m, mp, key, false, false)
	if err != nil {
		return 0, err
	}
	return errnoResult(mm.DeleteElem(k))
}

func mapPushElem(m *vm.Machine, mp, value, flags, _, _ uint64) (uint64, error) {
	mm, _, v, err := mapMem(m, mp, value, true, false)
	if err != nil {
		return 0, err
	}
	return errnoResult(mm.Push(v, maps.UpdateFlags(flags)))
}

func mapPopElem(m *vm.Machine, mp, value, _, _, _ uint64) (uint64, error) {
	mm, _, v, err := mapMem(m, mp, value, true, true)
	if err != nil {
		return 0, err
	}
	return errnoResult(mm.Pop(v))
}

func mapPeekElem(m *vm.Machine, mp, value, _, _, _ uint64) (uint64, error) {
	mm, _, v, err := mapMem(m, mp, value, true, true)
	if err != nil {
		return 0, err
	}
	return errnoResult(mm.Peek(v))
}

// VMProgrammer is implemented by program objects that wrap a vm.Program
// (the facade's Program), so that prog_array entries may hold either.
type VMProgrammer interface {
	VMProgram() *vm.Program
}

// tailCall is bpf_tail_call(ctx, prog_array, index): on success the engine
// continues in the target program; on failure the caller goes on with r0
// unchanged, as in the kernel.
func tailCall(m *vm.Machine, _, mp, index, _, _ uint64) (uint64, error) {
	mm, _, err := mapOf(m, mp)
	if err != nil {
		return 0, err
	}
	m.PreserveR0 = true
	if mm.Type() != maps.ProgramArray || uint32(index) >= mm.MaxEntries() || m.TailCalls >= vm.MaxTailCalls {
		return 0, nil
	}
	obj, ok := mm.Program(uint32(index))
	if !ok {
		return 0, nil
	}
	var target *vm.Program
	switch p := obj.(type) {
	case *vm.Program:
		target = p
	case VMProgrammer:
		target = p.VMProgram()
	}
	if target == nil || target.Space != m.Space() {
		return 0, nil
	}
	m.TailCalls++
	m.TailCallTarget = target
	return 0, nil
}

// forEachMapElem is bpf_for_each_map_elem(map, callback, ctx, flags): it
// calls callback(map, key, value, ctx) for every element until it returns
// non-zero, and returns the number of calls. The key is copied into a
// read-only scratch region, one slot per call depth.
func forEachMapElem(m *vm.Machine, mp, fn, ctx, flags, _ uint64) (uint64, error) {
	if flags != 0 {
		return errno(unix.EINVAL), nil
	}
	mm, region, err := mapOf(m, mp)
	if err != nil {
		return 0, err
	}
	st := stateOf(m)
	if st.keys == nil {
		st.keys = vm.AlignedBytes(keySlot * vm.MaxCallFrames)
	}
	slot := m.Depth * keySlot
	r, err := vm.NewRegion(st.keys, vm.PermRead)
	if err != nil {
		return 0, err
	}
	if err := m.SetRegion(vm.RegionScratch, "map keys", r); err != nil {
		return 0, err
	}
	ks := int(mm.KeySize())
	if ks > keySlot {
		return errno(unix.E2BIG), nil
	}
	var n uint64
	var pos uint32
	for {
		off, next, ok := mm.NextElem(pos, st.keys[slot:slot+ks], m.CPU)
		if !ok {
			return n, nil
		}
		n++
		ret, err := m.Call(fn, mp, vm.Addr(vm.RegionScratch, uint32(slot)), vm.Addr(region, off), ctx)
		if err != nil {
			return 0, err
		}
		if ret != 0 {
			return n, nil
		}
		pos = next
	}
}

// keySlot is the scratch space for one for_each_map_elem key: the kernel's
// largest key (MAX_BPF_STACK).
const keySlot = 512

// ringOf finds the ring buffer map a record pointer points into.
func ringOf(m *vm.Machine, ptr uint64) (*maps.Map, uint32, bool) {
	region, off := vm.SplitAddr(ptr)
	obj, ok := m.Space().MapByRegion(region)
	if !ok {
		return nil, 0, false
	}
	mm, ok := obj.(*maps.Map)
	if !ok || mm.Type() != maps.RingBuf {
		return nil, 0, false
	}
	return mm, off, true
}

func ringbufOutput(m *vm.Machine, mp, data, size, flags, _ uint64) (uint64, error) {
	mm, _, err := mapOf(m, mp)
	if err != nil {
		return 0, err
	}
	d, err := m.Slice(data, size, false)
	if err != nil {
		return 0, err
	}
	return errnoResult(mm.Output(d, flags))
}

func ringbufReserve(m *vm.Machine, mp, size, flags, _, _ uint64) (uint64, error) {
	mm, region, err := mapOf(m, mp)
	if err != nil {
		return 0, err
	}
	off, ok := mm.Reserve(size, flags)
	if !ok {
		return 0, nil
	}
	return vm.Addr(region, off), nil
}

func ringbufCommit(discard bool) vm.HelperFunc {
	return func(m *vm.Machine, data, flags, _, _, _ uint64) (uint64, error) {
		mm, off, ok := ringOf(m, data)
		if !ok {
			return 0, &vm.Fault{Kind: vm.FaultHelper, PC: m.PC, Addr: data, Detail: "not a ring buffer record"}
		}
		var err error
		if discard {
			err = mm.Discard(off, flags)
		} else {
			err = mm.Submit(off, flags)
		}
		if err != nil {
			return 0, &vm.Fault{Kind: vm.FaultHelper, PC: m.PC, Addr: data, Err: err}
		}
		return 0, nil
	}
}

func ringbufQuery(m *vm.Machine, mp, flags, _, _, _ uint64) (uint64, error) {
	mm, _, err := mapOf(m, mp)
	if err != nil {
		return 0, err
	}
	return mm.Query(flags), nil
}

// perfEventOutput is bpf_perf_event_output(ctx, map, flags, data, size).
func perfEventOutput(m *vm.Machine, _, mp, flags, data, size uint64) (uint64, error) {
	mm, _, err := mapOf(m, mp)
	if err != nil {
		return 0, err
	}
	d, err := m.Slice(data, size, false)
	if err != nil {
		return 0, err
	}
	return errnoResult(mm.PerfEventOutput(flags, m.CPU, d))
}

func mapHelpers() []Helper {
	keyArgs := [5]ArgKind{ArgConstMapPtr, ArgPtrToMapKey}
	return []Helper{
		{Proto: Proto{ID: IDMapLookupElem, Name: "map_lookup_elem", Args: keyArgs, Ret: RetMapValueOrNull}, Func: mapLookupElem},
		{Proto: Proto{ID: IDMapUpdateElem, Name: "map_update_elem", Args: [5]ArgKind{ArgConstMapPtr, ArgPtrToMapKey, ArgPtrToMapValue, ArgScalar}, Ret: RetInteger}, Func: mapUpdateElem},
		{Proto: Proto{ID: IDMapDeleteElem, Name: "map_delete_elem", Args: keyArgs, Ret: RetInteger}, Func: mapDeleteElem},
		{Proto: Proto{ID: IDMapPushElem, Name: "map_push_elem", Args: [5]ArgKind{ArgConstMapPtr, ArgPtrToMapValue, ArgScalar}, Ret: RetInteger}, Func: mapPushElem},
		{Proto: Proto{ID: IDMapPopElem, Name: "map_pop_elem", Args: [5]ArgKind{ArgConstMapPtr, ArgPtrToUninitMapValue}, Ret: RetInteger}, Func: mapPopElem},
		{Proto: Proto{ID: IDMapPeekElem, Name: "map_peek_elem", Args: [5]ArgKind{ArgConstMapPtr, ArgPtrToUninitMapValue}, Ret: RetInteger}, Func: mapPeekElem},
		{Proto: Proto{ID: IDMapLookupPercpuElem, Name: "map_lookup_percpu_elem", Args: [5]ArgKind{ArgConstMapPtr, ArgPtrToMapKey, ArgScalar}, Ret: RetMapValueOrNull}, Func: mapLookupPercpuElem},
		{Proto: Proto{ID: IDTailCall, Name: "tail_call", Args: [5]ArgKind{ArgPtrToCtx, ArgConstMapPtr, ArgScalar}, Ret: RetVoid}, Func: tailCall},
		{Proto: Proto{ID: IDForEachMapElem, Name: "for_each_map_elem", Args: [5]ArgKind{ArgConstMapPtr, ArgPtrToFunc, ArgPtrToStackOrNull, ArgScalar}, Ret: RetInteger, CallbackArgs: 4}, Func: forEachMapElem},
		{Proto: Proto{ID: IDRingbufOutput, Name: "ringbuf_output", Args: [5]ArgKind{ArgConstMapPtr, ArgPtrToMem, ArgConstSizeOrZero, ArgScalar}, Ret: RetInteger}, Func: ringbufOutput},
		{Proto: Proto{ID: IDRingbufReserve, Name: "ringbuf_reserve", Args: [5]ArgKind{ArgConstMapPtr, ArgConstAllocSizeOrZero, ArgScalar}, Ret: RetAllocMemOrNull, AcquiresRef: true}, Func: ringbufReserve},
		{Proto: Proto{ID: IDRingbufSubmit, Name: "ringbuf_submit", Args: [5]ArgKind{ArgPtrToAllocMem, ArgScalar}, Ret: RetVoid, ReleasesRef: true}, Func: ringbufCommit(false)},
		{Proto: Proto{ID: IDRingbufDiscard, Name: "ringbuf_discard", Args: [5]ArgKind{ArgPtrToAllocMem, ArgScalar}, Ret: RetVoid, ReleasesRef: true}, Func: ringbufCommit(true)},
		{Proto: Proto{ID: IDRingbufQuery, Name: "ringbuf_query", Args: [5]ArgKind{ArgConstMapPtr, ArgScalar}, Ret: RetInteger}, Func: ringbufQuery},
		{Proto: Proto{ID: IDPerfEventOutput, Name: "perf_event_output", Args: [5]ArgKind{ArgPtrToCtx, ArgConstMapPtr, ArgScalar, ArgPtrToMem, ArgConstSizeOrZero}, Ret: RetInteger}, Func: perfEventOutput},
	}
}
