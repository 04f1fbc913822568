package elf_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/elf"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/maps"
)

// objects are the compiled test programs, which must all load.
func objects(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../testdata/*.o")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func load(t *testing.T, name string) *elf.Object {
	t.Helper()
	obj, err := elf.Load(filepath.Join("../testdata", name))
	require.NoError(t, err)
	checkObject(t, obj)
	return obj
}

// wantProg is what a test expects of a program.
type wantProg struct {
	name, section, typ, kernelType string
	insns                          int
	funcs                          []elf.Func
}

// wantMap is what a test expects of a map.
type wantMap struct {
	name, section string
	typ           maps.MapType
	key, value    uint32
	maxEntries    uint32
	flags         uint32
	contents      []byte // nil: not global data
	values        []elf.MapValue
}

func TestLoadTestdata(t *testing.T) {
	sock := func(name string, insns int, funcs ...elf.Func) wantProg {
		return wantProg{name, "socket", "socket_filter", "socket_filter", insns, append([]elf.Func{{Name: name}}, funcs...)}
	}
	xdp := func(name string, insns int) wantProg {
		return wantProg{name, "xdp", "xdp", "xdp", insns, []elf.Func{{Name: name}}}
	}
	hook := func(name string, insns int) wantProg {
		return wantProg{name, "syscall", "hook", "syscall", insns, []elf.Func{{Name: name}}}
	}
	btfMap := func(name string, typ maps.MapType, key, value, max uint32) wantMap {
		return wantMap{name: name, section: ".maps", typ: typ, key: key, value: value, maxEntries: max}
	}
	data := func(name string, contents []byte) wantMap {
		m := wantMap{name: name, section: name, typ: maps.Array, key: 4, value: uint32(len(contents)), maxEntries: 1, contents: contents}
		if strings.HasPrefix(name, ".rodata") {
			m.flags = maps.FlagRdonlyProg
		}
		return m
	}
	tests := []struct {
		file  string
		progs []wantProg
		maps  []wantMap
		vars  []elf.Variable
	}{
		{file: "core.o", progs: []wantProg{xdp("core_ttl", 12)}},
		{
			file:  "globals.o",
			progs: []wantProg{sock("globals", 22), sock("strings", 17)},
			maps: []wantMap{
				data(".rodata", []byte{3, 0, 0, 0}),
				data(".data", []byte("\x0a\x00\x00\x00hello\x00\x00\x00")),
				data(".bss", make([]byte, 16)),
				data(".rodata.cst8", []byte{1, 2, 3, 5, 8, 13, 21, 34}),
				data(".rodata.str1.1", []byte("hello\x00help\x00")),
			},
			vars: []elf.Variable{
				{Name: "multiplier", Map: ".rodata", Offset: 0, Size: 4},
				{Name: "counter", Map: ".data", Offset: 0, Size: 4},
				{Name: "greeting", Map: ".data", Offset: 4, Size: 8},
				{Name: "runs", Map: ".bss", Offset: 0, Size: 4},
				{Name: "total_len", Map: ".bss", Offset: 8, Size: 8},
			},
		},
		{
			file:  "histogram.o",
			progs: []wantProg{sock("hist_skb", 38), hook("hist_event", 69)},
			maps:  []wantMap{btfMap("hist", maps.Array, 4, 8, 64)},
		},
		{
			file:  "legacy.o",
			progs: []wantProg{sock("legacy_count", 21)},
			maps:  []wantMap{{name: "legacy_hash", section: "maps", typ: maps.Hash, key: 4, value: 8, maxEntries: 32, flags: maps.FlagNoPrealloc}},
		},
		{
			file:  "loops.o",
			progs: []wantProg{sock("loop_for", 24), sock("loop_bpf_loop", 29, elf.Func{Name: "sum_squares", Insn: 17})},
		},
		{
			file:  "map_in_map.o",
			progs: []wantProg{sock("map_in_map", 23)},
			maps: []wantMap{
				btfMap("inner_even", maps.Array, 4, 4, 1),
				btfMap("inner_odd", maps.Array, 4, 4, 1),
				{name: "outer", section: ".maps", typ: maps.ArrayOfMaps, key: 4, value: 4, maxEntries: 2,
					values: []elf.MapValue{{Key: 0, Map: "inner_even"}, {Key: 1, Map: "inner_odd"}}},
			},
		},
		{
			file: "maps.o",
			progs: []wantProg{
				sock("array_ops", 13), sock("hash_ops", 63), sock("percpu_ops", 12),
				sock("lru_ops", 21), sock("queue_stack", 76),
			},
			maps: []wantMap{
				btfMap("array_map", maps.Array, 4, 8, 16),
				btfMap("hash_map", maps.Hash, 4, 8, 64),
				btfMap("percpu_map", maps.PerCPUArray, 4, 8, 4),
				btfMap("lru_map", maps.LRUHash, 8, 4, 16),
				btfMap("queue_map", maps.Queue, 0, 4, 8),
				btfMap("stack_map", maps.Stack, 0, 4, 8),
			},
		},
		{
			file:  "policy.o",
			progs: []wantProg{hook("policy", 45)},
			maps: []wantMap{
				data(".rodata", []byte{0, 0, 0, 0, 0, 1, 0, 0}),
				btfMap("permissions", maps.Hash, 4, 4, 1024),
				btfMap("decisions", maps.Array, 4, 8, 2),
			},
			vars: []elf.Variable{
				{Name: "admin_uid", Map: ".rodata", Offset: 0, Size: 4},
				{Name: "max_public_path", Map: ".rodata", Offset: 4, Size: 4},
			},
		},
		{
			file:  "ringbuf.o",
			progs: []wantProg{sock("ringbuf_output", 44)},
			maps:  []wantMap{btfMap("events", maps.RingBuf, 0, 0, 4096)},
		},
		{
			file:  "socket_parse.o",
			progs: []wantProg{sock("socket_parse", 66)},
			maps:  []wantMap{data(".rodata", []byte{23, 0}), btfMap("port_counts", maps.Hash, 2, 8, 256)},
			vars:  []elf.Variable{{Name: "blocked_port", Map: ".rodata", Offset: 0, Size: 2}},
		},
		{
			file: "subprog.o",
			progs: []wantProg{
				sock("subprog_calls", 28, elf.Func{Name: "add3", Insn: 15}, elf.Func{Name: "mul_add", Insn: 19}, elf.Func{Name: "twice_add3", Insn: 23}),
				sock("subprog_shared", 8, elf.Func{Name: "mul_add", Insn: 4}),
			},
		},
		{
			file:  "tailcall.o",
			progs: []wantProg{sock("tail_entry", 6), sock("tail_even", 2), sock("tail_odd", 2)},
			maps: []wantMap{{name: "jump_table", section: ".maps", typ: maps.ProgramArray, key: 4, value: 4, maxEntries: 4,
				values: []elf.MapValue{{Key: 0, Program: "tail_even"}, {Key: 1, Program: "tail_odd"}}}},
		},
		{
			file:  "xdp_parse.o",
			progs: []wantProg{xdp("xdp_parse", 125)},
			maps:  []wantMap{data(".rodata", []byte{23, 0, 9, 0}), btfMap("proto_stats", maps.Array, 4, 8, 8)},
			vars: []elf.Variable{
				{Name: "blocked_tcp_port", Map: ".rodata", Offset: 0, Size: 2},
				{Name: "blocked_udp_port", Map: ".rodata", Offset: 2, Size: 2},
			},
		},
		{file: "xdp_tx.o", progs: []wantProg{xdp("xdp_tx", 62)}},
	}

	// Every object is in the table, so that a new one gets checked.
	var names []string
	for _, f := range objects(t) {
		names = append(names, filepath.Base(f))
	}
	var listed []string
	for _, tt := range tests {
		listed = append(listed, tt.file)
	}
	require.ElementsMatch(t, names, listed, "testdata objects and this table differ")

	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			obj := load(t, tt.file)
			require.Equal(t, "GPL", obj.License)

			require.Len(t, obj.Programs, len(tt.progs))
			for i, want := range tt.progs {
				p := obj.Programs[i]
				require.Equal(t, want.name, p.Name)
				require.Equal(t, want.section, p.Section, p.Name)
				require.Equal(t, want.typ, p.Type, p.Name)
				require.Equal(t, want.kernelType, p.KernelType, p.Name)
				require.Equal(t, "GPL", p.License, p.Name)
				require.Len(t, p.Insns, want.insns, p.Name)
				require.Equal(t, want.funcs, p.Funcs, p.Name)
				require.Same(t, p, obj.Program(p.Name))
			}

			require.Len(t, obj.Maps, len(tt.maps))
			for i, want := range tt.maps {
				m := obj.Maps[i]
				require.Equal(t, want.name, m.Name)
				require.Equal(t, want.section, m.Section, m.Name)
				require.Equal(t, maps.Spec{
					Name: want.name, Type: want.typ, KeySize: want.key, ValueSize: want.value,
					MaxEntries: want.maxEntries, Flags: want.flags, InnerMap: m.Spec.InnerMap,
				}, m.Spec, m.Name)
				require.Equal(t, want.contents, m.Contents, m.Name)
				require.Equal(t, want.contents != nil, m.IsGlobalData(), m.Name)
				require.Equal(t, strings.HasPrefix(want.name, ".rodata"), m.ReadOnly, m.Name)
				require.Equal(t, want.values, m.Values, m.Name)
				require.Same(t, m, obj.Map(m.Name))
			}

			var vars []elf.Variable
			for _, v := range obj.Variables {
				vars = append(vars, *v)
			}
			require.Equal(t, tt.vars, vars)
		})
	}
}

func TestInnerMap(t *testing.T) {
	obj := load(t, "map_in_map.o")
	outer := obj.Map("outer")
	require.NotNil(t, outer)
	require.Equal(t, &maps.Spec{Name: "outer.inner", Type: maps.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}, outer.Spec.InnerMap)
	require.Nil(t, obj.Map("inner_even").Spec.InnerMap)
}

func TestRefs(t *testing.T) {
	type ref struct {
		slot int // slot index of the instruction
		elf.Ref
	}
	tests := []struct {
		file, prog string
		refs       []ref
	}{
		{"globals.o", "globals", []ref{
			{0, elf.Ref{Kind: elf.RefMapValue, Map: ".bss", Offset: 0}},
			{5, elf.Ref{Kind: elf.RefMapValue, Map: ".data", Offset: 0}},
			{11, elf.Ref{Kind: elf.RefMapValue, Map: ".bss", Offset: 8}},
			{16, elf.Ref{Kind: elf.RefMapValue, Map: ".rodata", Offset: 0}},
			{21, elf.Ref{Kind: elf.RefMapValue, Map: ".rodata.cst8", Offset: 0}},
		}},
		{"globals.o", "strings", []ref{
			{0, elf.Ref{Kind: elf.RefMapValue, Map: ".data", Offset: 4}},
			{3, elf.Ref{Kind: elf.RefMapValue, Map: ".rodata.str1.1", Offset: 0}},
			{9, elf.Ref{Kind: elf.RefMapValue, Map: ".data", Offset: 4}},
			{12, elf.Ref{Kind: elf.RefMapValue, Map: ".rodata.str1.1", Offset: 6}},
		}},
		{"tailcall.o", "tail_entry", []ref{{2, elf.Ref{Kind: elf.RefMap, Map: "jump_table"}}}},
		{"loops.o", "loop_bpf_loop", []ref{{7, elf.Ref{Kind: elf.RefFunc, Func: "sum_squares", Target: 17}}}},
		{"subprog.o", "subprog_calls", []ref{
			{4, elf.Ref{Kind: elf.RefFunc, Func: "add3", Target: 15}},
			{8, elf.Ref{Kind: elf.RefFunc, Func: "mul_add", Target: 19}},
			{11, elf.Ref{Kind: elf.RefFunc, Func: "twice_add3", Target: 23}},
			{25, elf.Ref{Kind: elf.RefFunc, Func: "add3", Target: 15}},
		}},
		{"subprog.o", "subprog_shared", []ref{{2, elf.Ref{Kind: elf.RefFunc, Func: "mul_add", Target: 4}}}},
		{"histogram.o", "hist_skb", []ref{{31, elf.Ref{Kind: elf.RefMap, Map: "hist"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.prog, func(t *testing.T) {
			obj := load(t, tt.file)
			p := obj.Program(tt.prog)
			require.NotNil(t, p)
			slots := isa.SlotIndex(p.Insns)
			got := []ref{}
			for i := range p.Insns {
				if r, ok := p.Refs[i]; ok {
					got = append(got, ref{slots[i], r})
				}
			}
			require.Equal(t, tt.refs, got)
		})
	}
}

// TestRefEncoding checks the immediates behind the refs: relative slot
// offsets of calls and function pointers (which count a lddw as two
// slots), and the map index and offset of map loads.
func TestRefEncoding(t *testing.T) {
	obj := load(t, "loops.o")
	p := obj.Program("loop_bpf_loop")
	// "r2 = sum_squares" is at slot 7; the callback starts at instruction
	// 17, which is slot 18 because of the lddw itself.
	ins := p.Insns[7]
	require.True(t, ins.IsLDDW())
	require.Equal(t, isa.PseudoFunc, ins.Src)
	require.EqualValues(t, 10, ins.Imm)
	require.Equal(t, 18, isa.SlotIndex(p.Insns)[17])

	obj = load(t, "globals.o")
	p = obj.Program("strings")
	ins = p.Insns[9] // slot 12: .rodata.str1.1 + 6
	require.Equal(t, isa.PseudoMapValue, ins.Src)
	require.EqualValues(t, 6, ins.Imm>>32)
	require.Equal(t, ".rodata.str1.1", obj.Maps[ins.Imm&0xffffffff].Name)
}

// checkObject checks what must hold of every loaded object: refs exactly
// on the instructions that need them, consistent with the instructions and
// the maps; programs and maps found by name.
func checkObject(t testing.TB, obj *elf.Object) {
	t.Helper()
	for _, p := range obj.Programs {
		require.NotEmpty(t, p.Insns, p.Name)
		require.NotEmpty(t, p.Funcs, p.Name)
		require.Equal(t, elf.Func{Name: p.Name, Insn: 0}, p.Funcs[0])
		starts := map[int]string{}
		for _, f := range p.Funcs {
			starts[f.Insn] = f.Name
		}
		slots := isa.SlotIndex(p.Insns)
		_, err := isa.Encode(p.Insns)
		require.NoError(t, err, p.Name)
		for i, ins := range p.Insns {
			r, has := p.Refs[i]
			switch {
			case ins.IsLDDW() && (ins.Src == isa.PseudoMapFD || ins.Src == isa.PseudoMapValue):
				require.True(t, has, "%s: insn %d: map load without a ref", p.Name, i)
				m := obj.Map(r.Map)
				require.NotNil(t, m, "%s: insn %d: ref to missing map %s", p.Name, i, r.Map)
				require.Equal(t, m, obj.Maps[ins.Imm&0xffffffff])
				if ins.Src == isa.PseudoMapFD {
					require.Equal(t, elf.RefMap, r.Kind)
				} else {
					require.Equal(t, elf.RefMapValue, r.Kind)
					require.Equal(t, r.Offset, ins.Imm>>32)
					require.Less(t, r.Offset, int64(m.Spec.ValueSize))
				}
			case ins.IsLocalCall() || ins.IsLDDW() && ins.Src == isa.PseudoFunc:
				require.True(t, has, "%s: insn %d: function reference without a ref", p.Name, i)
				require.Equal(t, elf.RefFunc, r.Kind)
				require.Equal(t, r.Func, starts[r.Target])
				require.Equal(t, slots[r.Target], slots[i]+1+int(int32(ins.Imm)), "%s: insn %d", p.Name, i)
			default:
				require.False(t, has, "%s: insn %d (%s) has ref %v", p.Name, i, ins, r)
			}
		}
		require.LessOrEqual(t, len(p.Refs), len(p.Insns))
	}
	for _, m := range obj.Maps {
		require.Equal(t, m.Name, m.Spec.Name)
		if m.IsGlobalData() {
			require.Len(t, m.Contents, int(m.Spec.ValueSize))
		}
		for _, v := range m.Values {
			if v.Program != "" {
				require.NotNil(t, obj.Program(v.Program))
			} else {
				require.NotNil(t, obj.Map(v.Map))
			}
		}
	}
	for _, v := range obj.Variables {
		m := obj.Map(v.Map)
		require.NotNil(t, m, v.Name)
		require.LessOrEqual(t, int(v.Offset+v.Size), len(m.Contents), v.Name)
	}
}

// TestAgainstCilium checks the conversion against cilium/ebpf's own
// encoding of each program (which resolves function references the same
// way) and its map specs.
func TestAgainstCilium(t *testing.T) {
	for _, file := range objects(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			spec, err := ebpf.LoadCollectionSpec(file)
			require.NoError(t, err)
			obj, err := elf.Load(file)
			require.NoError(t, err)
			require.Len(t, obj.Programs, len(spec.Programs))
			for _, p := range obj.Programs {
				ps := spec.Programs[p.Name]
				require.NotNil(t, ps, p.Name)
				var buf bytes.Buffer
				require.NoError(t, ps.Instructions.Marshal(&buf, ps.ByteOrder))
				want, err := isa.Decode(buf.Bytes())
				require.NoError(t, err)
				require.Len(t, p.Insns, len(want))
				for i := range want {
					got := p.Insns[i]
					if _, ok := p.Refs[i]; ok && got.Src != isa.PseudoFunc && !got.IsLocalCall() {
						// Map loads carry ebpfvm's map index and offset.
						got.Imm, want[i].Imm = 0, 0
					}
					require.Equal(t, want[i], got, "%s: insn %d", p.Name, i)
				}
			}
			require.Len(t, obj.Maps, len(spec.Maps))
			for _, m := range obj.Maps {
				ms := spec.Maps[m.Name]
				require.NotNil(t, ms, m.Name)
				require.EqualValues(t, ms.Type, m.Spec.Type)
				require.Equal(t, ms.MaxEntries, m.Spec.MaxEntries)
			}
		})
	}
}

// TestCORE checks that core.o has CO-RE relocations, which load because
// they are against the context and packet headers.
func TestCORE(t *testing.T) {
	spec, err := ebpf.LoadCollectionSpec("../testdata/core.o")
	require.NoError(t, err)
	n := 0
	for _, ins := range spec.Programs["core_ttl"].Instructions {
		if btf.CORERelocationMetadata(&ins) != nil {
			n++
		}
	}
	require.Greater(t, n, 3)
	load(t, "core.o")
}

func TestUnsupported(t *testing.T) {
	tests := []struct {
		file    string
		section string
		program string
		insn    int
		feature string
	}{
		{"core_kernel.o", "kprobe/do_nanosleep", "core_kernel", 3, `CO-RE relocation CORERelocation(byte_off, Struct:"task_struct"`},
		{"extern_func.o", "socket", "extern_func", 1, "call to not_here, which no section of the object defines"},
		{"kconfig.o", "xdp", "kconfig", 0, "kernel configuration value (__kconfig extern)"},
		{"kfunc.o", "xdp", "kfunc", 0, "call to kernel function (kfunc) bpf_cast_to_kern_ctx"},
		{"ksym.o", "", "", -1, "bpf_prog_active"},
		{"sockmap.o", ".maps", "", -1, "map socks: map type sockmap"},
	}
	files, err := filepath.Glob("../testdata/bad/*.o")
	require.NoError(t, err)
	require.Len(t, files, len(tests))
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			obj, err := elf.Load(filepath.Join("../testdata/bad", tt.file))
			require.Nil(t, obj)
			var e *elf.Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tt.section, e.Section)
			require.Equal(t, tt.program, e.Program)
			require.Equal(t, tt.insn, e.Insn)
			require.Contains(t, e.Feature, tt.feature)
			require.Contains(t, err.Error(), "unsupported")
		})
	}
}

func TestErrorText(t *testing.T) {
	e := &elf.Error{Section: "xdp", Program: "prog", Insn: 4, Feature: "kfunc call"}
	require.Equal(t, "elf: section xdp, program prog, insn 4: unsupported: kfunc call", e.Error())
	e = &elf.Error{Section: ".maps", Insn: -1, Feature: "map type sockmap"}
	require.Equal(t, "elf: section .maps: unsupported: map type sockmap", e.Error())
}

func TestLoadErrors(t *testing.T) {
	_, err := elf.Load("../testdata/missing.o")
	require.ErrorIs(t, err, os.ErrNotExist)

	for _, in := range [][]byte{nil, []byte("\x7fELF"), []byte("not an object at all")} {
		_, err := elf.LoadReader(bytes.NewReader(in))
		require.Error(t, err, "%q", in)
	}
}

// TestTruncated loads every object cut at every multiple of 64 bytes.
func TestTruncated(t *testing.T) {
	for _, file := range objects(t) {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for n := 0; n < len(data); n += 64 {
			obj, err := elf.LoadReader(bytes.NewReader(data[:n]))
			require.Error(t, err, "%s truncated to %d bytes", file, n)
			require.Nil(t, obj)
		}
	}
}

// TestCorrupted flips random bytes of every object: loading may fail or
// not, but never panics, and what loads is consistent.
func TestCorrupted(t *testing.T) {
	for i, file := range objects(t) {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for j, in := range corruptions(data, uint64(i), 200) {
			obj, err := elf.LoadReader(bytes.NewReader(in))
			if err == nil {
				checkObject(t, obj)
			} else {
				require.Nil(t, obj, "%s corruption %d", file, j)
			}
		}
	}
}

// TestBadRelocations rewrites the relocations of subprog.o and globals.o:
// to a symbol that does not exist, to an instruction that cannot be
// relocated, and past the end of the section.
func TestBadRelocations(t *testing.T) {
	for _, file := range []string{"subprog.o", "globals.o", "maps.o"} {
		data, err := os.ReadFile(filepath.Join("../testdata", file))
		require.NoError(t, err)
		rels := relocations(t, data)
		require.NotEmpty(t, rels)
		for _, tt := range []struct {
			name   string
			mutate func(b []byte, r rel)
		}{
			{"symbol out of range", func(b []byte, r rel) { putU32(b[r.off+12:], 0xffff) }},
			{"offset past the section", func(b []byte, r rel) { putU64(b[r.off:], 1<<20) }},
			{"offset to a plain instruction", func(b []byte, r rel) { putU64(b[r.off:], r.target+8) }},
			{"unaligned offset", func(b []byte, r rel) { putU64(b[r.off:], r.target+3) }},
		} {
			for _, r := range rels {
				in := bytes.Clone(data)
				tt.mutate(in, r)
				name := fmt.Sprintf("%s: %s: relocation at %#x", file, tt.name, r.off)
				obj, err := elf.LoadReader(bytes.NewReader(in))
				if tt.name == "offset to a plain instruction" && err == nil {
					// The next slot may be the second half of a lddw or
					// another relocatable instruction; then only check.
					checkObject(t, obj)
					continue
				}
				require.Error(t, err, name)
			}
		}
	}
}

// TestHugeSections declares sections far larger than the file, which must
// fail before anything allocates their declared size.
func TestHugeSections(t *testing.T) {
	data, err := os.ReadFile("../testdata/globals.o")
	require.NoError(t, err)
	for _, tt := range []struct {
		section string
		size    uint64
		unsupp  bool
	}{
		{".bss", 1 << 40, true},
		{".bss", elf.MaxDataSize + 1, true},
		{"socket", 1 << 32, false},
		{".data", 1 << 62, false},
		{".BTF", 1 << 33, false},
	} {
		in := bytes.Clone(data)
		setSectionSize(t, in, tt.section, tt.size)
		_, err := elf.LoadReader(bytes.NewReader(in))
		require.Error(t, err, "%s of %d bytes", tt.section, tt.size)
		var e *elf.Error
		require.Equal(t, tt.unsupp, errors.As(err, &e), "%v", err)
	}
}

func TestLookup(t *testing.T) {
	obj := load(t, "histogram.o")
	require.Equal(t, "hist_event", obj.ProgramInSection("syscall").Name)
	require.Equal(t, "hist_skb", obj.ProgramInSection("socket").Name)
	require.Nil(t, obj.ProgramInSection("xdp"))
	require.Nil(t, obj.Program("nope"))
	require.Nil(t, obj.Map("nope"))
	require.Equal(t, "map hist", elf.Ref{Kind: elf.RefMap, Map: "hist"}.String())
	require.Equal(t, "map .data+4", elf.Ref{Kind: elf.RefMapValue, Map: ".data", Offset: 4}.String())
	require.Equal(t, "function f", elf.Ref{Kind: elf.RefFunc, Func: "f"}.String())
}
