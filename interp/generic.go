package interp

import (
	"fmt"

	"github.com/ebpfvm/ebpfvm/vm"
)

// generic executes any instruction of the ALU, ALU64, JMP, JMP32 (but
// call, exit, gotol and may_goto), LDX, ST and STX (but atomics) classes and
// lddw, decoded by class: what the hot loop's switch has no case for
// (sdiv, movsx, ...), and, in TestConformance, everything. s.pc is the
// instruction's slot; generic leaves there the next one.
func (s *state) generic(ins *insn) error {
	regs := &s.regs
	op := ins.op
	next := s.pc + 1
	// By class, then by switches of at most seven cases, which Go compiles
	// into compare trees.
	if cls := op & 7; cls == alu64 {
		v := uint64(ins.imm)
		if op&x != 0 {
			v = regs[ins.src&15]
		}
		d := &regs[ins.dst&15]
		if a := op & 0xf0; a < opRsh {
			switch a {
			case opAdd:
				*d += v
			case opSub:
				*d -= v
			case opMul:
				*d *= v
			case opDiv:
				*d = div64(*d, v, ins.off)
			case opOr:
				*d |= v
			case opAnd:
				*d &= v
			default: // opLsh
				*d <<= v & 63
			}
		} else {
			switch a {
			case opRsh:
				*d >>= v & 63
			case opNeg:
				*d = -*d
			case opMod:
				*d = mod64(*d, v, ins.off)
			case opXor:
				*d ^= v
			case opMov:
				if ins.off != 0 {
					switch ins.off {
					case 8:
						v = uint64(int64(int8(v)))
					case 16:
						v = uint64(int64(int16(v)))
					case 32:
						v = uint64(int64(int32(v)))
					default: // addr_space_cast
						return s.fault(vm.FaultInvalidInsn, "addr_space_cast needs an arena map, which ebpfvm does not support")
					}
				}
				*d = v
			case opArsh:
				*d = uint64(int64(*d) >> (v & 63))
			case opEnd:
				*d = bswap(*d, ins.imm)
			default:
				return s.invalid(ins)
			}
		}
	} else if cls == jmp {
		a := op & 0xf0
		v := uint64(ins.imm)
		if op&x != 0 {
			v = regs[ins.src&15]
		}
		d := regs[ins.dst&15]
		var taken bool
		if a < opJSet {
			switch a {
			case opJA:
				taken = true
			case opJEq:
				taken = d == v
			case opJGT:
				taken = d > v
			default: // opJGE
				taken = d >= v
			}
		} else if a < opCall {
			switch a {
			case opJSet:
				taken = d&v != 0
			case opJNE:
				taken = d != v
			case opJSGT:
				taken = int64(d) > int64(v)
			default: // opJSGE
				taken = int64(d) >= int64(v)
			}
		} else if a >= opJLT && a <= opJSLE {
			switch a {
			case opJLT:
				taken = d < v
			case opJLE:
				taken = d <= v
			case opJSLT:
				taken = int64(d) < int64(v)
			default: // opJSLE
				taken = int64(d) <= int64(v)
			}
		} else {
			return s.invalid(ins) // call, exit and may_goto are s.slow's
		}
		if taken {
			return s.jump(ins, int(ins.off))
		}
	} else if cls == ldx {
		size := accessSize(op)
		p := translate(s.regions, regs[ins.src&15]+uint64(int64(ins.off)), size)
		if p == nil {
			return s.contextStep(ins, next) // a context access, or a fault
		}
		d := &regs[ins.dst&15]
		switch op {
		case ldx | mem | szB:
			*d = load8(p)
		case ldx | mem | szH:
			*d = load16(p)
		case ldx | mem | szW:
			*d = load32(p)
		case ldx | mem | szDW:
			*d = load64(p)
		case ldx | memsx | szB:
			*d = uint64(int64(int8(load8(p))))
		case ldx | memsx | szH:
			*d = uint64(int64(int16(load16(p))))
		case ldx | memsx | szW:
			*d = uint64(int64(int32(load32(p))))
		}
	} else if cls == stx || cls == st {
		if op&0xe0 != mem {
			return s.invalid(ins) // atomics are s.slow's
		}
		size := accessSize(op)
		p := translateW(s.regions, regs[ins.dst&15]+uint64(int64(ins.off)), size)
		if p == nil {
			return s.contextStep(ins, next) // a context access, or a fault
		}
		v := uint64(ins.imm)
		if cls == stx {
			v = regs[ins.src&15]
		}
		switch size {
		case 1:
			store8(p, v)
		case 2:
			store16(p, v)
		case 4:
			store32(p, v)
		default:
			store64(p, v)
		}
	} else if cls == alu {
		v := uint32(ins.imm)
		if op&x != 0 {
			v = uint32(regs[ins.src&15])
		}
		d := &regs[ins.dst&15]
		w := uint32(*d)
		if a := op & 0xf0; a <= opAnd {
			switch a {
			case opAdd:
				w += v
			case opSub:
				w -= v
			case opMul:
				w *= v
			case opDiv:
				w = div32(w, v, ins.off)
			case opOr:
				w |= v
			case opAnd:
				w &= v
			}
			*d = uint64(w)
		} else if a <= opMod {
			switch a {
			case opLsh:
				w <<= v & 31
			case opRsh:
				w >>= v & 31
			case opNeg:
				w = -w
			case opMod:
				w = mod32(w, v, ins.off)
			}
			*d = uint64(w)
		} else {
			switch a {
			case opXor:
				*d = uint64(w ^ v)
			case opMov:
				*d = movsx32(uint64(v), ins.off)
			case opArsh:
				*d = uint64(uint32(int32(w) >> (v & 31)))
			case opEnd:
				if op&x != 0 { // to big endian
					*d = bswap(*d, ins.imm)
				} else { // to little endian, the host order: only truncation
					*d = truncate(*d, ins.imm)
				}
			default:
				return s.invalid(ins)
			}
		}
	} else if cls == jmp32 {
		a := op & 0xf0
		if a == opJA || a == opCall || a == opExit || a >= opJCnd {
			return s.invalid(ins) // gotol is s.slow's
		}
		v := uint32(ins.imm)
		if op&x != 0 {
			v = uint32(regs[ins.src&15])
		}
		if cond32(a, uint32(regs[ins.dst&15]), v) {
			return s.jump(ins, int(ins.off))
		}
	} else if op == ld|imm|szDW {
		// The resolved 64-bit value; the second slot is skipped.
		regs[ins.dst&15] = uint64(ins.imm)
		next++
	} else {
		return s.invalid(ins)
	}
	s.pc = next
	return nil
}

// jump moves s.pc from a jump instruction at s.pc by off slots, with the
// budget and cancellation check of a backward jump.
func (s *state) jump(ins *insn, off int) error {
	pc := s.pc
	s.pc = pc + 1 + off
	if off < 0 && s.n >= s.limit {
		return s.checkpoint(pc)
	}
	return nil
}

// contextStep runs a load or store that missed the region table (see
// contextAccess) and moves s.pc to next.
func (s *state) contextStep(ins *insn, next int) error {
	if err := s.contextAccess(ins); err != nil {
		return err
	}
	s.pc = next
	return nil
}

// invalid is the fault of an instruction no path can run.
func (s *state) invalid(ins *insn) error {
	return s.fault(vm.FaultInvalidInsn, fmt.Sprintf("opcode %#02x", ins.op))
}
