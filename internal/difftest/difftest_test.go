package difftest

import (
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm"
	"github.com/ebpfvm/ebpfvm/internal/kerneltest"
	"github.com/ebpfvm/ebpfvm/internal/progen"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
)

// TestCampaign runs a short fixed-seed campaign: the kernel accepts nearly
// every program, every engine agrees with it on all of them, and no file
// descriptor (program, map, BTF) outlives the campaign.
func TestCampaign(t *testing.T) {
	kerneltest.Require(t)
	// Warm up cilium/ebpf's feature probes, which it caches.
	_, _, err := Campaign(&CampaignOptions{Seed: 100, Count: 5})
	require.NoError(t, err)
	runtime.GC()
	before := countFDs(t)
	count := 500
	if testing.Short() {
		count = 100
	}
	st, m, err := Campaign(&CampaignOptions{Seed: 1, Count: count})
	require.NoError(t, err)
	if m != nil {
		t.Fatalf("mismatch:\n%s", m.Format())
	}
	t.Logf("\n%s", st.Summary())
	require.Equal(t, count, st.Programs)
	require.GreaterOrEqual(t, st.AcceptanceRate(), 0.99)
	for _, e := range Engines {
		require.Equal(t, st.Accepted, st.EngineRuns[e.String()])
	}
	runtime.GC()
	require.Equal(t, before, countFDs(t), "file descriptors leaked")
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func TestSpecConversions(t *testing.T) {
	p := progen.Generate(4, 0, progen.Config{Mix: progen.MixMaps, Blocks: 8})
	cs, name, err := CollectionSpec(p.Spec)
	require.NoError(t, err)
	require.Equal(t, p.Spec.Program.Type, cs.Programs[name].Type.Name())
	back, err := KernelSpec(cs, name)
	require.NoError(t, err)
	require.Equal(t, p.Spec.Program.Instructions, back.Program.Instructions)
	require.Equal(t, p.Spec.Program.References, back.Program.References)
	// The maps the program refers to come back; unused ones are dropped.
	for _, ref := range p.Spec.Program.References {
		require.Equal(t, p.Spec.Maps[ref.Map], back.Maps[ref.Map], ref.Map)
	}
	require.LessOrEqual(t, len(back.Maps), len(p.Spec.Maps))

	// Read-only maps (.rodata) become BPF_F_RDONLY_PROG maps, frozen.
	cs.Maps[MapOutForTest].ReadOnly = true
	back, err = KernelSpec(cs, name)
	require.NoError(t, err)
	require.True(t, back.Maps[MapOutForTest].Freeze)
	require.NotZero(t, back.Maps[MapOutForTest].Spec.Flags&ebpfmaps.FlagRdonlyProg)

	// Entries naming programs (tail calls) cannot go to the kernel.
	cs.Maps[MapOutForTest].Contents = append(cs.Maps[MapOutForTest].Contents, ebpfvm.MapKV{Key: make([]byte, 4), Program: "x"})
	_, err = KernelSpec(cs, name)
	require.ErrorContains(t, err, "names a program or a map")
	_, err = KernelSpec(cs, "nope")
	require.Error(t, err)
}

const MapOutForTest = progen.MapOut

func TestCompare(t *testing.T) {
	spec := &kernel.Spec{
		Program: &kernel.Program{Type: kernel.TypeSocketFilter, Instructions: []isa.Instruction{isa.Return()}},
		Maps: map[string]*kernel.Map{
			"out": {Spec: ebpfmaps.Spec{Type: ebpfmaps.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1}},
			"h":   {Spec: ebpfmaps.Spec{Type: ebpfmaps.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 4}},
			"pc":  {Spec: ebpfmaps.Spec{Type: ebpfmaps.PerCPUArray, KeySize: 4, ValueSize: 4, MaxEntries: 1}},
		},
	}
	c := &Case{Spec: spec, Out: "out", OutSlots: []string{"r0", "r1"}}
	key := []byte{0, 0, 0, 0}
	ctx := make([]byte, 192)
	kernelSide := func() *Side {
		return &Side{Name: "kernel", Loaded: true, R0: 0x1_0000_0005, R0Bits: 64, Data: []byte{1, 2}, Context: ctx,
			Maps: map[string][]kernel.KV{
				"out": {{Key: key, Value: []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}}},
				"h":   {{Key: []byte{7, 0, 0, 0}, Value: []byte{9, 0, 0, 0}}},
				"pc":  {{Key: key, PerCPU: [][]byte{{1, 0, 0, 0}, {2, 0, 0, 0}}}},
			}}
	}
	tests := []struct {
		name   string
		kernel func(*Side)
		engine func(*Side)
		diffs  []string
	}{
		{"same", nil, nil, nil},
		{"r0", nil, func(s *Side) { s.R0 = 5 }, []string{"r0"}},
		{"r0, 32 bits known", func(s *Side) { s.R0Bits = 32 }, func(s *Side) { s.R0 = 5 }, nil},
		{"packet", nil, func(s *Side) { s.Data = []byte{1, 3} }, []string{"packet"}},
		{"writable context field", nil, func(s *Side) { s.Context = append([]byte(nil), ctx...); s.Context[48] = 1 }, []string{"context cb[0]"}},
		{"read-only context field", nil, func(s *Side) { s.Context = append([]byte(nil), ctx...); s.Context[0] = 1 }, nil},
		{"out slot", nil, func(s *Side) {
			s.Maps["out"] = []kernel.KV{{Key: key, Value: []byte{1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0}}}
		}, []string{"out r1"}},
		{"hash entry missing", nil, func(s *Side) { s.Maps["h"] = nil }, []string{"map h key 07000000"}},
		{"per-CPU maps are not compared", nil, func(s *Side) { s.Maps["pc"] = []kernel.KV{{Key: key, PerCPU: [][]byte{{5, 0, 0, 0}}}} }, nil},
		{"run failed", nil, func(s *Side) { s.RunError = "fault" }, []string{"run"}},
		{"kernel refused", func(s *Side) { s.Loaded = false }, func(s *Side) { s.R0 = 1 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, e := kernelSide(), kernelSide()
			e.Name = "interp"
			if tt.kernel != nil {
				tt.kernel(k)
			}
			if tt.engine != nil {
				tt.engine(e)
			}
			var what []string
			for _, d := range compare(c, k, e) {
				what = append(what, d.What)
			}
			require.Equal(t, tt.diffs, what)
		})
	}
}
