package verifier

import (
	"errors"
	"strings"
	"testing"

	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/stretchr/testify/require"
)

func TestFacts(t *testing.T) {
	tests := []struct {
		name string
		typ  progtype.Type
		src  string
		// want maps an instruction index to the expected fact.
		want map[int]Fact
	}{
		{"stack and ctx", progtype.SocketFilter, "*(u64 *)(r10 - 8) = 0\nr0 = *(u32 *)(r1 + 0)\nexit", map[int]Fact{
			0: {Reached: true, Access: true, Bases: KindStack, InBounds: true},
			1: {Reached: true, Access: true, Bases: KindCtx, InBounds: true},
			2: {Reached: true},
		}},
		{"packet after check", progtype.XDP, xdpBounds + "r0 = *(u8 *)(r2 + 7)\nexit\nout: r0 = 2\nexit", map[int]Fact{
			0: {Reached: true, Access: true, Bases: KindCtx, InBounds: true},
			5: {Reached: true, Access: true, Bases: KindPacket, InBounds: true},
		}},
		{"map value", progtype.SocketFilter, lookupArr + "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit", map[int]Fact{
			6: {Reached: true, Access: true, Bases: KindMapValue, InBounds: true},
		}},
		{"raw memory is checked at run time", progtype.Raw, "r0 = *(u8 *)(r1 + 0)\nexit", map[int]Fact{
			0: {Reached: true, Access: true, Bases: KindRawMem},
		}},
		{"dead code after a known branch", progtype.SocketFilter, "r0 = 0\nif r0 == 0 goto +1\nr0 = *(u64 *)(r10 - 8)\nexit", map[int]Fact{
			2: {},
			3: {Reached: true},
		}},
		{"two bases", progtype.SocketFilter, "*(u64 *)(r10 - 8) = 0\nr2 = r10\nr2 += -8\nr3 = *(u32 *)(r1 + 0)\nif r3 == 0 goto +1\nr2 = r1\nr0 = *(u32 *)(r2 + 0)\nexit", map[int]Fact{
			6: {Reached: true, Access: true, Bases: KindStack | KindCtx, InBounds: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProgram(t, tt.typ, tt.src)
			res, err := Verify(p, Options{})
			if tt.name == "two bases" {
				// The kernel refuses one instruction on a context and on
				// another pointer: the context access is rewritten.
				require.Error(t, err)
				require.Contains(t, err.Error(), "same insn cannot be used with different pointers")
				return
			}
			require.NoError(t, err)
			require.Len(t, res.Facts, len(p.Instructions))
			for i, want := range tt.want {
				require.Equal(t, want, res.Facts[i], "insn %d", i)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	require.Equal(t, "none", Kind(0).String())
	require.Equal(t, "ctx|pkt", (KindCtx | KindPacket).String())
}

func TestErrorInsnIsSlot(t *testing.T) {
	// The lddw takes two slots: the failing load is instruction 2 but
	// slot 3, as the kernel numbers it.
	p := testProgram(t, progtype.SocketFilter, "r1 = 0x100000000 ll\nr0 = 0\nr0 = *(u64 *)(r10 + 8)\nexit")
	_, err := Verify(p, Options{})
	var ve *Error
	require.True(t, errors.As(err, &ve))
	require.Equal(t, 3, ve.Insn)
	require.Equal(t, "invalid read from stack R10 off=8 size=8", ve.Msg)
	require.Equal(t, "verifier: insn 3: invalid read from stack R10 off=8 size=8", err.Error())
}

func TestLogLevels(t *testing.T) {
	src := "r2 = *(u32 *)(r1 + 0)\nif r2 > 7 goto +1\nr0 = r2\nr0 = 0\nexit"
	p := testProgram(t, progtype.SocketFilter, src)

	res, err := Verify(p, Options{})
	require.NoError(t, err)
	require.Empty(t, res.Log)

	res, err = Verify(p, Options{LogLevel: 2, Stats: true})
	require.NoError(t, err)
	want := `func#0 @0
Live regs before insn:
      0: .1........ (61) r2 = *(u32 *)(r1 +0)
      1: ..2....... (25) if r2 > 0x7 goto pc+1
      2: ..2....... (bf) r0 = r2
      3: .......... (b7) r0 = 0
      4: 0......... (95) exit
0: R1=ctx() R10=fp0
0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
1: (25) if r2 > 0x7 goto pc+1         ; R2=scalar(smin=smin32=0,smax=umax=smax32=umax32=7,var_off=(0x0; 0x7))
2: (bf) r0 = r2                       ; R0=scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=7,var_off=(0x0; 0x7)) R2=scalar(id=1,smin=smin32=0,smax=umax=smax32=umax32=7,var_off=(0x0; 0x7))
3: (b7) r0 = 0                        ; R0=0
4: (95) exit

from 1 to 3: R1=ctx() R2=scalar(smin=umin=umin32=8,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
3: R1=ctx() R2=scalar(smin=umin=umin32=8,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
3: (b7) r0 = 0                        ; R0=0
4: (95) exit
`
	got, _, _ := strings.Cut(res.Log, "verification time")
	require.Equal(t, want, got)
	require.Contains(t, res.Log, "processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0")
	require.Equal(t, 7, res.Stats.Processed)

	// Level 1 prints the failing path, as the kernel does (this is the
	// kernel's log of the same program).
	p = testProgram(t, progtype.SocketFilter, "r2 = *(u32 *)(r1 + 0)\nif r2 > 7 goto +1\nr0 = *(u64 *)(r10 + 8)\nr0 = 0\nexit")
	_, err = Verify(p, Options{LogLevel: 1})
	var ve *Error
	require.True(t, errors.As(err, &ve))
	require.Equal(t, `0: R1=ctx() R10=fp0
0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
1: (25) if r2 > 0x7 goto pc+1         ; R2=scalar(smin=smin32=0,smax=umax=smax32=umax32=7,var_off=(0x0; 0x7))
2: (79) r0 = *(u64 *)(r10 +8)
invalid read from stack R10 off=8 size=8
processed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
`, ve.Log)
}

func TestMalformed(t *testing.T) {
	for name, p := range map[string]Program{
		"empty":           {},
		"no exit":         testProgram(t, progtype.SocketFilter, "r0 = 0"),
		"jump out":        testProgram(t, progtype.SocketFilter, "goto +5\nexit"),
		"unknown map ref": testProgram(t, progtype.SocketFilter, "ld_pseudo r1, 1, 100\nr0 = 0\nexit"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Verify(p, Options{})
			var ve *Error
			require.True(t, errors.As(err, &ve), "%v", err)
		})
	}
}
