package verifier

import (
	"encoding/binary"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// Map flags the verifier looks at.
const (
	mapRdonlyProg = maps.FlagRdonlyProg
	mapWronlyProg = maps.FlagWronlyProg
)

func (e *env) checkLoad(ins isa.Instruction) error {
	if err := e.checkRegRead(ins.Src); err != nil {
		return err
	}
	if err := e.checkRegWrite(ins.Dst); err != nil {
		return err
	}
	src := e.regs()[ins.Src]
	ldsx := ins.Opcode.Mode() == isa.ModeMEMSX
	if err := e.checkMemAccess(ins.Src, int(ins.Offset), ins.AccessSize(), false, int(ins.Dst), false, ldsx); err != nil {
		return err
	}
	if err := e.saveAuxPtrType(&src); err != nil {
		return err
	}
	e.regs()[ins.Dst].sanitize()
	return nil
}

func (e *env) checkStoreReg(ins isa.Instruction) error {
	if err := e.checkRegRead(ins.Src); err != nil {
		return err
	}
	if err := e.checkRegRead(ins.Dst); err != nil {
		return err
	}
	dst := e.regs()[ins.Dst]
	if err := e.checkMemAccess(ins.Dst, int(ins.Offset), ins.AccessSize(), true, int(ins.Src), false, false); err != nil {
		return err
	}
	return e.saveAuxPtrType(&dst)
}

func (e *env) checkStoreImm(ins isa.Instruction) error {
	if err := e.checkRegRead(ins.Dst); err != nil {
		return err
	}
	dst := e.regs()[ins.Dst]
	if err := e.checkMemAccess(ins.Dst, int(ins.Offset), ins.AccessSize(), true, -1, false, false); err != nil {
		return err
	}
	return e.saveAuxPtrType(&dst)
}

// saveAuxPtrType refuses an instruction that accesses the context on one
// path and other memory on another: the kernel rewrites context accesses
// per instruction.
func (e *env) saveAuxPtrType(r *reg) error {
	aux := &e.aux[e.insnIdx]
	t := r.typ
	if !aux.ptrTypeSet {
		aux.ptrType, aux.ptrTypeSet = t, true
		return nil
	}
	if t != aux.ptrType && (t == ptrToCtx || aux.ptrType == ptrToCtx || t == ptrToSockCommon || aux.ptrType == ptrToSockCommon) {
		return e.errorf("same insn cannot be used with different pointers")
	}
	return nil
}

func (e *env) checkAtomic(ins isa.Instruction) error {
	switch ins.Imm {
	case isa.AtomicAdd, isa.AtomicAdd | isa.AtomicFetch, isa.AtomicAnd, isa.AtomicAnd | isa.AtomicFetch,
		isa.AtomicOr, isa.AtomicOr | isa.AtomicFetch, isa.AtomicXor, isa.AtomicXor | isa.AtomicFetch,
		isa.AtomicXchg, isa.AtomicCmpXchg:
	default:
		return e.errorf("BPF_ATOMIC uses invalid atomic opcode %02x", ins.Imm)
	}
	if ins.Opcode.Size() != isa.SizeW && ins.Opcode.Size() != isa.SizeDW {
		return e.errorf("invalid atomic operand size")
	}
	if err := e.checkRegRead(ins.Src); err != nil {
		return err
	}
	if err := e.checkRegRead(ins.Dst); err != nil {
		return err
	}
	regs := e.regs()
	if ins.Imm == isa.AtomicCmpXchg {
		if err := e.checkRegRead(isa.R0); err != nil {
			return err
		}
		if e.isPointerValue(&regs[0]) {
			return e.errorf("R%d leaks addr into mem", 0)
		}
	}
	if e.isPointerValue(&regs[ins.Src]) {
		return e.errorf("R%d leaks addr into mem", ins.Src)
	}
	switch regs[ins.Dst].typ {
	case ptrToCtx, ptrToPacket, ptrToPacketMeta, ptrToSockCommon:
		return e.errorf("BPF_ATOMIC stores into R%d %s is not allowed", ins.Dst, regs[ins.Dst].typeStr())
	}
	load := -1
	if ins.Imm&isa.AtomicFetch != 0 {
		load = int(ins.Src)
		if ins.Imm == isa.AtomicCmpXchg {
			load = 0
		}
		if err := e.checkRegWrite(isa.Register(load)); err != nil {
			return err
		}
	}
	size := ins.AccessSize()
	if err := e.checkMemAccess(ins.Dst, int(ins.Offset), size, false, -1, true, false); err != nil {
		return err
	}
	if load >= 0 {
		if err := e.checkMemAccess(ins.Dst, int(ins.Offset), size, false, load, true, false); err != nil {
			return err
		}
	}
	return e.checkMemAccess(ins.Dst, int(ins.Offset), size, true, -1, true, false)
}

// checkPtrAlignment: stack accesses must be naturally aligned (the spill
// tracking relies on it); other memory only for atomics.
func (e *env) checkPtrAlignment(r *reg, off, size int, strict bool) error {
	desc := ""
	switch r.typ {
	case ptrToPacket, ptrToPacketMeta:
		if !strict || size == 1 {
			return nil
		}
		ro := tnumAdd(r.varOff, tnumConst(uint64(int64(2+int(r.off)+off))))
		if !ro.isAligned(uint64(size)) {
			return e.errorf("misaligned packet access off %d+%s+%d+%d size %d", 2, r.varOff, r.off, off, size)
		}
		return nil
	case ptrToMapKey:
		desc = "key "
	case ptrToMapValue:
		desc = "value "
	case ptrToCtx:
		desc = "context "
	case ptrToStack:
		desc = "stack "
		strict = true
	}
	if !strict || size == 1 {
		return nil
	}
	ro := tnumAdd(r.varOff, tnumConst(uint64(int64(int(r.off)+off))))
	if !ro.isAligned(uint64(size)) {
		return e.errorf("misaligned %saccess off %s+%d+%d size %d", desc, r.varOff, r.off, off, size)
	}
	return nil
}

// checkMemAccess checks a load (write false) or store of size bytes at
// regno+off, and sets the loaded register valReg (-1: none), as the
// kernel's check_mem_access.
func (e *env) checkMemAccess(regno isa.Register, off, size int, write bool, valReg int, strictOnce, ldsx bool) error {
	regs := e.regs()
	r := &regs[regno]
	// The load may overwrite the base register (r0 = *(u64 *)(r0 + 0)).
	baseType := r.typ
	if err := e.checkPtrAlignment(r, off, size, strictOnce); err != nil {
		return err
	}
	off += int(r.off)
	leak := func(where string) error {
		if write && valReg >= 0 && e.isPointerValue(&regs[valReg]) {
			return e.errorf("R%d leaks addr into %s", valReg, where)
		}
		return nil
	}
	inBounds := true
	if r.maybeNull() {
		return e.errorf("R%d invalid mem access '%s'", regno, r.typeStr())
	}
	switch r.typ {
	case ptrToMapKey:
		if write {
			return e.errorf("write to change key R%d not allowed", regno)
		}
		if err := e.checkMemRegionAccess(regno, off, size, int64(e.maps[r.mapIdx].KeySize), false); err != nil {
			return err
		}
		if valReg >= 0 {
			regs[valReg].markUnknown()
		}
	case ptrToMapValue:
		if err := leak("map"); err != nil {
			return err
		}
		m := e.maps[r.mapIdx]
		if err := e.checkMapAccessType(m, off, size, write); err != nil {
			return err
		}
		if err := e.checkMemRegionAccess(regno, off, size, int64(m.ValueSize), false); err != nil {
			return err
		}
		if !write && valReg >= 0 {
			mapOff := off + int(r.varOff.value)
			if r.varOff.isConst() && m.Frozen && m.Flags&mapRdonlyProg != 0 && mapOff+size <= len(m.Value) {
				regs[valReg] = scalarConst(readValue(m.Value[mapOff:mapOff+size], ldsx))
			} else {
				regs[valReg].markUnknown()
			}
		}
	case ptrToMem:
		if write && r.flags&flagRdonly != 0 {
			return e.errorf("R%d cannot write into %s", regno, r.typeStr())
		}
		if err := leak("mem"); err != nil {
			return err
		}
		if err := e.checkMemRegionAccess(regno, off, size, int64(r.memSize), false); err != nil {
			return err
		}
		if valReg >= 0 && !write {
			regs[valReg].markUnknown()
		}
	case ptrToCtx:
		if err := leak("ctx"); err != nil {
			return err
		}
		if err := e.checkPtrOffReg(r, regno); err != nil {
			return err
		}
		f, err := e.checkCtxAccess(off, size, write, ldsx)
		if err != nil {
			return err
		}
		if !write && valReg >= 0 {
			e.setCtxLoad(&regs[valReg], f)
		}
	case ptrToStack:
		if err := e.checkStackAccessWithinBounds(regno, off, size, write); err != nil {
			return err
		}
		var err error
		if write {
			err = e.checkStackWrite(regno, off, size, valReg)
		} else {
			err = e.checkStackRead(regno, off, size, valReg)
		}
		if err != nil {
			return err
		}
	case ptrToPacket, ptrToPacketMeta:
		if write && !e.typ.pktWrite {
			return e.errorf("cannot write into packet")
		}
		if err := leak("packet"); err != nil {
			return err
		}
		if err := e.checkPacketAccess(regno, off, size, false); err != nil {
			return err
		}
		if !write && valReg >= 0 {
			regs[valReg].markUnknown()
		}
	case ptrToRawMem:
		// Its length is known at run time only: the engines check.
		if err := leak("mem"); err != nil {
			return err
		}
		inBounds = false
		if !write && valReg >= 0 {
			regs[valReg].markUnknown()
		}
	default:
		return e.errorf("R%d invalid mem access '%s'", regno, r.typeStr())
	}
	e.recordAccess(baseType, inBounds)
	if !write && valReg >= 0 && size < regSize && regs[valReg].typ == scalarValue {
		if ldsx {
			regs[valReg].coerceToSizeSx(size)
		} else {
			regs[valReg].coerceToSize(size)
		}
	}
	return nil
}

func readValue(b []byte, signed bool) uint64 {
	var v uint64
	switch len(b) {
	case 1:
		v = uint64(b[0])
	case 2:
		v = uint64(binary.LittleEndian.Uint16(b))
	case 4:
		v = uint64(binary.LittleEndian.Uint32(b))
	default:
		return binary.LittleEndian.Uint64(b)
	}
	if signed {
		return uint64(sext(v, len(b)))
	}
	return v
}

func (e *env) checkMapAccessType(m *Map, off, size int, write bool) error {
	if write && m.Flags&mapRdonlyProg != 0 {
		return e.errorf("write into map forbidden, value_size=%d off=%d size=%d", m.ValueSize, off, size)
	}
	if !write && m.Flags&mapWronlyProg != 0 {
		return e.errorf("read from map forbidden, value_size=%d off=%d size=%d", m.ValueSize, off, size)
	}
	return nil
}

// checkPtrOffReg accepts a pointer only at its original offset (context
// accesses are rewritten per field by the kernel).
func (e *env) checkPtrOffReg(r *reg, regno isa.Register) error {
	if r.off < 0 {
		return e.errorf("negative offset %s ptr R%d off=%d disallowed", r.typeStr(), regno, r.off)
	}
	if r.off != 0 {
		return e.errorf("dereference of modified %s ptr R%d off=%d disallowed", r.typeStr(), regno, r.off)
	}
	if !r.varOff.isConst() || r.varOff.value != 0 {
		return e.errorf("variable %s access var_off=%s disallowed", r.typeStr(), r.varOff)
	}
	return nil
}

func (e *env) checkCtxAccess(off, size int, write, ldsx bool) (*progtype.Field, error) {
	if e.typ.check == nil {
		return nil, e.errorf("invalid bpf_context access off=%d size=%d", off, size)
	}
	f, err := e.typ.check(off, size, write)
	if err != nil || f == nil || (ldsx && f.Kind.IsPointer() && f.Kind != progtype.FieldNull) {
		return nil, e.errorf("invalid bpf_context access off=%d size=%d", off, size)
	}
	return f, nil
}

// setCtxLoad types the register a context load fills.
func (e *env) setCtxLoad(r *reg, f *progtype.Field) {
	switch f.Kind {
	case progtype.FieldPacketData:
		*r = pointerReg(ptrToPacket)
	case progtype.FieldPacketEnd:
		*r = pointerReg(ptrToPacketEnd)
	case progtype.FieldPacketMeta:
		*r = pointerReg(ptrToPacketMeta)
	case progtype.FieldNull:
		// A kernel object user space never has: ebpfvm's contexts hold
		// NULL there.
		*r = scalarConst(0)
	default:
		r.markUnknown()
	}
}

// memRegionOK is check_mem_region_access without its messages.
func (e *env) memRegionOK(r *reg, off, size, memSize int64, zeroOK bool) bool {
	if r.smin < 0 && (r.smin == minInt64 || off+r.smin != int64(int32(off+r.smin)) || r.smin+off < 0) {
		return false
	}
	if !memOK(r.smin+off, size, memSize, zeroOK) {
		return false
	}
	if r.umax >= maxVarOff {
		return false
	}
	return memOK(int64(r.umax)+off, size, memSize, zeroOK)
}

func memOK(off, size, memSize int64, zeroOK bool) bool {
	sizeOK := size > 0 || (size == 0 && zeroOK)
	return off >= 0 && sizeOK && off+size <= memSize
}

// memAccessErr is the kernel's __check_mem_access message.
func (e *env) memAccessErr(regno isa.Register, r *reg, off, size, memSize int64) error {
	switch r.typ {
	case ptrToMapKey:
		return e.errorf("invalid access to map key, key_size=%d off=%d size=%d", memSize, off, size)
	case ptrToMapValue:
		return e.errorf("invalid access to map value, value_size=%d off=%d size=%d", memSize, off, size)
	case ptrToPacket, ptrToPacketMeta, ptrToPacketEnd:
		return e.errorf("invalid access to packet, off=%d size=%d, R%d(id=%d,off=%d,r=%d)", off, size, regno, r.id, off, memSize)
	}
	return e.errorf("invalid access to memory, mem_size=%d off=%d size=%d", uint32(memSize), off, size)
}

// checkMemRegionAccess checks an access to a region of memSize bytes with
// the register's possible variable offset (check_mem_region_access).
func (e *env) checkMemRegionAccess(regno isa.Register, off, size int, memSize int64, zeroOK bool) error {
	r := &e.regs()[regno]
	o := int64(off)
	if r.smin < 0 && (r.smin == minInt64 || o+r.smin != int64(int32(o+r.smin)) || r.smin+o < 0) {
		return e.errorf("R%d min value is negative, either use unsigned index or do a if (index >=0) check.", regno)
	}
	if !memOK(r.smin+o, int64(size), memSize, zeroOK) {
		err := e.memAccessErr(regno, r, r.smin+o, int64(size), memSize)
		e.log.printf("R%d min value is outside of the allowed memory range\n", regno)
		return err
	}
	if r.umax >= maxVarOff {
		return e.errorf("R%d unbounded memory access, make sure to bounds check any such access", regno)
	}
	if !memOK(int64(r.umax)+o, int64(size), memSize, zeroOK) {
		err := e.memAccessErr(regno, r, int64(r.umax)+o, int64(size), memSize)
		e.log.printf("R%d max value is outside of the allowed memory range\n", regno)
		return err
	}
	return nil
}

func (e *env) checkPacketAccess(regno isa.Register, off, size int, zeroOK bool) error {
	r := &e.regs()[regno]
	if r.smin < 0 {
		return e.errorf("R%d min value is negative, either use unsigned index or do a if (index >=0) check.", regno)
	}
	if r.rng < 0 || !memOK(int64(off), int64(size), int64(r.rng), zeroOK) {
		var err error
		if r.rng >= 0 {
			err = e.memAccessErr(regno, r, int64(off), int64(size), int64(r.rng))
			e.log.printf("R%d offset is outside of the packet\n", regno)
		} else {
			err = e.errorf("R%d offset is outside of the packet", regno)
		}
		return err
	}
	return nil
}

// stackFrame is the frame a stack pointer points into.
func (e *env) stackFrame(r *reg) *funcState { return e.cur.frames[r.frameno] }

func (e *env) growStack(f *funcState, size int) {
	f.growStack(size)
	d := (size + regSize - 1) &^ (regSize - 1)
	if sp := &e.subprogs[f.subprog]; sp.stackDepth < d {
		sp.stackDepth = d
	}
}

// checkStackAccessWithinBounds (the kernel's function of the same name).
func (e *env) checkStackAccessWithinBounds(regno isa.Register, off, size int, write bool) error {
	r := &e.regs()[regno]
	f := e.stackFrame(r)
	extra := " read from"
	if write {
		extra = " write to"
	}
	var minOff, maxOff int64
	if r.varOff.isConst() {
		minOff = int64(r.varOff.value) + int64(off)
		maxOff = minOff + int64(size)
	} else {
		if r.smax >= maxVarOff || r.smin <= -maxVarOff {
			return e.errorf("invalid unbounded variable-offset%s stack R%d", extra, regno)
		}
		minOff = r.smin + int64(off)
		maxOff = r.smax + int64(off) + int64(size)
	}
	minValid := int64(-maxStack)
	if !write && !e.allowUninitStack {
		minValid = -int64(len(f.stack) * regSize)
	}
	if minOff < minValid || minOff > -1 || maxOff > 0 || size < 0 {
		if r.varOff.isConst() {
			return e.errorf("invalid%s stack R%d off=%d size=%d", extra, regno, off, size)
		}
		return e.errorf("invalid variable-offset%s stack R%d var_off=%s off=%d size=%d", extra, regno, r.varOff, off, size)
	}
	e.growStack(f, int(-minOff))
	return nil
}

func (e *env) checkStackRead(regno isa.Register, off, size, dst int) error {
	r := &e.regs()[regno]
	if !r.varOff.isConst() {
		if dst < 0 {
			return e.errorf("variable offset stack pointer cannot be passed into helper function; var_off=%s off=%d size=%d", r.varOff, off, size)
		}
		if err := e.checkStackRangeInitialized(regno, off, size, false, false, nil); err != nil {
			return err
		}
		minOff := r.smin + int64(off)
		maxOff := r.smax + int64(off)
		e.markRegStackRead(e.stackFrame(r), minOff, maxOff+int64(size), dst)
		return nil
	}
	return e.checkStackReadFixed(e.stackFrame(r), off+int(r.varOff.value), size, dst)
}

func slotOf(off int) (spi, j int) {
	slot := -off - 1
	return slot / regSize, slot % regSize
}

func (e *env) checkStackReadFixed(f *funcState, off, size, dst int) error {
	slot := -off - 1
	spi := slot / regSize
	s := &f.stack[spi]
	e.log.scratchSlot(spi)
	regs := e.regs()
	if s.isSpilled() {
		spillSize := 1
		for i := regSize - 1; i > 0 && s.types[i-1] == stackSpill; i-- {
			spillSize++
		}
		if size != regSize || spillSize != regSize {
			if s.spill.typ != scalarValue {
				return e.errorf("invalid size of register fill")
			}
			if dst < 0 {
				return nil
			}
			if size <= spillSize && off%regSize == 0 {
				regs[dst] = s.spill
				if s.spill.width() > size*8 {
					regs[dst].id = 0
				}
				return nil
			}
			spillCnt, zeroCnt := 0, 0
			for i := 0; i < size; i++ {
				switch s.types[(slot-i)%regSize] {
				case stackSpill:
					spillCnt++
				case stackMisc:
				case stackZero:
					zeroCnt++
				case stackInvalid:
					if !e.allowUninitStack {
						return e.errorf("invalid read from stack off %d+%d size %d", off, i, size)
					}
				}
			}
			switch {
			case spillCnt == size && s.spill.varOff.equalsConst(0):
				regs[dst] = scalarConst(0)
			case zeroCnt == size:
				regs[dst] = scalarConst(0)
			default:
				regs[dst].markUnknown()
			}
			return nil
		}
		if dst >= 0 {
			regs[dst] = s.spill
		} else if e.isPointerValue(&s.spill) {
			return e.errorf("leaking pointer from stack off %d", off)
		}
		return nil
	}
	for i := 0; i < size; i++ {
		t := s.types[(slot-i)%regSize]
		if t == stackMisc || t == stackZero || (t == stackInvalid && e.allowUninitStack) {
			continue
		}
		return e.errorf("invalid read from stack off %d+%d size %d", off, i, size)
	}
	if dst >= 0 {
		e.markRegStackRead(f, int64(off), int64(off+size), dst)
	}
	return nil
}

// markRegStackRead types a register loaded from stack bytes [min, max):
// zero if they are all known zero, unknown otherwise.
func (e *env) markRegStackRead(f *funcState, min, max int64, dst int) {
	regs := e.regs()
	zeros := int64(0)
	for i := min; i < max; i++ {
		spi, j := slotOf(int(i))
		e.log.scratchSlot(spi)
		if f.stack[spi].types[j] != stackZero {
			break
		}
		zeros++
	}
	if zeros == max-min {
		regs[dst] = scalarConst(0)
	} else {
		regs[dst].markUnknown()
	}
}

func isSpillable(t regType) bool { return t != scalarValue && t != notInit }

func (e *env) checkStackWrite(regno isa.Register, off, size, valReg int) error {
	r := &e.regs()[regno]
	if r.varOff.isConst() {
		return e.checkStackWriteFixed(e.stackFrame(r), off+int(r.varOff.value), size, valReg)
	}
	return e.checkStackWriteVar(e.stackFrame(r), regno, off, size, valReg)
}

func (e *env) saveRegState(f *funcState, spi int, r *reg, size int) {
	s := &f.stack[spi]
	s.spill = *r
	i := regSize
	for ; i > regSize-size; i-- {
		s.types[i-1] = stackSpill
	}
	for ; i > 0; i-- {
		if t := s.types[i-1]; t != stackZero && t != stackInvalid {
			s.types[i-1] = stackMisc
		}
	}
}

func (e *env) checkStackWriteFixed(f *funcState, off, size, valReg int) error {
	slot := -off - 1
	spi := slot / regSize
	s := &f.stack[spi]
	if !e.allowPtrLeaks && s.isSpilled() && !s.isSpilledScalar() && size != regSize {
		return e.errorf("attempt to corrupt spilled pointer on stack")
	}
	cur := e.cur.cur()
	var v *reg
	if valReg >= 0 {
		v = &cur.regs[valReg]
	}
	ins := e.insns[e.insnIdx]
	isST := ins.Opcode.Class() == isa.ClassST
	e.log.scratchSlot(spi)
	switch {
	case v != nil && off%regSize == 0 && v.typ == scalarValue && e.bpfCapable:
		fits := v.width() <= 8*size
		if fits {
			e.assignScalarID(v)
		}
		e.saveRegState(f, spi, v, size)
		if !fits {
			s.spill.id = 0
		}
	case v == nil && off%regSize == 0 && isST && e.bpfCapable:
		tmp := scalarConst(uint64(ins.Imm))
		e.saveRegState(f, spi, &tmp, size)
	case v != nil && isSpillable(v.typ):
		if size != regSize {
			return e.errorf("invalid size of register spill")
		}
		if f != cur && v.typ == ptrToStack {
			return e.errorf("cannot spill pointers to stack into stack frame of the caller")
		}
		e.saveRegState(f, spi, v, size)
	default:
		t := stackMisc
		s.spill.markNotInit()
		if s.isSpilled() {
			for k := range s.types {
				if s.types[k] != stackInvalid {
					s.types[k] = stackMisc
				}
			}
		}
		if (v != nil && v.isNull()) || (v == nil && isST && ins.Imm == 0) {
			t = stackZero
		}
		for i := 0; i < size; i++ {
			s.types[(slot-i)%regSize] = t
		}
	}
	return nil
}

func (e *env) checkStackWriteVar(f *funcState, regno isa.Register, off, size, valReg int) error {
	cur := e.cur.cur()
	ptr := &cur.regs[regno]
	minOff := int(ptr.smin) + off
	maxOff := int(ptr.smax) + off + size
	ins := e.insns[e.insnIdx]
	writingZero := (valReg >= 0 && cur.regs[valReg].isNull()) ||
		(valReg < 0 && ins.Opcode.Class() == isa.ClassST && ins.Imm == 0)
	for i := minOff; i < maxOff; i++ {
		spi, j := slotOf(i)
		s := &f.stack[spi]
		t := &s.types[j]
		e.log.scratchSlot(spi)
		if !e.allowPtrLeaks && *t != stackMisc && *t != stackZero {
			return e.errorf("spilled ptr in range of var-offset stack write; insn %d, ptr off: %d", e.slot[e.insnIdx], i)
		}
		if writingZero && *t == stackSpill && s.isSpilledScalar() && s.spill.varOff.equalsConst(0) {
			continue
		}
		s.spill.markNotInit()
		nt := stackMisc
		if writingZero && *t == stackZero {
			nt = stackZero
		}
		if *t == stackInvalid && !e.allowUninitStack {
			return e.errorf("uninit stack in range of var-offset write prohibited for !root; insn %d, off: %d", e.slot[e.insnIdx], i)
		}
		*t = nt
	}
	return nil
}

// helperAccess describes a helper's access to a memory argument.
type helperAccess struct {
	rawMode    bool // the helper fills uninitialised memory
	accessSize int
	regno      isa.Register
	set        bool
}

// checkStackRangeInitialized checks that a helper (or a variable-offset
// load) reads only initialised stack (check_stack_range_initialized).
func (e *env) checkStackRangeInitialized(regno isa.Register, off, size int, zeroOK, write bool, meta *helperAccess) error {
	r := &e.regs()[regno]
	f := e.stackFrame(r)
	if size == 0 && !zeroOK {
		return e.errorf("invalid zero-sized read")
	}
	if err := e.checkStackAccessWithinBounds(regno, off, size, write); err != nil {
		return err
	}
	var minOff, maxOff int64
	if r.varOff.isConst() {
		minOff = int64(r.varOff.value) + int64(off)
		maxOff = minOff
	} else {
		if !e.bypassSpecV1 {
			return e.errorf("R%d variable offset stack access prohibited for !root, var_off=%s", regno, r.varOff)
		}
		if meta != nil && meta.rawMode {
			meta = nil
		}
		minOff = r.smin + int64(off)
		maxOff = r.smax + int64(off)
	}
	if meta != nil && meta.rawMode {
		meta.accessSize = size
		meta.regno = regno
		meta.set = true
		return nil
	}
	for i := minOff; i < maxOff+int64(size); i++ {
		spi, j := slotOf(int(i))
		s := &f.stack[spi]
		t := &s.types[j]
		switch {
		case *t == stackMisc:
		case *t == stackZero || (*t == stackInvalid && e.allowUninitStack):
			if write {
				*t = stackMisc
			}
		case s.isSpilled() && (s.spill.typ == scalarValue || e.allowPtrLeaks):
			if write {
				s.spill.markUnknown()
				for k := range s.types {
					if s.types[k] != stackInvalid {
						s.types[k] = stackMisc
					}
				}
			}
		default:
			if r.varOff.isConst() {
				return e.errorf("invalid read from stack R%d off %d+%d size %d", regno, minOff, i-minOff, size)
			}
			return e.errorf("invalid read from stack R%d var_off %s+%d size %d", regno, r.varOff, i-minOff, size)
		}
		e.log.scratchSlot(spi)
	}
	return nil
}

func (e *env) checkLdImm(ins isa.Instruction) error {
	if err := e.checkRegWrite(ins.Dst); err != nil {
		return err
	}
	dst := &e.regs()[ins.Dst]
	i := e.insnIdx
	switch ins.Src {
	case isa.PseudoNone:
		*dst = scalarConst(uint64(ins.Imm))
	case isa.PseudoFunc:
		*dst = pointerReg(ptrToFunc)
		dst.subprog = int32(e.findSubprog(e.callTarget(i)))
	case isa.PseudoMapValue, isa.PseudoMapIdxValue:
		*dst = pointerReg(ptrToMapValue)
		dst.mapIdx = e.insnMap[i]
		dst.off = e.mapOff[i]
	default:
		*dst = pointerReg(constPtrToMap)
		dst.mapIdx = e.insnMap[i]
	}
	return nil
}

// checkLdAbs checks the legacy packet loads, which read from the socket
// buffer in r6 and clobber r1-r5 like a helper call.
func (e *env) checkLdAbs(ins isa.Instruction) error {
	if !e.typ.ldAbs {
		return e.errorf("BPF_LD_[ABS|IND] instructions not allowed for this program type")
	}
	if ins.Dst != 0 || ins.Offset != 0 || ins.Opcode.Size() == isa.SizeDW || (ins.Opcode.Mode() == isa.ModeABS && ins.Src != 0) {
		return e.errorf("BPF_LD_[ABS|IND] uses reserved fields")
	}
	if err := e.checkRegRead(isa.R6); err != nil {
		return err
	}
	if len(e.cur.refs) > 0 {
		e.logRefLeaks()
		return e.errorf("BPF_LD_[ABS|IND] would lead to reference leak")
	}
	regs := e.regs()
	if regs[6].typ != ptrToCtx {
		return e.errorf("at the time of BPF_LD_ABS|IND R6 != pointer to skb")
	}
	if ins.Opcode.Mode() == isa.ModeIND {
		if err := e.checkRegRead(ins.Src); err != nil {
			return err
		}
	}
	if err := e.checkPtrOffReg(&regs[6], 6); err != nil {
		return err
	}
	for r := 0; r <= 5; r++ {
		regs[r].markNotInit()
		e.log.scratchReg(r)
	}
	regs[0].markUnknown()
	return nil
}
