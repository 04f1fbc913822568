package vm

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/isa"
)

func TestAddresses(t *testing.T) {
	a := Addr(5, 0x1234)
	require.Equal(t, uint64(0x5_0000_1234), a)
	r, off := SplitAddr(a)
	require.Equal(t, uint32(5), r)
	require.Equal(t, uint32(0x1234), off)

	for i := range 3 {
		idx, ok := MapIndex(MapHandle(i))
		require.True(t, ok)
		require.Equal(t, i, idx)
	}
	_, ok := MapIndex(MapHandle(1) + 8)
	require.False(t, ok, "an offset into a map handle is not a handle")
	_, ok = MapIndex(Addr(RegionStack, 0))
	require.False(t, ok)

	require.Equal(t, Addr(RegionStack, 4096), FramePointer(0))
	require.Equal(t, Addr(RegionStack, 512), FramePointer(7))
	require.Equal(t, Addr(CodeRegion, 17), FuncAddr(17))
}

func TestTranslate(t *testing.T) {
	space := NewSpace()
	ro := AlignedBytes(16)
	roRegion, err := NewRegion(ro, PermRead)
	require.NoError(t, err)
	id := space.AddRegion("rodata", roRegion)
	m := NewMachine(space)
	data := AlignedBytes(8)
	r, err := NewRegion(data, PermRW)
	require.NoError(t, err)
	require.NoError(t, m.SetRegion(RegionData, "input", r))

	tests := []struct {
		name  string
		addr  uint64
		size  uint64
		write bool
		kind  FaultKind
	}{
		{"data", Addr(RegionData, 0), 8, true, 0},
		{"data last byte", Addr(RegionData, 7), 1, false, 0},
		{"data past the end", Addr(RegionData, 1), 8, false, FaultOutOfBounds},
		{"null", 0, 1, false, FaultNull},
		{"integer", 1234, 4, false, FaultNull},
		{"stack top", FramePointer(0) - 8, 8, true, 0},
		{"above the stack", FramePointer(0), 1, false, FaultOutOfBounds},
		{"shared read", Addr(id, 8), 8, false, 0},
		{"shared write", Addr(id, 8), 8, true, FaultNotWritable},
		{"unmapped per-run region", Addr(RegionScratch, 0), 1, false, FaultOutOfBounds},
		{"past the table", Addr(id+1, 0), 1, false, FaultOutOfBounds},
		{"map handle", MapHandle(0), 1, false, FaultOutOfBounds},
		{"offset wraps", Addr(RegionData, 0xffff_ffff), 2, false, FaultOutOfBounds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, kind := m.Translate(tt.addr, tt.size, tt.write)
			require.Equal(t, tt.kind, kind)
			if kind == 0 {
				require.NotNil(t, p)
			}
		})
	}

	f := m.MemFault(FaultNotWritable, Addr(id, 8), 8)
	require.Contains(t, f.Error(), "(rodata, 16 bytes)")
	one, err := NewRegion(AlignedBytes(8)[:1], PermRW)
	require.NoError(t, err)
	require.NoError(t, m.SetRegion(RegionScratch, "scratch", one))
	f = m.MemFault(FaultOutOfBounds, Addr(RegionScratch, 1), 1)
	require.Contains(t, f.Error(), "(scratch, 1 byte)")
	f = m.MemFault(FaultOutOfBounds, MapHandle(0), 1)
	require.Contains(t, f.Error(), "map pointer")
	require.Error(t, m.SetRegion(RegionStack, "x", Region{}))
	require.Error(t, m.SetRegion(FirstSharedRegion, "x", Region{}))
}

func TestSliceAndStrings(t *testing.T) {
	m := NewMachine(nil)
	data := AlignedBytes(8)
	copy(data, "ab\x00cdefg")
	r, err := NewRegion(data, PermRead)
	require.NoError(t, err)
	require.NoError(t, m.SetRegion(RegionData, "input", r))

	b, err := m.Slice(Addr(RegionData, 3), 5, false)
	require.NoError(t, err)
	require.Equal(t, []byte("cdefg"), b)
	_, err = m.Slice(Addr(RegionData, 3), 5, true)
	var f *Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, FaultNotWritable, f.Kind)
	_, err = m.Slice(Addr(RegionData, 4), 5, false)
	require.ErrorAs(t, err, &f)
	require.Equal(t, FaultOutOfBounds, f.Kind)
	b, err = m.Slice(0, 0, false)
	require.NoError(t, err, "an empty range is never a fault")
	require.Empty(t, b)

	s, ok, err := m.ReadCString(Addr(RegionData, 0), 100)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "ab", string(s))
	s, ok, err = m.ReadCString(Addr(RegionData, 3), 100)
	require.NoError(t, err)
	require.False(t, ok, "no NUL before the region ends")
	require.Equal(t, "cdefg", string(s))
	s, ok, err = m.ReadCString(Addr(RegionData, 3), 2)
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, "cd", string(s))
	_, _, err = m.ReadCString(0, 4)
	require.ErrorAs(t, err, &f)
	require.Equal(t, FaultNull, f.Kind)
}

func TestSpaceGrowsUnderRunningMachines(t *testing.T) {
	space := NewSpace()
	m := NewMachine(space)
	type mapObj struct{ name string }
	a := &mapObj{"a"}
	i := space.AddMap(a, 0)
	require.Equal(t, i, space.AddMap(a, 0), "registering twice returns the first index")
	obj, region, ok := space.Map(MapHandle(i))
	require.True(t, ok)
	require.Same(t, a, obj)
	require.Zero(t, region)

	// A region added after the machine was made appears after a sync.
	buf := AlignedBytes(8)
	r, err := NewRegion(buf, PermRW)
	require.NoError(t, err)
	id := space.AddRegion("late", r)
	b := &mapObj{"b"}
	j := space.AddMap(b, id)
	_, kind := m.Translate(Addr(id, 0), 8, true)
	require.Equal(t, FaultOutOfBounds, kind)
	m.SyncSpace()
	_, kind = m.Translate(Addr(id, 0), 8, true)
	require.Zero(t, kind)
	got, ok := space.MapByRegion(id)
	require.True(t, ok)
	require.Same(t, b, got)
	_, region, _ = space.Map(MapHandle(j))
	require.Equal(t, id, region)
	require.Equal(t, "late", space.RegionName(id))

	// Concurrent registration is safe and every object gets one index.
	var wg sync.WaitGroup
	objs := make([]*mapObj, 50)
	for k := range objs {
		objs[k] = &mapObj{}
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, o := range objs {
				space.AddMap(o, 0)
			}
		}()
	}
	wg.Wait()
	require.Len(t, space.Maps(), 2+len(objs))
}

func TestNewProgram(t *testing.T) {
	insns := []isa.Instruction{
		isa.LoadPseudo(isa.R1, isa.PseudoFunc, 3, 0),
		isa.LoadPseudo(isa.R2, isa.PseudoMapFD, 7, 0),
		isa.Return(),
		isa.Return(),
	}
	resolved := 0
	p, err := NewProgram(insns, ProgramOptions{Resolve: func(ins isa.Instruction, index int) (uint64, error) {
		resolved++
		require.Equal(t, 1, index)
		require.Equal(t, int64(7), ins.Imm)
		return MapHandle(2), nil
	}})
	require.NoError(t, err)
	require.Equal(t, 1, resolved)
	require.Equal(t, 6, p.Slots())
	require.Equal(t, []int{0, 2, 4, 5}, p.SlotOf)
	require.Equal(t, []int{0, -1, 1, -1, 2, 3}, p.InsnAt)
	require.Equal(t, FuncAddr(4), p.Imm64[0])
	require.Equal(t, MapHandle(2), p.Imm64[1])

	_, err = NewProgram(insns, ProgramOptions{})
	var pe *ProgramError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 2, pe.Insn)

	_, err = NewProgram([]isa.Instruction{isa.LoadPseudo(isa.R1, isa.PseudoFunc, 0, 0), isa.Return()}, ProgramOptions{})
	require.ErrorAs(t, err, &pe, "a function pointer into the second slot of a lddw")
	_, err = NewProgram(nil, ProgramOptions{})
	require.Error(t, err)
	require.Nil(t, p.Helper(-1))
	require.Nil(t, p.Helper(5))
}

func TestSetDataEnd(t *testing.T) {
	m := NewMachine(nil)
	require.False(t, m.SetDataEnd(1), "no packet buffer: nothing to grow into")
	buf := AlignedBytes(32)
	for i := range buf {
		buf[i] = 0xee
	}
	r, err := NewRegion(buf[:16], PermRW)
	require.NoError(t, err)
	require.NoError(t, m.SetRegion(RegionData, "packet", r))
	m.Packet, m.DataEnd = buf, 16

	require.True(t, m.SetDataEnd(24))
	require.Equal(t, uint32(24), m.Regions[RegionData].Len)
	require.Equal(t, make([]byte, 8), buf[16:24], "grown bytes are zeroed")
	require.Equal(t, byte(0xee), buf[24], "bytes past the new end are left alone")

	require.True(t, m.SetDataEnd(10))
	require.Equal(t, uint32(10), m.Regions[RegionData].Len)
	require.Equal(t, byte(0xee), buf[9])
	_, kind := m.Translate(Addr(RegionData, 10), 1, false)
	require.Equal(t, FaultOutOfBounds, kind, "past the packet's end")

	require.False(t, m.SetDataEnd(33))
	require.Equal(t, uint32(10), m.DataEnd)
}

func TestMachineCallAndPoll(t *testing.T) {
	m := NewMachine(nil)
	_, err := m.Call(0x1234)
	var f *Fault
	require.ErrorAs(t, err, &f)
	require.Equal(t, FaultBadCall, f.Kind)

	require.NoError(t, m.Poll())
	ctx, cancel := context.WithCancel(context.Background())
	m.Ctx = ctx
	require.NoError(t, m.Poll())
	cancel()
	err = m.Poll()
	require.ErrorAs(t, err, &f)
	require.Equal(t, FaultCancelled, f.Kind)
	require.True(t, errors.Is(err, context.Canceled))

	m.Reset()
	require.Nil(t, m.Ctx)
	require.Equal(t, uint64(DefaultBudget), m.Budget)
}

func TestClearFrame(t *testing.T) {
	m := NewMachine(nil)
	top, _ := m.Translate(FramePointer(0)-8, 8, true)
	*(*uint64)(top) = 42
	deeper, _ := m.Translate(FramePointer(1)-8, 8, true)
	*(*uint64)(deeper) = 43
	m.ClearFrame(1)
	require.Equal(t, uint64(42), *(*uint64)(top), "clearing a frame leaves the others")
	require.Zero(t, *(*uint64)(deeper))
}
