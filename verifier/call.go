package verifier

import (
	"fmt"
	"math"
	"runtime"
	"strings"

	"github.com/ebpfvm/ebpfvm/helpers"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/maps"
)

// maxKernelHelper is __BPF_FUNC_MAX_ID of Linux 6.18: helper ids the
// kernel can know.
const maxKernelHelper = 212

// callMeta collects what the arguments of a helper call tell about it (the
// kernel's bpf_call_arg_meta).
type callMeta struct {
	mapIdx      int32
	access      helperAccess
	msizeMax    uint64
	memSize     uint32
	refObj      uint32
	releaseReg  isa.Register
	subprog     int32
	constKey    int64
	constKeySet bool
	pktAccess   bool
}

func (e *env) helperName(id int32) string {
	if n := e.reg.Name(id); n != "" {
		return n
	}
	return "unknown"
}

// checkHelperCall verifies a call to a helper and types r0 after it.
func (e *env) checkHelperCall(ins isa.Instruction) error {
	id := int32(ins.Imm)
	proto := e.helperProto(id)
	if proto == nil && (id < 0 || id >= maxKernelHelper) {
		return e.errorf("invalid func %s#%d", e.helperName(id), id)
	}
	if proto == nil || !e.typ.t.HelperAllowed(id) || (!e.bpfCapable && !unprivHelpers[id]) {
		return e.errorf("program of this type cannot use helper %s#%d", e.helperName(id), id)
	}
	if proto.ChangesPacket && proto.Args[0] != helpers.ArgPtrToCtx {
		return e.errorf("func %s#%d: r1 != ctx", e.helperName(id), id)
	}
	meta := callMeta{mapIdx: -1, subprog: -1, pktAccess: pktAccessHelpers[id]}
	for arg := range 5 {
		if err := e.checkFuncArg(arg, proto, &meta); err != nil {
			return err
		}
	}
	regs := e.regs()
	if meta.mapIdx >= 0 {
		m := e.maps[meta.mapIdx]
		if m.Flags&mapRdonlyProg != 0 && (id == 2 || id == 3 || id == 87 || id == 88) {
			return e.errorf("write into map forbidden")
		}
	}
	if id == idTailCall {
		if meta.mapIdx < 0 || e.maps[meta.mapIdx].Type != maps.ProgramArray {
			return e.errorf("expected prog array map for tail call")
		}
	}
	// A helper filling uninitialised memory: the bytes become data.
	if meta.access.set {
		for k := 0; k < meta.access.accessSize; k++ {
			if err := e.checkMemAccess(meta.access.regno, k, 1, true, -1, false, false); err != nil {
				return err
			}
		}
	}
	if meta.releaseReg != 0 {
		var err error
		switch {
		case meta.refObj != 0:
			err = e.releaseReference(meta.refObj)
		case regs[meta.releaseReg].isNull():
		default:
			err = errNotAcquired
		}
		if err != nil {
			return e.errorf("func %s#%d reference has not been acquired before", e.helperName(id), id)
		}
	}
	switch id {
	case idTailCall:
		if len(e.cur.refs) > 0 {
			e.logRefLeaks()
			return e.errorf("tail_call would lead to reference leak")
		}
	case 164: // for_each_map_elem
		if err := e.pushCallback(meta.subprog, e.setForEachCallbackState); err != nil {
			return err
		}
	case 181: // loop
		if uint64(e.cur.cur().callbackDepth) < regs[1].umax {
			if err := e.pushCallback(meta.subprog, e.setLoopCallbackState); err != nil {
				return err
			}
		} else {
			e.cur.cur().callbackDepth = 0
		}
	}
	regs = e.regs()
	for r := 0; r <= 5; r++ {
		regs[r].markNotInit()
		e.log.scratchReg(r)
	}
	r0 := &regs[0]
	switch proto.Ret {
	case helpers.RetInteger:
		r0.markUnknown()
	case helpers.RetVoid:
		r0.markNotInit()
	case helpers.RetMapValueOrNull, helpers.RetMapValue, helpers.RetInnerMapPtrOrNull:
		if meta.mapIdx < 0 {
			return e.errorf("func %s#%d: a map argument is needed for the return value", e.helperName(id), id)
		}
		*r0 = pointerReg(ptrToMapValue)
		r0.mapIdx = meta.mapIdx
		if proto.Ret != helpers.RetMapValue {
			r0.flags |= flagMaybeNull
		}
		m := e.maps[meta.mapIdx]
		if id == 1 && (m.Type == maps.Array || m.Type == maps.PerCPUArray) && meta.constKeySet &&
			meta.constKey >= 0 && meta.constKey < int64(m.MaxEntries) {
			r0.flags &^= flagMaybeNull
		}
	case helpers.RetAllocMemOrNull:
		*r0 = pointerReg(ptrToMem)
		r0.flags = flagMaybeNull | flagRingbuf
		r0.memSize = meta.memSize
	default:
		return e.errorf("unknown return type %d of func %s#%d", proto.Ret, e.helperName(id), id)
	}
	if r0.maybeNull() {
		r0.id = e.newID()
	}
	if proto.AcquiresRef {
		rid := e.newID()
		e.cur.refs = append(e.cur.refs, refState{id: rid, insn: e.slot[e.insnIdx]})
		r0.id, r0.refObj = rid, rid
	}
	e.refineRetval(id, r0, &meta)
	if err := e.checkMapFuncCompat(meta.mapIdx, id); err != nil {
		return err
	}
	if proto.ChangesPacket {
		e.clearPktPointers()
	}
	return nil
}

type sentinel string

func (s sentinel) Error() string { return string(s) }

const errNotAcquired = sentinel("reference not acquired")

func (e *env) logRefLeaks() {
	for _, r := range e.cur.refs {
		e.log.printf("Unreleased reference id=%d alloc_insn=%d\n", r.id, r.insn)
	}
}

// releaseReference drops the reference id and invalidates every register
// that held the referenced object.
func (e *env) releaseReference(id uint32) error {
	k := e.cur.findRef(id)
	if k < 0 {
		return errNotAcquired
	}
	e.cur.refs = append(e.cur.refs[:k], e.cur.refs[k+1:]...)
	e.cur.forEachReg(func(r *reg) {
		if r.refObj == id {
			e.markRegInvalid(r)
		}
	})
	return nil
}

// markRegInvalid forgets a pointer that is no longer valid: privileged
// programs keep an unknown scalar, others an unreadable register.
func (e *env) markRegInvalid(r *reg) {
	if e.allowPtrLeaks {
		r.markUnknown()
	} else {
		r.markNotInit()
	}
}

func (e *env) clearPktPointers() {
	e.cur.forEachReg(func(r *reg) {
		if r.isPktAny() {
			e.markRegInvalid(r)
		}
	})
}

func (e *env) refineRetval(id int32, r0 *reg, meta *callMeta) {
	switch id {
	case 67, 141, 45, 115, 114: // get_stack, get_task_stack, probe_read_str family
		r0.smax = int64(meta.msizeMax)
		r0.s32max = int32(meta.msizeMax)
		r0.smin = -4095
		r0.s32min = -4095
		r0.sync()
		r0.sanitize()
	case 8: // get_smp_processor_id
		n := uint64(e.numCPU() - 1)
		r0.umin, r0.umax = 0, n
		r0.u32min, r0.u32max = 0, uint32(n)
		r0.smin, r0.smax = 0, int64(n)
		r0.s32min, r0.s32max = 0, int32(n)
		r0.sync()
	}
}

func (e *env) numCPU() int {
	if e.opts.NumCPU > 0 {
		return e.opts.NumCPU
	}
	return runtime.NumCPU()
}

// argTypes lists the register types an argument kind accepts (the
// kernel's compatible_reg_types).
func argTypes(k helpers.ArgKind) []regType {
	switch k {
	case helpers.ArgPtrToMapKey, helpers.ArgPtrToMapValue, helpers.ArgPtrToUninitMapValue,
		helpers.ArgPtrToMem, helpers.ArgPtrToMemOrNull, helpers.ArgPtrToUninitMem, helpers.ArgPtrToLong:
		return []regType{ptrToStack, ptrToPacket, ptrToPacketMeta, ptrToMapKey, ptrToMapValue, ptrToMem, ptrToRawMem}
	case helpers.ArgConstSize, helpers.ArgConstSizeOrZero, helpers.ArgConstAllocSizeOrZero:
		return []regType{scalarValue}
	case helpers.ArgConstMapPtr:
		return []regType{constPtrToMap}
	case helpers.ArgPtrToCtx:
		return []regType{ptrToCtx}
	case helpers.ArgPtrToFunc:
		return []regType{ptrToFunc}
	case helpers.ArgPtrToStackOrNull:
		return []regType{ptrToStack}
	case helpers.ArgPtrToConstStr:
		return []regType{ptrToMapValue}
	case helpers.ArgPtrToAllocMem:
		return []regType{ptrToMem}
	}
	return nil
}

func argMayBeNull(k helpers.ArgKind) bool {
	return k == helpers.ArgPtrToMemOrNull || k == helpers.ArgPtrToStackOrNull
}

// argWrites reports memory arguments the helper writes.
func argWrites(k helpers.ArgKind) bool {
	return k == helpers.ArgPtrToUninitMem || k == helpers.ArgPtrToUninitMapValue || k == helpers.ArgPtrToLong
}

func (e *env) checkRegType(regno isa.Register, k helpers.ArgKind) error {
	r := &e.regs()[regno]
	types := argTypes(k)
	flags := r.flags
	if argMayBeNull(k) || k == helpers.ArgPtrToMem || k == helpers.ArgPtrToMemOrNull {
		flags &^= flagRdonly
	}
	if argMayBeNull(k) {
		flags &^= flagMaybeNull
	}
	if k == helpers.ArgPtrToCtx && e.typ.raw && r.typ == ptrToRawMem {
		// A raw program has no context: its input memory stands in.
		return nil
	}
	for _, t := range types {
		if r.typ != t {
			continue
		}
		switch {
		case k == helpers.ArgPtrToAllocMem && flags == flagRingbuf:
			return nil
		case k != helpers.ArgPtrToAllocMem && t == ptrToMem && (flags == 0 || flags == flagRingbuf):
			return nil
		case t != ptrToMem && flags == 0:
			return nil
		}
	}
	var names []string
	for _, t := range types {
		if t == ptrToRawMem {
			// Ours; the kernel lists its buffer and BTF types here.
			names = append(names, "buf", "trusted_ptr_")
			continue
		}
		names = append(names, regTypeStr(t, 0))
		if t == ptrToMem && k != helpers.ArgPtrToAllocMem {
			names = append(names, regTypeStr(t, flagRingbuf))
		}
	}
	if k == helpers.ArgPtrToAllocMem {
		names = []string{regTypeStr(ptrToMem, flagRingbuf)}
	}
	return e.errorf("R%d type=%s expected=%s", regno, r.typeStr(), strings.Join(names, ", "))
}

// checkFuncArgRegOff accepts offsets only on pointer types that carry
// bounds (check_func_arg_reg_off).
func (e *env) checkFuncArgRegOff(r *reg, regno isa.Register, release bool) error {
	if release {
		if r.off != 0 {
			return e.errorf("R%d must have zero offset when passed to release func or trusted arg to kfunc", regno)
		}
		return e.checkPtrOffReg(r, regno)
	}
	switch r.typ {
	case ptrToStack, ptrToPacket, ptrToPacketMeta, ptrToMapKey, ptrToMapValue, ptrToMem, ptrToRawMem, scalarValue:
		return nil
	}
	return e.checkPtrOffReg(r, regno)
}

func (e *env) checkFuncArg(arg int, proto *helpers.Proto, meta *callMeta) error {
	regno := isa.Register(arg + 1)
	k := proto.Args[arg]
	if k == helpers.ArgNone {
		return nil
	}
	if err := e.checkRegRead(regno); err != nil {
		return err
	}
	regs := e.regs()
	r := &regs[regno]
	if k == helpers.ArgAnything || k == helpers.ArgScalar {
		if e.isPointerValue(r) {
			return e.errorf("R%d leaks addr into helper function", regno)
		}
		return nil
	}
	if r.isPkt() && !(meta.pktAccess && e.pktHelperAccess()) {
		return e.errorf("helper access to the packet is not allowed")
	}
	if k == helpers.ArgPtrToUninitMapValue && meta.mapIdx >= 0 && e.maps[meta.mapIdx].Type == maps.BloomFilter && proto.ID == 89 {
		k = helpers.ArgPtrToMapValue
	}
	release := proto.ReleasesRef && k == helpers.ArgPtrToAllocMem
	if !(r.isNull() && argMayBeNull(k)) {
		if err := e.checkRegType(regno, k); err != nil {
			return err
		}
		if err := e.checkFuncArgRegOff(r, regno, release); err != nil {
			return err
		}
	}
	if release {
		if r.refObj == 0 && !r.isNull() {
			return e.errorf("R%d must be referenced when passed to release function", regno)
		}
		meta.releaseReg = regno
	}
	if r.refObj != 0 {
		if meta.refObj != 0 {
			return e.errorf("more than one arg with ref_obj_id R%d %d %d", regno, r.refObj, meta.refObj)
		}
		meta.refObj = r.refObj
	}
	switch k {
	case helpers.ArgConstMapPtr:
		meta.mapIdx = r.mapIdx
	case helpers.ArgPtrToMapKey:
		if meta.mapIdx < 0 {
			return e.errorf("invalid map_ptr to access map->key")
		}
		m := e.maps[meta.mapIdx]
		if err := e.checkHelperMemAccess(regno, int(m.KeySize), false, false, nil); err != nil {
			return err
		}
		if m.Type == maps.Array || m.Type == maps.PerCPUArray {
			meta.constKey, meta.constKeySet = e.constMapKey(r, int(m.KeySize))
		}
	case helpers.ArgPtrToMapValue, helpers.ArgPtrToUninitMapValue:
		if meta.mapIdx < 0 {
			return e.errorf("invalid map_ptr to access map->value")
		}
		meta.access.rawMode = k == helpers.ArgPtrToUninitMapValue
		if err := e.checkHelperMemAccess(regno, int(e.maps[meta.mapIdx].ValueSize), argWrites(k), false, &meta.access); err != nil {
			return err
		}
	case helpers.ArgPtrToFunc:
		meta.subprog = r.subprog
	case helpers.ArgPtrToMem, helpers.ArgPtrToMemOrNull, helpers.ArgPtrToUninitMem:
		// Only the mode changes, as the kernel's meta->raw_mode does: the
		// region an earlier argument lets the helper write (recorded in
		// accessSize and regno) must still be marked written after the
		// call, or its old contents survive in the verifier's view.
		meta.access.rawMode = k == helpers.ArgPtrToUninitMem
	case helpers.ArgPtrToLong:
		meta.access.rawMode = true
		if err := e.checkHelperMemAccess(regno, 8, true, false, &meta.access); err != nil {
			return err
		}
		if err := e.checkPtrAlignment(r, 0, 8, true); err != nil {
			return err
		}
	case helpers.ArgConstSize, helpers.ArgConstSizeOrZero:
		return e.checkMemSizeReg(r, regno, argWrites(proto.Args[arg-1]), k == helpers.ArgConstSizeOrZero, meta)
	case helpers.ArgConstAllocSizeOrZero:
		if !r.varOff.isConst() {
			return e.errorf("R%d is not a known constant'", regno)
		}
		meta.memSize = uint32(r.varOff.value)
	case helpers.ArgPtrToConstStr:
		return e.checkRegConstStr(r, regno)
	}
	return nil
}

// pktHelperAccess: program types whose helpers may read packet memory
// directly (the kernel's may_access_direct_pkt_data for reads).
func (e *env) pktHelperAccess() bool {
	switch e.typ.name {
	case "socket_filter", "raw":
		return false
	}
	return true
}

// constMapKey returns the constant key on the stack a pointer points to,
// if the verifier knows it (get_constant_map_key).
func (e *env) constMapKey(key *reg, keySize int) (int64, bool) {
	if !e.bpfCapable || key.typ != ptrToStack || !key.varOff.isConst() {
		return 0, false
	}
	f := e.stackFrame(key)
	stackOff := int(key.off) + int(key.varOff.value)
	slot := -stackOff - 1
	spi, off := slot/regSize, slot%regSize
	if spi >= len(f.stack) {
		return 0, false
	}
	s := &f.stack[spi]
	zero := 0
	for i := off; i >= 0 && s.types[i] == stackZero; i-- {
		zero++
	}
	if zero >= keySize {
		return 0, true
	}
	if !s.isSpilledScalar() {
		return 0, false
	}
	spill := 0
	for i := off; i >= 0 && s.types[i] == stackSpill; i-- {
		spill++
	}
	if spill != keySize || !s.spill.varOff.isConst() {
		return 0, false
	}
	return int64(s.spill.varOff.value), true
}

// checkHelperMemAccess checks that a helper may access size bytes at the
// pointer in regno (check_helper_mem_access).
func (e *env) checkHelperMemAccess(regno isa.Register, size int, write, zeroOK bool, meta *helperAccess) error {
	r := &e.regs()[regno]
	switch r.typ {
	case ptrToPacket, ptrToPacketMeta:
		return e.checkPacketAccess(regno, int(r.off), size, zeroOK)
	case ptrToMapKey:
		if write {
			return e.errorf("R%d cannot write into %s", regno, r.typeStr())
		}
		return e.checkMemRegionAccess(regno, int(r.off), size, int64(e.maps[r.mapIdx].KeySize), false)
	case ptrToMapValue:
		m := e.maps[r.mapIdx]
		if err := e.checkMapAccessType(m, int(r.off), size, write); err != nil {
			return err
		}
		return e.checkMemRegionAccess(regno, int(r.off), size, int64(m.ValueSize), zeroOK)
	case ptrToMem:
		if r.flags&flagRdonly != 0 && write {
			return e.errorf("R%d cannot write into %s", regno, r.typeStr())
		}
		return e.checkMemRegionAccess(regno, int(r.off), size, int64(r.memSize), zeroOK)
	case ptrToStack:
		return e.checkStackRangeInitialized(regno, int(r.off), size, zeroOK, write, meta)
	case ptrToRawMem:
		return nil
	}
	if zeroOK && size == 0 && r.isNull() {
		return nil
	}
	return e.errorf("R%d type=%s expected=%s", regno, r.typeStr(), regTypeStr(ptrToStack, 0))
}

func (e *env) checkMemSizeReg(r *reg, regno isa.Register, write, zeroOK bool, meta *callMeta) error {
	meta.msizeMax = r.umax
	access := &meta.access
	if !r.varOff.isConst() {
		access = nil
	}
	if r.smin < 0 {
		return e.errorf("R%d min value is negative, either use unsigned or 'var &= const'", regno)
	}
	if r.umin == 0 && !zeroOK {
		return e.errorf("R%d invalid zero-sized read: u64=[%d,%d]", regno, int64(r.umin), int64(r.umax))
	}
	if r.umax >= maxVarSize {
		return e.errorf("R%d unbounded memory access, use 'var &= const' or 'if (var < const)'", regno)
	}
	return e.checkHelperMemAccess(regno-1, int(r.umax), write, zeroOK, access)
}

// checkRegConstStr checks a format string argument: a NUL-terminated
// string in a frozen read-only map.
func (e *env) checkRegConstStr(r *reg, regno isa.Register) error {
	if r.typ != ptrToMapValue {
		return e.errorf("R%d type=%s expected=%s", regno, r.typeStr(), regTypeStr(ptrToMapValue, 0))
	}
	m := e.maps[r.mapIdx]
	if !(m.Frozen && m.Flags&mapRdonlyProg != 0) {
		return e.errorf("R%d does not point to a readonly map'", regno)
	}
	if !r.varOff.isConst() {
		return e.errorf("R%d is not a constant address'", regno)
	}
	if err := e.checkMemRegionAccess(regno, int(r.off), int(m.ValueSize)-int(r.off), int64(m.ValueSize), false); err != nil {
		return err
	}
	off := int(r.off) + int(r.varOff.value)
	if off > len(m.Value) || !strings.ContainsRune(string(m.Value[off:]), 0) {
		return e.errorf("string is not zero-terminated")
	}
	return nil
}

// checkMapFuncCompat checks that a map type and a helper go together
// (check_map_func_compatibility).
func (e *env) checkMapFuncCompat(mapIdx int32, id int32) error {
	if mapIdx < 0 {
		return nil
	}
	m := e.maps[mapIdx]
	t := m.Type
	bad := func() error {
		return e.errorf("cannot pass map_type %d into func %s#%d", uint32(t), e.helperName(id), id)
	}
	oneOf := func(ids ...int32) bool {
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	}
	switch t {
	case maps.ProgramArray:
		if id != idTailCall {
			return bad()
		}
	case maps.PerfEventArray:
		if !oneOf(22, 25, 111, 55, 121) {
			return bad()
		}
	case maps.RingBuf:
		if !oneOf(130, 131, 134, 198, 199, 200) {
			return bad()
		}
	case maps.StackTrace:
		if id != 27 {
			return bad()
		}
	case maps.CgroupArray:
		if !oneOf(33, 37) {
			return bad()
		}
	case maps.DevMap, maps.DevMapHash, maps.XSKMap:
		if !oneOf(51, 1) {
			return bad()
		}
	case maps.CPUMap:
		if id != 51 {
			return bad()
		}
	case maps.ArrayOfMaps, maps.HashOfMaps:
		if id != 1 {
			return bad()
		}
	case maps.Queue, maps.Stack:
		if !oneOf(87, 88, 89) {
			return bad()
		}
	case maps.BloomFilter:
		if !oneOf(87, 89) {
			return bad()
		}
	}
	want := func(types ...maps.MapType) error {
		for _, x := range types {
			if x == t {
				return nil
			}
		}
		return bad()
	}
	switch id {
	case idTailCall:
		return want(maps.ProgramArray)
	case 22, 25, 55, 111, 121:
		return want(maps.PerfEventArray)
	case 130, 131, 134:
		return want(maps.RingBuf)
	case 27:
		return want(maps.StackTrace)
	case 33, 37:
		return want(maps.CgroupArray)
	case 51:
		return want(maps.DevMap, maps.DevMapHash, maps.CPUMap, maps.XSKMap)
	case 88:
		return want(maps.Queue, maps.Stack)
	case 87, 89:
		return want(maps.Queue, maps.Stack, maps.BloomFilter)
	case 195:
		return want(maps.PerCPUArray, maps.PerCPUHash, maps.LRUPerCPUHash)
	}
	return nil
}

// pushCallback queues the exploration of a callback called by a helper,
// in a new frame above the current one (push_callback_call).
func (e *env) pushCallback(subprog int32, set func(caller, callee *funcState)) error {
	if subprog < 0 {
		return e.errorf("callback function is not a known subprogram")
	}
	e.subprogs[subprog].isCallback = true
	cb, err := e.pushStack(e.subprogs[subprog].start, e.insnIdx)
	if err != nil {
		return err
	}
	if err := e.setupFuncEntry(cb, int(subprog), e.insnIdx, set); err != nil {
		return err
	}
	cb.callbackUnrollDepth++
	cb.frames[cb.curframe-1].callbackDepth++
	e.cur.cur().callbackDepth = 0
	return nil
}

// setupFuncEntry adds a frame for subprog called from callsite.
func (e *env) setupFuncEntry(st *vstate, subprog, callsite int, set func(caller, callee *funcState)) error {
	if st.curframe+1 >= maxFrames {
		return e.errorf("the call stack of %d frames is too deep", st.curframe+2)
	}
	caller := st.frames[st.curframe]
	callee := &funcState{callsite: callsite, frameno: st.curframe + 1, subprog: subprog}
	e.initRegs(callee)
	set(caller, callee)
	st.frames[st.curframe+1] = callee
	st.curframe++
	return nil
}

func copyArgs(caller, callee *funcState) {
	for r := 1; r <= 5; r++ {
		callee.regs[r] = caller.regs[r]
	}
}

func (e *env) setLoopCallbackState(caller, callee *funcState) {
	callee.regs[1] = unknownScalar()
	callee.regs[2] = caller.regs[3]
	callee.inCallback = true
	callee.cbRetMin, callee.cbRetMax = 0, 1
}

func (e *env) setForEachCallbackState(caller, callee *funcState) {
	callee.regs[1] = caller.regs[1]
	mi := caller.regs[1].mapIdx
	callee.regs[2] = pointerReg(ptrToMapKey)
	callee.regs[2].mapIdx = mi
	callee.regs[3] = pointerReg(ptrToMapValue)
	callee.regs[3].mapIdx = mi
	callee.regs[4] = caller.regs[3]
	callee.inCallback = true
	callee.cbRetMin, callee.cbRetMax = 0, 1
}

// checkFuncCall enters a bpf-to-bpf call: the callee runs in a new frame
// with the caller's r1-r5 (check_func_call).
func (e *env) checkFuncCall(i int) error {
	target := e.callTarget(i)
	sp := e.findSubprog(target)
	if sp < 0 {
		return e.errorf("target of func call at insn %d is not a program", e.slot[i])
	}
	if err := e.setupFuncEntry(e.cur, sp, i, copyArgs); err != nil {
		return err
	}
	caller := e.cur.frames[e.cur.curframe-1]
	for r := 0; r <= 5; r++ {
		caller.regs[r].markNotInit()
	}
	e.insnIdx = e.subprogs[sp].start - 1
	if e.log.level >= 1 {
		e.log.printf("caller:\n%s\ncallee:\n%s\n", e.frameString(e.cur, e.cur.curframe-1), e.frameString(e.cur, e.cur.curframe))
	}
	e.log.scratchAll()
	return nil
}

// frameString prints one frame of a state.
func (e *env) frameString(st *vstate, fr int) string {
	save := st.curframe
	st.curframe = fr
	s := e.stateString(st, true)
	st.curframe = save
	return s
}

// processExit handles exit: the end of a path in the entry frame, or a
// return to the caller.
func (e *env) processExit() (bool, error) {
	st := e.cur
	if st.curframe == 0 && len(st.refs) > 0 {
		e.logRefLeaks()
		return false, e.errorf("BPF_EXIT instruction in main prog would lead to reference leak")
	}
	if st.curframe > 0 {
		return false, e.prepareFuncExit()
	}
	return true, e.checkReturnCode()
}

func (e *env) prepareFuncExit() error {
	st := e.cur
	callee := st.cur()
	r0 := &callee.regs[0]
	if r0.typ == ptrToStack {
		return e.errorf("cannot return stack pointer to the caller")
	}
	caller := st.frames[st.curframe-1]
	if callee.inCallback {
		if r0.typ != scalarValue {
			return e.errorf("R0 not a scalar value")
		}
		if r0.smin < callee.cbRetMin || r0.smax > callee.cbRetMax {
			return e.errorf("%s", invalidScalarMsg("At callback return", "R0", r0, callee.cbRetMin, callee.cbRetMax))
		}
		e.insnIdx = callee.callsite
	} else {
		caller.regs[0] = *r0
		e.insnIdx = callee.callsite + 1
	}
	if e.log.level >= 1 {
		e.log.printf("returning from callee:\n%s\nto caller at %d:\n%s\n",
			e.frameString(st, st.curframe), e.slotOf(e.insnIdx), e.frameString(st, st.curframe-1))
	}
	st.frames[st.curframe] = nil
	st.curframe--
	e.log.scratchAll()
	return nil
}

func invalidScalarMsg(ctx, name string, r *reg, lo, hi int64) string {
	s := fmt.Sprintf("%s the register %s has", ctx, name)
	unknown := true
	if r.smin > math.MinInt64 {
		s += fmt.Sprintf(" smin=%d", r.smin)
		unknown = false
	}
	if r.smax < math.MaxInt64 {
		s += fmt.Sprintf(" smax=%d", r.smax)
		unknown = false
	}
	if unknown {
		s += " unknown scalar value"
	}
	return s + fmt.Sprintf(" should have been in [%d, %d]", lo, hi)
}

// checkReturnCode checks r0 at the program's exit against the program
// type's rule.
func (e *env) checkReturnCode() error {
	if err := e.checkRegRead(isa.R0); err != nil {
		return err
	}
	r0 := &e.regs()[0]
	if e.isPointerValue(r0) {
		return e.errorf("R0 leaks addr as return value")
	}
	if !e.typ.retRange {
		return nil
	}
	if r0.typ != scalarValue {
		return e.errorf("At program exit the register R0 is not a known value (%s)", r0.typeStr())
	}
	if r0.smin < e.typ.retMin || r0.smax > e.typ.retMax {
		return e.errorf("%s", invalidScalarMsg("At program exit", "R0", r0, e.typ.retMin, e.typ.retMax))
	}
	return nil
}
