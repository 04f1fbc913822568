//go:build unix

package interp

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/vm"
)

// edgeAccess is one memory instruction tried at the edges of a region.
type edgeAccess struct {
	name   string
	size   int
	write  bool
	atomic bool
	// insns access *(size *)(r1 + off) and leave their result in r0;
	// r2 holds edgeOperand, r0 is 0 before them. old is the value at the
	// address before, for cmpxchg to compare with.
	insns func(off int16, old uint64) []isa.Instruction
	// want is r0 and the value in memory after the access.
	want func(old uint64) (r0, mem uint64)
}

const (
	edgeOperand = 0x1122_3344_5566_7788
	edgeHelper  = 3 // the helper id the Slice test binds
)

func edgeAccesses() []edgeAccess {
	sizes := map[int]isa.Size{1: isa.SizeB, 2: isa.SizeH, 4: isa.SizeW, 8: isa.SizeDW}
	var list []edgeAccess
	for _, n := range []int{1, 2, 4, 8} {
		sz := sizes[n]
		mask := ^uint64(0) >> (64 - 8*n)
		list = append(list,
			edgeAccess{name: fmt.Sprintf("ldx%d", n), size: n,
				insns: func(off int16, _ uint64) []isa.Instruction {
					return []isa.Instruction{isa.Load(isa.R0, isa.R1, off, sz)}
				},
				want: func(old uint64) (uint64, uint64) { return old, old }},
			edgeAccess{name: fmt.Sprintf("stx%d", n), size: n, write: true,
				insns: func(off int16, _ uint64) []isa.Instruction {
					return []isa.Instruction{isa.Store(isa.R1, off, isa.R2, sz)}
				},
				want: func(uint64) (uint64, uint64) { return 0, edgeOperand & mask }},
			edgeAccess{name: fmt.Sprintf("st%d", n), size: n, write: true,
				insns: func(off int16, _ uint64) []isa.Instruction {
					return []isa.Instruction{isa.StoreImm(isa.R1, off, -7, sz)}
				},
				want: func(uint64) (uint64, uint64) { return 0, uint64(0xffff_ffff_ffff_fff9) & mask }},
			// A helper writing through vm.Machine.Slice.
			edgeAccess{name: fmt.Sprintf("helper%d", n), size: n, write: true,
				insns: func(off int16, _ uint64) []isa.Instruction {
					return []isa.Instruction{
						isa.ALUAdd.Imm(isa.R1, int32(off)),
						isa.ALUMov.Imm(isa.R2, int32(n)),
						isa.HelperCall(edgeHelper),
					}
				},
				want: func(uint64) (uint64, uint64) { return 0, 0x5a5a_5a5a_5a5a_5a5a & mask }},
		)
		if n < 8 {
			shift := 64 - 8*n
			list = append(list, edgeAccess{name: fmt.Sprintf("ldxsx%d", n), size: n,
				insns: func(off int16, _ uint64) []isa.Instruction {
					return []isa.Instruction{isa.LoadSX(isa.R0, isa.R1, off, sz)}
				},
				want: func(old uint64) (uint64, uint64) { return uint64(int64(old<<shift) >> shift), old }})
		}
		if n < 4 {
			continue
		}
		atomic := func(name string, op int64, fetch bool, want func(old uint64) (uint64, uint64)) edgeAccess {
			return edgeAccess{name: fmt.Sprintf("%s%d", name, n), size: n, write: true, atomic: true,
				insns: func(off int16, _ uint64) []isa.Instruction {
					insns := []isa.Instruction{isa.Atomic(op, isa.R1, off, isa.R2, sz)}
					if fetch {
						insns = append(insns, isa.ALUMov.Reg(isa.R0, isa.R2))
					}
					return insns
				},
				want: want}
		}
		list = append(list,
			atomic("atomic_add", isa.AtomicAdd, false, func(old uint64) (uint64, uint64) { return 0, (old + edgeOperand) & mask }),
			atomic("atomic_fetch_or", isa.AtomicOr|isa.AtomicFetch, true, func(old uint64) (uint64, uint64) { return old, (old | edgeOperand) & mask }),
			atomic("atomic_xchg", isa.AtomicXchg, true, func(old uint64) (uint64, uint64) { return old, edgeOperand & mask }),
			// r0 (0) differs from the memory: no store, r0 gets the old value.
			atomic("atomic_cmpxchg_fails", isa.AtomicCmpXchg, false, func(old uint64) (uint64, uint64) { return old, old }),
			edgeAccess{name: fmt.Sprintf("atomic_cmpxchg_stores%d", n), size: n, write: true, atomic: true,
				insns: func(off int16, old uint64) []isa.Instruction {
					return []isa.Instruction{
						isa.LoadImm64(isa.R0, int64(old)),
						isa.Atomic(isa.AtomicCmpXchg, isa.R1, off, isa.R2, sz),
					}
				},
				want: func(old uint64) (uint64, uint64) { return old, edgeOperand & mask }},
		)
	}
	return list
}

// TestRegionEdges runs every kind of load, store and atomic, and a helper
// writing through vm.Machine.Slice, at every offset within 9 bytes of
// either end of a region, in both loops, on regions whose memory starts or
// ends at an inaccessible page (a host access outside them would crash the
// test) and on read-only ones whose pages are read-only in the host too
// (a store let through would crash it). Each access must do exactly what
// it says or fault, as the region's bounds, permission and (atomics)
// alignment decide, and leave every other byte as it was.
func TestRegionEdges(t *testing.T) {
	type regionCase struct {
		n                       int
		atEnd, readOnly, shared bool
	}
	var regions []regionCase
	for _, n := range []int{8, 24, 4096} {
		for _, atEnd := range []bool{false, true} {
			for _, kind := range []struct{ readOnly, shared bool }{{false, false}, {false, true}, {true, true}} {
				regions = append(regions, regionCase{n, atEnd, kind.readOnly, kind.shared})
			}
		}
	}
	// A length that is no multiple of the access sizes.
	regions = append(regions, regionCase{n: 3})

	runs := 0
	for _, rc := range regions {
		name := fmt.Sprintf("n=%d/atEnd=%v/readOnly=%v/shared=%v", rc.n, rc.atEnd, rc.readOnly, rc.shared)
		t.Run(name, func(t *testing.T) {
			const fill = 0xa0
			orig := make([]byte, rc.n)
			for i := range orig {
				orig[i] = fill + byte(i*7)
			}
			mem := guarded(t, orig, rc.atEnd, rc.readOnly)
			perm := vm.PermRW
			if rc.readOnly {
				perm = vm.PermRead
			}
			region, err := vm.NewRegion(mem, perm)
			require.NoError(t, err)
			space := vm.NewSpace()
			var base uint64
			if rc.shared {
				base = vm.Addr(space.AddRegion("shared", region), 0)
			}
			var offsets []int
			for off := -9; off <= rc.n+9; off++ {
				if off <= 9 || off >= rc.n-9 {
					offsets = append(offsets, off)
				}
			}
			for _, fast := range loops() {
				for _, acc := range edgeAccesses() {
					for _, off := range offsets {
						for _, inInsn := range []bool{false, true} {
							what := fmt.Sprintf("fast=%v %s off=%d in-insn=%v", fast, acc.name, off, inInsn)
							if inInsn && strings.HasPrefix(acc.name, "helper") {
								continue
							}
							if !rc.readOnly {
								copy(mem, orig)
							}
							m := vm.NewMachine(space)
							if !rc.shared {
								require.NoError(t, m.SetRegion(vm.RegionData, "data", region))
								base = vm.Addr(vm.RegionData, 0)
							}
							addr, insOff := base+uint64(int64(off)), int16(0)
							if inInsn {
								addr, insOff = base, int16(off)
							}
							inBounds := off >= 0 && off+acc.size <= rc.n
							var old uint64
							if inBounds {
								old = leUint(orig[off:], acc.size)
							}
							insns := []isa.Instruction{
								isa.LoadImm64(isa.R1, int64(addr)),
								isa.LoadImm64(isa.R2, edgeOperand),
								isa.ALUMov.Imm(isa.R0, 0),
							}
							insns = append(insns, acc.insns(insOff, old)...)
							insns = append(insns, isa.Return())
							helpers := make([]vm.HelperFunc, edgeHelper+1)
							helpers[edgeHelper] = filler(0x5a)
							p, err := vm.NewProgram(insns, vm.ProgramOptions{Helpers: helpers})
							require.NoError(t, err)
							prev := SetFast(fast)
							r0, err := New(p).Run(m)
							SetFast(prev)
							runs++

							if !inBounds || (acc.write && rc.readOnly) || (acc.atomic && off%acc.size != 0) {
								var f *vm.Fault
								require.ErrorAs(t, err, &f, what)
								require.Equal(t, orig, mem, "%s: a faulting access changed memory", what)
								continue
							}
							require.NoError(t, err, what)
							wantR0, wantMem := acc.want(old)
							require.Equal(t, wantR0, r0, what)
							want := append([]byte{}, orig...)
							putLeUint(want[off:], acc.size, wantMem)
							require.Equal(t, want, mem, what)
						}
					}
				}
			}
		})
	}
	t.Logf("%d runs", runs)
}

// guarded returns a copy of b in memory with an inaccessible page right
// before it (atEnd false) or right after it (atEnd true), so that a host
// access one byte outside kills the process instead of going unnoticed;
// readOnly makes its pages read-only in the host too.
func guarded(t *testing.T, b []byte, atEnd, readOnly bool) []byte {
	t.Helper()
	page := os.Getpagesize()
	pages := (len(b) + page - 1) / page
	mem, err := unix.Mmap(-1, 0, (pages+2)*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, unix.Munmap(mem)) })
	require.NoError(t, unix.Mprotect(mem[:page], unix.PROT_NONE))
	require.NoError(t, unix.Mprotect(mem[(pages+1)*page:], unix.PROT_NONE))
	start := page
	if atEnd {
		start = (pages+1)*page - len(b)
	}
	out := mem[start : start+len(b) : start+len(b)]
	copy(out, b)
	if readOnly {
		require.NoError(t, unix.Mprotect(mem[page:(pages+1)*page], unix.PROT_READ))
	}
	return out
}

// loops is the fast settings that select each loop this platform has.
func loops() []bool {
	if haveFast {
		return []bool{false, true}
	}
	return []bool{false}
}

func leUint(b []byte, n int) uint64 {
	var buf [8]byte
	copy(buf[:], b[:n])
	return binary.LittleEndian.Uint64(buf[:])
}

func putLeUint(b []byte, n int, v uint64) {
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], v)
	copy(b[:n], buf[:n])
}

// TestLegacyLoadEdges runs ld_abs and ld_ind at every offset near the end
// of a packet that ends at an inaccessible page: in range they read
// big-endian, past it they end the program with 0, as in the kernel.
func TestLegacyLoadEdges(t *testing.T) {
	const n = 64
	orig := make([]byte, n)
	for i := range orig {
		orig[i] = byte(0x30 + i)
	}
	mem := guarded(t, orig, true, false)
	region, err := vm.NewRegion(mem, vm.PermRW)
	require.NoError(t, err)
	sizes := map[int]isa.Size{1: isa.SizeB, 2: isa.SizeH, 4: isa.SizeW}
	for _, fast := range loops() {
		for size, sz := range sizes {
			for off := n - 6; off <= n+1; off++ {
				for _, ind := range []bool{false, true} {
					what := fmt.Sprintf("fast=%v size=%d off=%d ind=%v", fast, size, off, ind)
					ld := isa.LoadAbs(int32(off), sz)
					if ind {
						ld = isa.LoadInd(isa.R7, int32(off-3), sz)
					}
					insns := []isa.Instruction{
						isa.ALUMov.Reg(isa.R6, isa.R1),
						isa.ALUMov.Imm(isa.R7, 3),
						ld,
						isa.ALUAdd.Imm(isa.R0, 0x100_0000), // not reached when the load ends the run
						isa.Return(),
					}
					p, err := vm.NewProgram(insns, vm.ProgramOptions{})
					require.NoError(t, err)
					m := vm.NewMachine(nil)
					require.NoError(t, m.SetRegion(vm.RegionData, "packet", region))
					m.DataStart, m.DataEnd = 0, n
					prev := SetFast(fast)
					r0, err := New(p).Run(m, vm.Addr(vm.RegionData, 0))
					SetFast(prev)
					require.NoError(t, err, what)
					if off+size > n {
						require.Zero(t, r0, what)
						continue
					}
					var want uint64
					for _, b := range orig[off : off+size] {
						want = want<<8 | uint64(b)
					}
					require.Equal(t, want+0x100_0000, r0, what)
				}
			}
		}
	}
}
