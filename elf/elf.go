// Package elf loads eBPF programs and maps from the ELF objects that
// clang -target bpf writes. Parsing is cilium/ebpf's (LoadCollectionSpec);
// this package converts its result to ebpfvm's types: programs as isa
// instructions with their subprograms linked in, the references of their
// lddw and call instructions to maps, global data and functions, and map
// specs with their initial contents.
//
// Programs come out as the kernel would receive them from libbpf, except
// that map and global-data references are left to the loader: each such
// lddw keeps its pseudo source (isa.PseudoMapFD or isa.PseudoMapValue) and
// Program.Refs names the map it refers to.
//
// What needs the running kernel (kfuncs, __ksym and __kconfig externs, CO-RE
// relocations against kernel-internal types) or has no user-space meaning
// (socket maps, struct_ops, ...) is rejected with an *Error that names the
// section, the instruction and the feature.
package elf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/maps"
)

// Object is the content of an ELF object: its programs, maps and global
// variables, in the order the object defines them.
type Object struct {
	Programs []*Program
	// Maps holds the maps the object defines (in .maps or maps sections)
	// and one single-element array per global data section (.rodata,
	// .data, .bss, .rodata.str1.1, ...), named after the section.
	Maps []*Map
	// Variables are the global variables of the data sections.
	Variables []*Variable
	License   string
}

// Program returns the program called name, or nil.
func (o *Object) Program(name string) *Program {
	for _, p := range o.Programs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// ProgramInSection returns the first program in section, or nil.
func (o *Object) ProgramInSection(section string) *Program {
	for _, p := range o.Programs {
		if p.Section == section {
			return p
		}
	}
	return nil
}

// Map returns the map called name, or nil.
func (o *Object) Map(name string) *Map {
	for _, m := range o.Maps {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Program is one program of an object, with the subprograms it calls
// appended to its instructions.
type Program struct {
	// Name is the name of the program's function.
	Name string
	// Section is the ELF section the program is in ("xdp", "socket",
	// "kprobe/do_nanosleep", ...).
	Section string
	// Type is the ebpfvm program type the section names: "xdp",
	// "socket_filter", "hook" (sections "syscall", "hook" and "hook/..."),
	// "raw" for sections that name no kernel program type, else the kernel's
	// name ("kprobe", "tracepoint", "raw_tracepoint", "perf_event",
	// "cgroup_skb", "sched_cls", ...), for which ebpfvm may have no type.
	Type string
	// KernelType is the kernel's name of the program type the section
	// names (enum bpf_prog_type without BPF_PROG_TYPE_, in lower case:
	// "socket_filter", "xdp", "syscall", ...), or "" for none.
	KernelType string
	// AttachTo is what the section names after the type, e.g.
	// "do_nanosleep" for "kprobe/do_nanosleep", or "".
	AttachTo string
	// Insns are the program's instructions followed by those of the
	// functions it calls, directly or not. Calls to them (call with src 1)
	// and function pointers to them (lddw with src isa.PseudoFunc, as
	// bpf_loop callbacks) hold the relative offset in slots.
	Insns []isa.Instruction
	// Refs says, by instruction index, what a lddw or a call refers to.
	Refs map[int]Ref
	// Funcs lists the functions in Insns by their first instruction: the
	// program itself first, then its subprograms.
	Funcs   []Func
	License string
}

// Func is a function in a program's instructions.
type Func struct {
	Name string
	// Insn is the index of its first instruction in Program.Insns.
	Insn int
}

// RefKind is what an instruction refers to.
type RefKind uint8

// The kinds of references.
const (
	// RefMap is a lddw with src isa.PseudoMapFD: it loads a pointer to
	// (a handle of) the map Ref.Map.
	RefMap RefKind = iota + 1
	// RefMapValue is a lddw with src isa.PseudoMapValue: it loads the
	// address of byte Ref.Offset of the value of map Ref.Map, a global data
	// section (key 0 of a single-element array).
	RefMapValue
	// RefFunc is a bpf-to-bpf call (call with src 1) or a function pointer
	// (lddw with src isa.PseudoFunc) to function Ref.Func, whose first
	// instruction is Ref.Target. The instruction's immediate already holds
	// the relative offset in slots; nothing needs resolving.
	RefFunc
)

func (k RefKind) String() string {
	switch k {
	case RefMap:
		return "map"
	case RefMapValue:
		return "map value"
	case RefFunc:
		return "function"
	}
	return fmt.Sprintf("RefKind(%d)", uint8(k))
}

// Ref is what a lddw or call instruction refers to.
type Ref struct {
	Kind RefKind
	// Map is the name of the map (Object.Maps) for RefMap and RefMapValue.
	Map string
	// Offset is the byte offset into the map's value for RefMapValue.
	Offset int64
	// Func is the name of the function for RefFunc, and Target the index of
	// its first instruction in Program.Insns.
	Func   string
	Target int
}

func (r Ref) String() string {
	switch r.Kind {
	case RefMap:
		return "map " + r.Map
	case RefMapValue:
		return fmt.Sprintf("map %s+%d", r.Map, r.Offset)
	case RefFunc:
		return "function " + r.Func
	}
	return r.Kind.String()
}

// Map is a map an object defines.
type Map struct {
	// Name is the map's name: its variable's name, or the section's name
	// for global data (".rodata", ".data", ".bss", ".rodata.str1.1", ...).
	Name string
	// Section is the ELF section that defines the map: ".maps" (BTF-defined
	// maps), "maps" (legacy struct bpf_map_def), or the data section.
	Section string
	Spec    maps.Spec
	// Contents is the initial value of a global data section (zeroes for
	// .bss), to store under key 0; nil for other maps.
	Contents []byte
	// ReadOnly marks constant data (.rodata*): programs may not write it
	// (Spec.Flags has maps.FlagRdonlyProg) and the loader should freeze it
	// once filled, as libbpf does.
	ReadOnly bool
	// Values are the initial elements of a prog_array or a map-in-map
	// given in the object (the __array(values, ...) member).
	Values []MapValue
}

// IsGlobalData reports whether the map holds a global data section.
func (m *Map) IsGlobalData() bool { return m.Contents != nil }

// MapValue is an initial element of a prog_array (a program) or of an
// array_of_maps or hash_of_maps (a map).
type MapValue struct {
	Key uint32
	// Program names a program of the object for a prog_array, Map a map for
	// a map-in-map.
	Program string
	Map     string
}

// Variable is a global variable in a data section.
type Variable struct {
	Name string
	// Map is the data section's map (".rodata", ".bss", ...).
	Map    string
	Offset uint32
	Size   uint32
}

// Error reports an object that uses a feature ebpfvm does not support.
type Error struct {
	// Section is the ELF section of the program or map concerned.
	Section string
	// Program names the program, or is "" for a map.
	Program string
	// Insn is the slot index of the instruction in the program (as
	// "ebpfvm disasm" numbers it), or -1.
	Insn int
	// Feature says what is unsupported.
	Feature string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("elf: ")
	if e.Section != "" {
		fmt.Fprintf(&b, "section %s", e.Section)
		if e.Program != "" {
			fmt.Fprintf(&b, ", program %s", e.Program)
		}
		if e.Insn >= 0 {
			fmt.Fprintf(&b, ", insn %d", e.Insn)
		}
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "unsupported: %s", e.Feature)
	return b.String()
}

// Load reads the object in path.
func Load(path string) (*Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	obj, err := LoadReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return obj, nil
}

// LoadReader reads an object. Malformed input gives an error, never a
// panic.
func LoadReader(r io.ReaderAt) (obj *Object, err error) {
	defer func() {
		// cilium/ebpf guards debug/elf against panics; this guards the rest
		// of its parser, and this package, against inputs nobody foresaw.
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("elf: malformed object: %v", p)
		}
	}()
	syms, err := readSymbols(r)
	if err != nil {
		return nil, err
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(r)
	if err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			// cilium/ebpf rejects some features itself (typed __ksym
			// externs, .struct_ops, ...); its message names them.
			return nil, &Error{Insn: -1, Feature: err.Error()}
		}
		return nil, fmt.Errorf("elf: %w", err)
	}
	if spec.ByteOrder != binary.LittleEndian {
		return nil, &Error{Section: "", Insn: -1, Feature: "big-endian object (compile with -target bpfel or bpf on a little-endian host)"}
	}
	c := &converter{spec: spec, syms: syms, obj: &Object{}, mapIndex: map[string]int{}}
	if err := c.convertMaps(); err != nil {
		return nil, err
	}
	if err := c.convertPrograms(); err != nil {
		return nil, err
	}
	if err := c.checkMapValues(); err != nil {
		return nil, err
	}
	return c.obj, nil
}

// symbol is where the ELF symbol table puts a function or map.
type symbol struct {
	section string
	index   int // section index
	value   uint64
}

// symbols indexes the object's symbols by name, for what cilium/ebpf's
// spec does not keep: the order of programs and maps, and the sections of
// maps.
type symbols struct {
	byName   map[string]symbol
	sections map[string]int // section name -> index
	license  string
}

func readSymbols(r io.ReaderAt) (*symbols, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("elf: %w", err)
	}
	s := &symbols{byName: map[string]symbol{}, sections: map[string]int{}}
	for i, sec := range f.Sections {
		if err := checkSize(r, sec); err != nil {
			return nil, err
		}
		if _, dup := s.sections[sec.Name]; !dup {
			s.sections[sec.Name] = i
		}
		if strings.HasPrefix(sec.Name, "license") && s.license == "" {
			data, err := sec.Data()
			if err != nil {
				return nil, fmt.Errorf("elf: section %s: %w", sec.Name, err)
			}
			s.license, _, _ = strings.Cut(string(data), "\x00")
		}
	}
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return nil, fmt.Errorf("elf: symbols: %w", err)
	}
	for _, sym := range syms {
		if sym.Name == "" || int(sym.Section) >= len(f.Sections) {
			continue
		}
		t := elf.ST_TYPE(sym.Info)
		if t != elf.STT_FUNC && t != elf.STT_OBJECT && t != elf.STT_NOTYPE {
			continue
		}
		if _, dup := s.byName[sym.Name]; dup {
			continue
		}
		s.byName[sym.Name] = symbol{section: f.Sections[sym.Section].Name, index: int(sym.Section), value: sym.Value}
	}
	if err := checkRelocations(f, len(syms)); err != nil {
		return nil, err
	}
	return s, nil
}

// MaxDataSize bounds the size of a global data section: the kernel's
// KMALLOC_MAX_SIZE (4 MiB with 4 KiB pages), above which it refuses an
// array map's value size.
const MaxDataSize = 4 << 20

// checkSize rejects sections whose size would make cilium/ebpf allocate
// memory the file does not back: sections that extend past the end of the
// file, and oversized .bss sections, which are allocated zeroed.
func checkSize(r io.ReaderAt, sec *elf.Section) error {
	if sec.Type == elf.SHT_NOBITS {
		if isDataSection(sec.Name) && sec.Size > MaxDataSize {
			return &Error{Section: sec.Name, Insn: -1, Feature: fmt.Sprintf("global data section of %d bytes (the limit is %d)", sec.Size, MaxDataSize)}
		}
		return nil
	}
	if sec.Size == 0 || sec.Type == elf.SHT_NULL {
		return nil
	}
	end := sec.Offset + sec.Size
	var b [1]byte
	if end < sec.Offset || end > 1<<62 {
		return fmt.Errorf("elf: section %s: offset %#x and size %#x overflow", sec.Name, sec.Offset, sec.Size)
	}
	if _, err := r.ReadAt(b[:], int64(end-1)); err != nil {
		return fmt.Errorf("elf: section %s: %d bytes at offset %#x extend past the end of the file", sec.Name, sec.Size, sec.Offset)
	}
	return nil
}

// checkRelocations checks the relocations of code sections, which
// cilium/ebpf applies to whatever instruction they point at: each must
// point at the start of a lddw or call and name an existing symbol.
func checkRelocations(f *elf.File, nsyms int) error {
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_REL || int(sec.Info) >= len(f.Sections) {
			continue
		}
		target := f.Sections[sec.Info]
		if target.Flags&elf.SHF_EXECINSTR == 0 || target.Type == elf.SHT_NOBITS {
			continue
		}
		if sec.Entsize != 16 {
			return fmt.Errorf("elf: section %s: relocation entries of %d bytes, not 16", sec.Name, sec.Entsize)
		}
		code, err := target.Data()
		if err != nil {
			return fmt.Errorf("elf: section %s: %w", target.Name, err)
		}
		rels, err := sec.Data()
		if err != nil {
			return fmt.Errorf("elf: section %s: %w", sec.Name, err)
		}
		starts := make([]bool, len(code)/isa.SlotSize)
		for i := 0; i < len(starts); i++ {
			starts[i] = true
			if code[i*isa.SlotSize] == byte(isa.OpLDDW) {
				i++
			}
		}
		for i := 0; i+16 <= len(rels); i += 16 {
			off := f.ByteOrder.Uint64(rels[i:])
			sym := f.ByteOrder.Uint64(rels[i+8:]) >> 32
			fail := func(format string, args ...any) error {
				return fmt.Errorf("elf: section %s: relocation %d (offset %#x): %s", sec.Name, i/16, off, fmt.Sprintf(format, args...))
			}
			switch {
			case sym == 0 || sym > uint64(nsyms):
				return fail("symbol %d does not exist", sym)
			case off%isa.SlotSize != 0 || off/isa.SlotSize >= uint64(len(starts)) || !starts[off/isa.SlotSize]:
				return fail("not at an instruction of %s", target.Name)
			}
			if op := isa.Opcode(code[off]); op != isa.OpLDDW && op != isa.OpCall {
				return fail("relocates %#02x, which is neither lddw nor call", byte(op))
			}
		}
	}
	return nil
}

// position orders programs and maps as the object defines them: by
// section, then offset. Names without a symbol sort last.
func (s *symbols) position(name string) (int, uint64) {
	if sym, ok := s.byName[name]; ok {
		return sym.index, sym.value
	}
	if i, ok := s.sections[name]; ok {
		return i, 0
	}
	return 1 << 30, 0
}

func (s *symbols) less(a, b string) int {
	ai, av := s.position(a)
	bi, bv := s.position(b)
	switch {
	case ai != bi:
		return ai - bi
	case av != bv:
		if av < bv {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

type converter struct {
	spec     *ebpf.CollectionSpec
	syms     *symbols
	obj      *Object
	mapIndex map[string]int
}

func (c *converter) convertMaps() error {
	names := make([]string, 0, len(c.spec.Maps))
	for name := range c.spec.Maps {
		names = append(names, name)
	}
	slices.SortFunc(names, c.syms.less)
	for _, name := range names {
		ms := c.spec.Maps[name]
		m, err := c.convertMap(name, ms)
		if err != nil {
			return err
		}
		c.mapIndex[name] = len(c.obj.Maps)
		c.obj.Maps = append(c.obj.Maps, m)
	}
	for _, v := range c.spec.Variables {
		c.obj.Variables = append(c.obj.Variables, &Variable{Name: v.Name, Map: v.SectionName, Offset: v.Offset, Size: v.Size()})
	}
	slices.SortFunc(c.obj.Variables, func(a, b *Variable) int {
		if d := c.syms.less(a.Map, b.Map); d != 0 {
			return d
		}
		return int(a.Offset) - int(b.Offset)
	})
	return nil
}

func (c *converter) mapSection(name string) string {
	if isDataSection(name) {
		return name
	}
	if sym, ok := c.syms.byName[name]; ok {
		return sym.section
	}
	return ".maps"
}

func isDataSection(name string) bool {
	return name == ".bss" || strings.HasPrefix(name, ".data") || strings.HasPrefix(name, ".rodata")
}

func (c *converter) convertMap(name string, ms *ebpf.MapSpec) (*Map, error) {
	section := c.mapSection(name)
	fail := func(format string, args ...any) error {
		return &Error{Section: section, Insn: -1, Feature: fmt.Sprintf("map %s: ", name) + fmt.Sprintf(format, args...)}
	}
	spec, err := convertSpec(name, ms, 0)
	if err != nil {
		return nil, fail("%v", err)
	}
	m := &Map{Name: name, Section: section, Spec: *spec}
	if ms.Extra != nil {
		extra, _ := io.ReadAll(io.NewSectionReader(ms.Extra, 0, ms.Extra.Size()))
		if slices.ContainsFunc(extra, func(b byte) bool { return b != 0 }) {
			return nil, fail("legacy map definition with fields after map_flags (iproute2's struct bpf_elf_map: pinning, map-in-map ids)")
		}
	}
	if isDataSection(name) && section == name {
		if len(ms.Contents) != 1 {
			return nil, fail("global data section with %d values", len(ms.Contents))
		}
		data, ok := ms.Contents[0].Value.([]byte)
		if !ok || uint32(len(data)) != ms.ValueSize {
			return nil, fail("global data section contents do not match its size")
		}
		m.Contents = slices.Clone(data)
		m.ReadOnly = strings.HasPrefix(name, ".rodata")
		if m.Contents == nil {
			m.Contents = []byte{}
		}
		return m, nil
	}
	for _, kv := range ms.Contents {
		key, ok := kv.Key.(uint32)
		target, ok2 := kv.Value.(string)
		if !ok || !ok2 {
			return nil, fail("initial contents other than program or map references")
		}
		switch ms.Type {
		case ebpf.ProgramArray:
			m.Values = append(m.Values, MapValue{Key: key, Program: target})
		case ebpf.ArrayOfMaps, ebpf.HashOfMaps:
			m.Values = append(m.Values, MapValue{Key: key, Map: target})
		default:
			return nil, fail("initial values in a %s map", spec.Type)
		}
	}
	return m, nil
}

// convertSpec converts a map spec and its inner map's.
func convertSpec(name string, ms *ebpf.MapSpec, depth int) (*maps.Spec, error) {
	t := maps.MapType(ms.Type)
	if !t.Supported() {
		return nil, fmt.Errorf("map type %s", t)
	}
	s := &maps.Spec{
		Name:       name,
		Type:       t,
		KeySize:    ms.KeySize,
		ValueSize:  ms.ValueSize,
		MaxEntries: ms.MaxEntries,
		Flags:      ms.Flags,
		MapExtra:   ms.MapExtra,
	}
	if t == maps.ArrayOfMaps || t == maps.HashOfMaps {
		switch {
		case ms.InnerMap == nil:
			return nil, fmt.Errorf("%s without an inner map definition", t)
		case depth > 0 || ms.InnerMap == ms:
			return nil, fmt.Errorf("nested map-in-map")
		}
		inner, err := convertSpec(name+".inner", ms.InnerMap, depth+1)
		if err != nil {
			return nil, fmt.Errorf("inner map: %w", err)
		}
		s.InnerMap = inner
		// Outer maps hold 4-byte handles; BTF map definitions leave the
		// value size to the loader, as the kernel's fd does.
		if s.ValueSize == 0 {
			s.ValueSize = 4
		}
	}
	if t == maps.ProgramArray && s.ValueSize == 0 {
		s.ValueSize = 4
	}
	return s, nil
}

// checkMapValues checks that initial map values name programs and maps of
// the object.
func (c *converter) checkMapValues() error {
	for _, m := range c.obj.Maps {
		for _, v := range m.Values {
			switch {
			case v.Program != "" && !slices.ContainsFunc(c.obj.Programs, func(p *Program) bool { return p.Name == v.Program }):
				return &Error{Section: m.Section, Insn: -1, Feature: fmt.Sprintf("map %s: element %d refers to %s, which is not a program of the object", m.Name, v.Key, v.Program)}
			case v.Map != "":
				if _, ok := c.mapIndex[v.Map]; !ok {
					return &Error{Section: m.Section, Insn: -1, Feature: fmt.Sprintf("map %s: element %d refers to %s, which is not a map of the object", m.Name, v.Key, v.Map)}
				}
			}
		}
	}
	return nil
}

func (c *converter) convertPrograms() error {
	names := make([]string, 0, len(c.spec.Programs))
	for name := range c.spec.Programs {
		names = append(names, name)
	}
	slices.SortFunc(names, c.syms.less)
	c.obj.License = c.syms.license
	for _, name := range names {
		p, err := c.convertProgram(c.spec.Programs[name])
		if err != nil {
			return err
		}
		c.obj.Programs = append(c.obj.Programs, p)
	}
	return nil
}

func (c *converter) convertProgram(ps *ebpf.ProgramSpec) (*Program, error) {
	p := &Program{
		Name:       ps.Name,
		Section:    ps.SectionName,
		KernelType: kernelTypeName(ps.Type),
		AttachTo:   ps.AttachTo,
		License:    ps.License,
		Refs:       map[int]Ref{},
	}
	p.Type = ebpfvmType(p.KernelType, ps.SectionName)
	fail := func(slot int, format string, args ...any) error {
		return &Error{Section: p.Section, Program: p.Name, Insn: slot, Feature: fmt.Sprintf(format, args...)}
	}

	// Work on a copy: Marshal below writes function offsets into it.
	insns := slices.Clone(ps.Instructions)
	if len(insns) == 0 {
		return nil, fail(-1, "empty program")
	}
	slots := make([]int, len(insns)+1)
	funcs := map[string]int{}
	for i := range insns {
		slots[i+1] = slots[i] + int(insns[i].Width())
		if sym := insns[i].Symbol(); sym != "" {
			if _, dup := funcs[sym]; dup {
				return nil, fail(slots[i], "function %s appears twice", sym)
			}
			funcs[sym] = i
			p.Funcs = append(p.Funcs, Func{Name: sym, Insn: i})
		}
	}
	if err := c.checkCORE(p, insns, slots); err != nil {
		return nil, err
	}

	refs := make([]Ref, len(insns))
	for i := range insns {
		ins := &insns[i]
		ref := ins.Reference()
		switch {
		case ins.IsKfuncCall():
			return nil, fail(slots[i], "call to kernel function (kfunc) %s", ref)
		case ins.IsFunctionReference():
			target, ok := funcs[ref]
			if !ok {
				if ref == "" {
					return nil, fail(slots[i], "bpf-to-bpf call without a relocation")
				}
				return nil, fail(slots[i], "call to %s, which no section of the object defines", ref)
			}
			refs[i] = Ref{Kind: RefFunc, Func: ref, Target: target}
			// Make Marshal compute the offset from the reference, also for
			// calls clang encoded relative to their section.
			ins.Constant = -1
		case ins.OpCode.IsDWordLoad():
			r, err := c.convertLoad(ins)
			if err != nil {
				return nil, fail(slots[i], "%v", err)
			}
			refs[i] = r
		case ins.OpCode.JumpOp() == asm.Call && ins.Src != asm.R0:
			return nil, fail(slots[i], "call with source %d", ins.Src)
		}
	}

	var buf bytes.Buffer
	if err := insns.Marshal(&buf, binary.LittleEndian); err != nil {
		return nil, fail(-1, "encoding instructions: %v", err)
	}
	decoded, err := isa.Decode(buf.Bytes())
	if err != nil {
		var de *isa.DecodeError
		if errors.As(err, &de) {
			return nil, fail(de.Index, "instruction: %s", de.Reason)
		}
		return nil, fail(-1, "%v", err)
	}
	if len(decoded) != len(insns) {
		return nil, fail(-1, "decoded %d instructions from %d", len(decoded), len(insns))
	}
	for i, r := range refs {
		switch r.Kind {
		case 0:
			continue
		case RefMap:
			decoded[i].Imm = int64(c.mapIndex[r.Map])
		case RefMapValue:
			decoded[i].Imm = r.Offset<<32 | int64(c.mapIndex[r.Map])
		case RefFunc:
			// A check of cilium/ebpf's encoding rather than of the input.
			if got := slots[i] + 1 + int(int32(decoded[i].Imm)); got != slots[r.Target] {
				return nil, fail(slots[i], "call to %s encoded to slot %d, not %d", r.Func, got, slots[r.Target])
			}
		}
		p.Refs[i] = r
	}
	p.Insns = decoded
	return p, nil
}

// convertLoad checks a lddw and returns what it refers to.
func (c *converter) convertLoad(ins *asm.Instruction) (Ref, error) {
	ref := ins.Reference()
	switch ins.Src {
	case asm.PseudoMapFD, asm.PseudoMapValue:
		if ref == "" && ins.Src == asm.PseudoMapValue && c.hasKconfig() {
			// cilium/ebpf marks __kconfig loads with metadata only it can
			// read, and leaves them without a reference.
			return Ref{}, fmt.Errorf("kernel configuration value (__kconfig extern)")
		}
		if ref == "" {
			return Ref{}, fmt.Errorf("map load without a relocation")
		}
		if _, ok := c.mapIndex[ref]; !ok {
			return Ref{}, fmt.Errorf("load of %s, which is not a map of the object", ref)
		}
		if ins.Src == asm.PseudoMapFD {
			return Ref{Kind: RefMap, Map: ref}, nil
		}
		off := int64(uint64(ins.Constant) >> 32)
		m := c.obj.Maps[c.mapIndex[ref]]
		if off >= int64(m.Spec.ValueSize) && m.Spec.ValueSize > 0 {
			return Ref{}, fmt.Errorf("offset %d past the end of %s (%d bytes)", off, ref, m.Spec.ValueSize)
		}
		return Ref{Kind: RefMapValue, Map: ref, Offset: off}, nil
	case asm.R0:
		if ref != "" {
			return Ref{}, fmt.Errorf("address of kernel symbol %s (__ksym extern)", ref)
		}
		return Ref{}, nil
	}
	return Ref{}, fmt.Errorf("lddw with pseudo source %d", ins.Src)
}

func (c *converter) hasKconfig() bool {
	if c.spec.Types == nil {
		return false
	}
	_, err := c.spec.Types.AnyTypeByName(".kconfig")
	return err == nil
}

// fixedTypes are the types whose layout is the same in every kernel: the
// contexts ebpfvm emulates and wire-format headers. A CO-RE relocation
// against them resolves to what the program was compiled with.
var fixedTypes = []string{
	"xdp_md", "__sk_buff", "bpf_sock", "bpf_sock_tuple", "bpf_flow_keys",
	"ethhdr", "vlan_hdr", "iphdr", "ipv6hdr", "tcphdr", "udphdr", "icmphdr", "icmp6hdr",
	"in_addr", "in6_addr", "arphdr",
}

// checkCORE accepts the CO-RE relocations of a program that hold without
// kernel BTF: those against fixedTypes, resolved against the object's own
// definitions of these types, which leave the instructions unchanged.
func (c *converter) checkCORE(p *Program, insns asm.Instructions, slots []int) error {
	var relos []*btf.CORERelocation
	var at []int
	for i := range insns {
		if r := btf.CORERelocationMetadata(&insns[i]); r != nil {
			relos = append(relos, r)
			at = append(at, i)
		}
	}
	if len(relos) == 0 {
		return nil
	}
	fail := func(i int, format string, args ...any) error {
		return &Error{Section: p.Section, Program: p.Name, Insn: slots[at[i]], Feature: fmt.Sprintf(format, args...)}
	}
	local := c.spec.Types
	if local == nil {
		return fail(0, "CO-RE relocation without BTF")
	}
	var types []btf.Type
	for _, name := range fixedTypes {
		ts, _ := local.AnyTypesByName(name)
		types = append(types, ts...)
	}
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		return fail(0, "CO-RE relocation: %v", err)
	}
	target, err := b.Spec()
	if err != nil {
		return fail(0, "CO-RE relocation: %v", err)
	}
	fixups, err := btf.CORERelocate(relos, []*btf.Spec{target}, binary.LittleEndian, local.TypeID)
	if err != nil {
		return fail(0, "CO-RE relocation: %v", err)
	}
	for i, f := range fixups {
		// COREFixup keeps its values private; its text is "kind=local->target"
		// or "kind=poison".
		s := f.String()
		_, vals, _ := strings.Cut(s, "=")
		l, t, ok := strings.Cut(vals, "->")
		if !ok || l != t {
			return fail(i, "CO-RE relocation %v needs the kernel's BTF", relos[i])
		}
	}
	return nil
}

// kernelTypes are the kernel's names of program types, indexed by enum
// bpf_prog_type (which cilium/ebpf's ProgramType follows).
var kernelTypes = [...]string{
	"", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp",
	"perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit",
	"sock_ops", "sk_skb", "cgroup_device", "sk_msg", "raw_tracepoint",
	"cgroup_sock_addr", "lwt_seg6local", "lirc_mode2", "sk_reuseport",
	"flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable",
	"cgroup_sockopt", "tracing", "struct_ops", "ext", "lsm", "sk_lookup",
	"syscall", "netfilter",
}

func kernelTypeName(t ebpf.ProgramType) string {
	if int(t) < len(kernelTypes) {
		return kernelTypes[t]
	}
	return fmt.Sprintf("prog_type_%d", uint32(t))
}

// ebpfvmType names the ebpfvm program type of a program. Syscall programs
// take the caller's memory as their context, as ebpfvm's hooks do, which
// makes "syscall" the kernel type to compare hooks against.
func ebpfvmType(kernel, section string) string {
	switch {
	case kernel == "syscall" || section == "hook" || strings.HasPrefix(section, "hook/"):
		return "hook"
	case kernel == "":
		return "raw"
	}
	return kernel
}
