package progen

import (
	"fmt"
	"strings"
)

// Mix is a set of instruction families a generated program draws from.
type Mix uint32

// The families.
const (
	// MixALU: ALU and ALU64 operations with edge-case constants, sdiv/smod,
	// sign-extending moves, byte swaps, 64-bit immediates.
	MixALU Mix = 1 << iota
	// MixJMP: JMP and JMP32 forward branches (conditional skips, if/else
	// with goto and gotol, early exits).
	MixJMP
	// MixMem: stack loads and stores of every size, sign-extending loads,
	// atomics on the stack, stack pointers in registers.
	MixMem
	// MixMaps: array and hash map lookups with NULL checks, value loads,
	// stores and atomics, updates with flags, deletes, direct value access.
	MixMaps
	// MixLoops: bounded counter loops (up and down, JMP and JMP32).
	MixLoops
	// MixPacket: xdp packet reads and writes behind data_end checks;
	// socket filter ld_abs and ld_ind.
	MixPacket
	// MixCtx: context field reads of every allowed size, __sk_buff cb
	// writes.
	MixCtx
	// MixHelpers: csum_diff, skb_load_bytes, xdp_adjust_head/tail,
	// xdp_load_bytes/store_bytes, xdp_get_buff_len.
	MixHelpers
	// MixCalls: bpf-to-bpf calls into generated subprograms.
	MixCalls

	// MixAll is every family.
	MixAll = MixALU | MixJMP | MixMem | MixMaps | MixLoops | MixPacket | MixCtx | MixHelpers | MixCalls
)

var mixNames = []struct {
	name string
	mix  Mix
}{
	{"alu", MixALU}, {"jmp", MixJMP}, {"mem", MixMem}, {"maps", MixMaps}, {"loops", MixLoops},
	{"pkt", MixPacket}, {"ctx", MixCtx}, {"helpers", MixHelpers}, {"calls", MixCalls},
}

// MixNames lists the family names ParseMix knows, besides "all".
func MixNames() []string {
	out := make([]string, len(mixNames))
	for i, n := range mixNames {
		out[i] = n.name
	}
	return out
}

// ParseMix parses a comma-separated list of family names ("alu,jmp,mem"),
// or "all".
func ParseMix(s string) (Mix, error) {
	var m Mix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if f == "all" {
			m |= MixAll
			continue
		}
		found := false
		for _, n := range mixNames {
			if n.name == f {
				m |= n.mix
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown instruction family %q (all, %s)", f, strings.Join(MixNames(), ", "))
		}
	}
	if m == 0 {
		return 0, fmt.Errorf("empty instruction mix")
	}
	return m, nil
}

func (m Mix) String() string {
	if m&MixAll == MixAll {
		return "all"
	}
	var parts []string
	for _, n := range mixNames {
		if m&n.mix != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, ",")
}
