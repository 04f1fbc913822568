package verifier

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ebpfvm/ebpfvm/isa"
)

// logger accumulates the verifier log in the kernel's format.
type logger struct {
	level int
	buf   []byte
	// prevPos is the log length right after the last instruction line and
	// prevInsnLen that line's length, so that the state changes of an
	// instruction can be appended to its line, aligned, as the kernel does.
	prevPos     int
	prevInsnLen int
	// scratchRegs and scratchStack mark the registers and stack slots of
	// the current frame touched since the last state print.
	scratchRegs  uint16
	scratchStack uint64
}

func (l *logger) printf(format string, args ...any) {
	if l.level == 0 {
		return
	}
	l.buf = fmt.Appendf(l.buf, format, args...)
}

func (l *logger) String() string { return string(l.buf) }

func (l *logger) reset(pos int) {
	if pos < len(l.buf) {
		l.buf = l.buf[:pos]
	}
}

// insnText is an instruction as the kernel's log prints it.
func (e *env) insnText(ins isa.Instruction) string {
	return ins.KernelString(&isa.KernelOptions{
		HelperName: func(id int32) string { return e.reg.Name(id) },
		Imm64: func(ins isa.Instruction) string {
			switch ins.Src {
			case isa.PseudoMapFD, isa.PseudoMapIdx:
				return fmt.Sprintf("map[id:%d]", uint32(ins.Imm))
			case isa.PseudoMapValue, isa.PseudoMapIdxValue:
				return fmt.Sprintf("map[id:%d][0]+%d", uint32(ins.Imm), uint32(uint64(ins.Imm)>>32))
			case isa.PseudoFunc:
				return fmt.Sprintf("%+d", int32(ins.Imm))
			}
			return ""
		},
	})
}

// regTypeStr is the kernel's reg_type_str.
func regTypeStr(t regType, flags uint8) string {
	var b strings.Builder
	if flags&flagRdonly != 0 {
		b.WriteString("rdonly_")
	}
	if flags&flagRingbuf != 0 {
		b.WriteString("ringbuf_")
	}
	b.WriteString(regTypeNames[t])
	if flags&flagMaybeNull != 0 {
		b.WriteString("_or_null")
	}
	return b.String()
}

var regTypeNames = [...]string{
	notInit:         "?",
	scalarValue:     "scalar",
	ptrToCtx:        "ctx",
	constPtrToMap:   "map_ptr",
	ptrToMapValue:   "map_value",
	ptrToMapKey:     "map_key",
	ptrToStack:      "fp",
	ptrToPacketMeta: "pkt_meta",
	ptrToPacket:     "pkt",
	ptrToPacketEnd:  "pkt_end",
	ptrToMem:        "mem",
	ptrToFunc:       "func",
	ptrToSockCommon: "sock_common",
	ptrToRawMem:     "raw_mem",
}

func (r *reg) typeStr() string { return regTypeStr(r.typ, r.flags) }

// scalarRanges appends the bounds that say something, merging equal ones
// ("smin=smin32=0"), as the kernel's print_scalar_ranges.
func scalarRanges(b *strings.Builder, r *reg, sep *string) {
	type mm struct {
		name   string
		val    uint64
		signed bool
		omit   bool
	}
	s32 := func(v int32) uint64 {
		if v >= -32768 && v <= 32767 {
			return uint64(int64(v))
		}
		return uint64(uint32(v))
	}
	m := []mm{
		{"smin", uint64(r.smin), true, r.smin == math.MinInt64},
		{"smax", uint64(r.smax), true, r.smax == math.MaxInt64},
		{"umin", r.umin, false, r.umin == 0},
		{"umax", r.umax, false, r.umax == math.MaxUint64},
		{"smin32", s32(r.s32min), true, r.s32min == math.MinInt32},
		{"smax32", s32(r.s32max), true, r.s32max == math.MaxInt32},
		{"umin32", uint64(r.u32min), false, r.u32min == 0},
		{"umax32", uint64(r.u32max), false, r.u32max == math.MaxUint32},
	}
	for i := range m {
		if m[i].omit {
			continue
		}
		neg1 := m[i].signed && int64(m[i].val) < 0
		fmt.Fprintf(b, "%s%s=", *sep, m[i].name)
		*sep = ","
		for j := i + 2; j < len(m); j += 2 {
			if m[j].omit || m[j].val != m[i].val {
				continue
			}
			if neg2 := m[j].signed && int64(m[j].val) < 0; neg2 != neg1 {
				continue
			}
			m[j].omit = true
			fmt.Fprintf(b, "%s=", m[j].name)
		}
		if m[i].signed {
			b.WriteString(fmtSnum(int64(m[i].val)))
		} else {
			b.WriteString(fmtUnum(m[i].val))
		}
	}
}

// regString is the kernel's print_reg_state.
func (e *env) regString(frameno int, r *reg) string {
	if r.typ == scalarValue && r.varOff.isConst() {
		return fmtSnum(int64(r.varOff.value))
	}
	var b strings.Builder
	b.WriteString(r.typeStr())
	if r.typ == ptrToStack {
		if int(r.frameno) != frameno {
			fmt.Fprintf(&b, "[%d]", r.frameno)
		}
		if r.varOff.isConst() {
			b.WriteString(fmtSnum(int64(r.varOff.value) + int64(r.off)))
			return b.String()
		}
	}
	b.WriteByte('(')
	sep := ""
	add := func(format string, args ...any) {
		b.WriteString(sep)
		fmt.Fprintf(&b, format, args...)
		sep = ","
	}
	if r.id != 0 {
		add("id=%d", r.id&^idAddConst)
	}
	if r.id&idAddConst != 0 {
		fmt.Fprintf(&b, "%+d", r.off)
	}
	if r.refObj != 0 {
		add("ref_obj_id=%d", r.refObj)
	}
	if (r.typ == constPtrToMap || r.typ == ptrToMapKey || r.typ == ptrToMapValue) && r.mapIdx >= 0 {
		m := e.maps[r.mapIdx]
		if m.Name != "" {
			add("map=%s", m.Name)
		}
		add("ks=%d,vs=%d", m.KeySize, m.ValueSize)
	}
	if r.typ != scalarValue && r.off != 0 {
		add("off=%s", fmtSnum(int64(r.off)))
	}
	if r.isPkt() {
		add("r=%s", fmtUnum(uint64(uint32(r.rng))))
	}
	if r.typ == ptrToMem {
		add("sz=%s", fmtUnum(uint64(r.memSize)))
	}
	if r.varOff.isConst() {
		if r.varOff.value != 0 {
			add("imm=%s", fmtSnum(int64(r.varOff.value)))
		}
	} else {
		scalarRanges(&b, r, &sep)
		if !r.varOff.isUnknown() {
			add("var_off=%s", r.varOff)
		}
	}
	b.WriteByte(')')
	return b.String()
}

var slotChars = [...]byte{stackInvalid: '?', stackSpill: 'r', stackMisc: 'm', stackZero: '0'}

// stateString is the kernel's print_verifier_state for the current frame:
// all registers and slots, or only those touched since the last print.
func (e *env) stateString(st *vstate, all bool) string {
	f := st.cur()
	var b strings.Builder
	if f.frameno != 0 {
		fmt.Fprintf(&b, " frame%d:", f.frameno)
	}
	for i := range f.regs {
		r := &f.regs[i]
		if r.typ == notInit || (!all && e.log.scratchRegs&(1<<i) == 0) {
			continue
		}
		fmt.Fprintf(&b, " R%d=%s", i, e.regString(f.frameno, r))
	}
	for i := range f.stack {
		if !all && (i >= 64 || e.log.scratchStack&(1<<i) == 0) {
			continue
		}
		s := &f.stack[i]
		var types [regSize]byte
		valid := false
		for j, t := range s.types {
			if t != stackInvalid {
				valid = true
			}
			types[j] = slotChars[t]
		}
		if !valid {
			continue
		}
		if s.isSpilled() {
			j := 0
			for j < regSize && s.types[j] != stackSpill {
				j++
			}
			fmt.Fprintf(&b, " fp%d=%s%s", (-i-1)*regSize, types[:j], e.regString(f.frameno, &s.spill))
			continue
		}
		fmt.Fprintf(&b, " fp%d=%s", (-i-1)*regSize, types[:])
	}
	if len(st.refs) > 0 {
		fmt.Fprintf(&b, " refs=%d", st.refs[0].id)
		for _, r := range st.refs[1:] {
			fmt.Fprintf(&b, ",%d", r.id)
		}
	}
	if f.inCallback {
		b.WriteString(" cb")
	}
	if !all {
		e.log.scratchRegs, e.log.scratchStack = 0, 0
	}
	return b.String()
}

// logInsnState prints the registers an instruction changed, appended to
// its line when nothing else was logged since (print_insn_state).
func (e *env) logInsnState(st *vstate) {
	l := &e.log
	if l.level == 0 {
		return
	}
	if l.prevPos != 0 && l.prevPos == len(l.buf) {
		l.reset(l.prevPos - 1)
		pos := l.prevInsnLen
		w := (max(pos+4, 40)+7)&^7 - pos - 1
		l.buf = append(l.buf, strings.Repeat(" ", w)...)
		l.buf = append(l.buf, ';')
	} else {
		l.printf("%d:", e.slot[e.insnIdx])
	}
	l.printf("%s\n", e.stateString(st, false))
}

func (e *env) logInsn(i int) {
	l := &e.log
	if l.level == 0 {
		return
	}
	if l.scratchRegs != 0 || l.scratchStack != 0 {
		e.logInsnState(e.cur)
	}
	start := len(l.buf)
	l.printf("%d: %s\n", e.slot[i], e.insnText(e.insns[i]))
	l.prevInsnLen = len(l.buf) - start
	l.prevPos = len(l.buf)
}

func (l *logger) scratchReg(r int) { l.scratchRegs |= 1 << r }
func (l *logger) scratchSlot(spi int) {
	if spi >= 0 && spi < 64 {
		l.scratchStack |= 1 << spi
	}
}
func (l *logger) scratchAll() { l.scratchRegs, l.scratchStack = 0xffff, ^uint64(0) }

// finishLog appends the statistics lines the kernel prints last.
func (e *env) finishLog(d time.Duration) {
	if e.log.level == 0 {
		return
	}
	if e.opts.Stats {
		e.log.printf("verification time %d usec\n", d.Microseconds())
		e.log.printf("stack depth ")
		for i, sp := range e.subprogs {
			if i > 0 {
				e.log.printf("+")
			}
			e.log.printf("%d", sp.stackDepth)
		}
		e.log.printf("\n")
	}
	e.log.printf("processed %d insns (limit %d) max_states_per_insn %d total_states %d peak_states %d mark_read 0\n",
		e.processed, e.maxProcessed, e.maxPerInsn, e.totalStates, e.peakStates)
}
