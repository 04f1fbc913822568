// Package progen generates random but well-formed eBPF programs that the
// Linux verifier accepts, for differential testing against the kernel, and
// shrinks a program that shows a difference to a minimal one.
//
// A program is a prologue, a body of blocks and an epilogue. The prologue
// keeps the context in r6, gives every other register a constant (edge
// cases: 0, -1, INT_MIN, INT_MAX, ...) and initialises the 64-byte data area
// of the stack. Each block is a small snippet of one instruction family
// (see Mix) that leaves the same invariant behind it: r0-r5 and r7-r9 hold
// scalars, r6 the context, the data area is initialised. Pointers live only
// inside a block, so that no pointer value (which differs between the
// kernel and ebpfvm by design) ever reaches r0, a map or the packet.
// Forward branches land on block boundaries. The epilogue stores r0-r5,
// r7-r9 and the data area into the "out" map, so that a difference in any
// of them shows up.
//
// What the kernel's verifier refuses is avoided by construction: shifts by
// an immediate at least the width and division by an immediate zero are
// generated only through registers; loops count a reserved register up or
// down to a constant; the code after a goto is always a branch target; map
// values are used only behind a NULL check and packet bytes only behind a
// data_end check; stack and atomic accesses are aligned.
package progen

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
)

// Config configures Generate.
type Config struct {
	// Mix selects the instruction families; 0 means MixAll.
	Mix Mix
	// Types are the program types to choose from (kernel.TypeXDP,
	// kernel.TypeSocketFilter); nil means both.
	Types []string
	// Blocks is the number of blocks in the body; 0 means a random number
	// between 4 and 32.
	Blocks int
}

// Program is a generated test case: a program with its maps and the input
// to run it on.
type Program struct {
	// Seed and Index reproduce the program: Generate(Seed, Index, cfg).
	Seed  uint64
	Index int
	Spec  *kernel.Spec
	Input kernel.Input
	// Out is the map the epilogue dumps the registers and the stack into,
	// and OutSlots names each 8-byte slot of its value ("r0", "fp-64").
	Out      string
	OutSlots []string
}

// Clone returns a deep copy of p.
func (p *Program) Clone() *Program {
	c := *p
	c.Spec = p.Spec.Clone()
	c.Input = kernel.Input{Data: bytes.Clone(p.Input.Data), Context: bytes.Clone(p.Input.Context)}
	c.OutSlots = slices.Clone(p.OutSlots)
	return &c
}

// Map names.
const (
	MapOut    = "out"    // the epilogue's dump: one array element
	mapArr    = "arr"    // array map for lookups and updates
	mapHash   = "hash"   // hash map for lookups, updates and deletes
	mapGlob   = "glob"   // one-element array for direct value access
	mapPerCPU = "parr"   // per-CPU array for lookups
	mapQueue  = "queue"  // queue for push, pop and peek
	mapStack  = "stack"  // stack for push, pop and peek
	mapRodata = "rodata" // read-only strings: formats and strncmp operands
)

// Stack layout of the main function, below r10.
const (
	dataArea = 64 // fp-64 .. fp-1: initialised by the prologue, dumped by the epilogue
	keySlot  = -72
)

// scalarRegs are the registers that hold scalars between blocks.
var scalarRegs = []isa.Register{isa.R0, isa.R1, isa.R2, isa.R3, isa.R4, isa.R5, isa.R7, isa.R8, isa.R9}

// Generate returns program index of the campaign seeded with seed. The same
// arguments always give the same program.
func Generate(seed uint64, index int, cfg Config) *Program {
	g := &gen{
		r:      rand.New(rand.NewPCG(seed, uint64(index))),
		mix:    cfg.Mix,
		labels: []int{},
		maps:   map[string]*kernel.Map{},
	}
	if g.mix == 0 {
		g.mix = MixAll
	}
	types := cfg.Types
	if len(types) == 0 {
		types = []string{kernel.TypeXDP, kernel.TypeSocketFilter}
	}
	g.typ = types[g.r.IntN(len(types))]
	// Legacy packet loads cannot be mixed with bpf-to-bpf calls.
	if g.typ == kernel.TypeSocketFilter && g.mix&MixCalls != 0 && g.mix&MixPacket != 0 {
		if g.r.IntN(2) == 0 {
			g.mix &^= MixCalls
		} else {
			g.mix &^= MixPacket
		}
	}
	blocks := cfg.Blocks
	if blocks <= 0 {
		blocks = 4 + g.r.IntN(29)
	}
	g.setupMaps()
	if g.mix&MixHelpers != 0 {
		g.setupRodata()
	}
	g.prologue()
	for range blocks {
		g.block(0)
		g.boundary()
	}
	g.flush(-1)
	slots := g.epilogue()
	g.subprograms()
	insns, refs := g.resolve()
	p := &Program{
		Seed:  seed,
		Index: index,
		Spec: &kernel.Spec{
			Program: &kernel.Program{Name: "progen", Type: g.typ, Instructions: insns, References: refs},
			Maps:    g.maps,
		},
		Input:    g.input(),
		Out:      MapOut,
		OutSlots: slots,
	}
	return p
}

// item is one instruction being generated; a branch, call or function
// pointer names its target by label until resolve.
type item struct {
	ins   isa.Instruction
	label int // -1: none
	ref   *kernel.Reference
}

type pending struct {
	label  int
	blocks int // block boundaries left before it is placed
	scope  int // loop depth it was opened at
}

type gen struct {
	r        *rand.Rand
	mix      Mix
	typ      string
	items    []item
	labels   []int // label id -> item index, -1 while unplaced
	pending  []pending
	reserved [16]bool // loop counters
	depth    int
	maps     map[string]*kernel.Map
	glob     uint32 // value size of the glob map
	arrVS    uint32
	arrMax   uint32
	hashKS   uint32
	hashVS   uint32
	subs     []subprog
	// callback is set while generating a bpf_loop callback, whose exits
	// must return 0 or 1.
	callback bool
	// rodataOff is the offset of each of rodataStrings in the rodata map.
	rodataOff []int
	// mayGoto is set once a loop has a may_goto.
	mayGoto bool
}

type subprog struct {
	label    int
	callback bool // a bpf_loop callback: r1 index, r2 a pointer into the caller's data area
}

func (g *gen) emit(ins ...isa.Instruction) {
	for _, in := range ins {
		g.items = append(g.items, item{ins: in, label: -1})
	}
}

func (g *gen) emitJump(ins isa.Instruction, label int) {
	g.items = append(g.items, item{ins: ins, label: label})
}

func (g *gen) emitRef(ins isa.Instruction, ref kernel.Reference) {
	g.items = append(g.items, item{ins: ins, label: -1, ref: &ref})
}

func (g *gen) newLabel() int {
	g.labels = append(g.labels, -1)
	return len(g.labels) - 1
}

func (g *gen) place(l int) { g.labels[l] = len(g.items) }

// forward opens a label placed after 1 to max block boundaries (within the
// current loop body, if any).
func (g *gen) forward(max int) int {
	l := g.newLabel()
	g.pending = append(g.pending, pending{label: l, blocks: 1 + g.r.IntN(max), scope: g.depth})
	return l
}

// boundary marks the end of a block: pending labels due here are placed.
func (g *gen) boundary() {
	kept := g.pending[:0]
	for _, p := range g.pending {
		p.blocks--
		if p.blocks <= 0 {
			g.place(p.label)
		} else {
			kept = append(kept, p)
		}
	}
	g.pending = kept
}

// flush places the pending labels opened at loop depth scope (all with -1).
func (g *gen) flush(scope int) {
	kept := g.pending[:0]
	for _, p := range g.pending {
		if scope < 0 || p.scope == scope {
			g.place(p.label)
		} else {
			kept = append(kept, p)
		}
	}
	g.pending = kept
}

func (g *gen) chance(percent int) bool { return g.r.IntN(100) < percent }

// reg picks a scalar register that is not a loop counter.
func (g *gen) reg() isa.Register {
	for {
		r := scalarRegs[g.r.IntN(len(scalarRegs))]
		if !g.reserved[r] {
			return r
		}
	}
}

// regExcept picks a scalar register other than the ones given.
func (g *gen) regExcept(not ...isa.Register) isa.Register {
	for {
		r := g.reg()
		if !slices.Contains(not, r) {
			return r
		}
	}
}

var edge32 = []int32{0, 1, -1, 2, -2, 3, 7, -7, 8, 31, 32, 33, 63, 64, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
	math.MaxInt32, math.MinInt32, math.MaxInt32 - 1, math.MinInt32 + 1, 0x55555555, -0x55555556}

var edge64 = []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1,
	math.MaxInt32, math.MinInt32, 1 << 31, 1<<32 - 1, 1 << 32, 1<<32 + 1, -1 << 32, 0x7fffffff80000000,
	0x0123456789abcdef, -0x0123456789abcdef, -0x7fffffffffffffff, -0x100000000}

func (g *gen) imm32() int32 {
	switch g.r.IntN(3) {
	case 0:
		return edge32[g.r.IntN(len(edge32))]
	case 1:
		return int32(g.r.IntN(33) - 16)
	}
	return int32(g.r.Uint32())
}

func (g *gen) imm64() int64 {
	if g.chance(50) {
		return edge64[g.r.IntN(len(edge64))]
	}
	return int64(g.r.Uint64())
}

// setConst gives r a random value.
func (g *gen) setConst(r isa.Register) {
	switch g.r.IntN(4) {
	case 0:
		g.emit(isa.LoadImm64(r, g.imm64()))
	case 1:
		g.emit(isa.ALUMov.Imm32(r, g.imm32()))
	default:
		g.emit(isa.ALUMov.Imm(r, g.imm32()))
	}
}

// restore makes r a scalar again after a block used it for a pointer.
func (g *gen) restore(r isa.Register, not ...isa.Register) {
	if g.chance(50) {
		g.setConst(r)
		return
	}
	src := g.regExcept(append(not, r)...)
	g.emit(isa.ALUMov.Reg(r, src))
}

func (g *gen) prologue() {
	g.emit(isa.ALUMov.Reg(isa.R6, isa.R1))
	for _, r := range scalarRegs {
		g.setConst(r)
	}
	for off := -dataArea; off < 0; off += 8 {
		if g.chance(50) {
			g.emit(isa.StoreImm(isa.R10, int16(off), g.imm32(), isa.SizeDW))
		} else {
			g.emit(isa.Store(isa.R10, int16(off), g.reg(), isa.SizeDW))
		}
	}
}

// epilogue dumps the registers and the data area into the out map and
// exits; it returns the names of the dumped slots.
func (g *gen) epilogue() []string {
	var slots []string
	g.emitRef(isa.LoadPseudo(isa.R6, isa.PseudoMapValue, 0, 0), kernel.Reference{Map: MapOut, Value: true})
	off := int16(0)
	for _, r := range scalarRegs {
		g.emit(isa.Store(isa.R6, off, r, isa.SizeDW))
		slots = append(slots, r.String())
		off += 8
	}
	for s := -dataArea; s < 0; s += 8 {
		g.emit(isa.Load(isa.R1, isa.R10, int16(s), isa.SizeDW), isa.Store(isa.R6, off, isa.R1, isa.SizeDW))
		slots = append(slots, "fp"+itoa(s))
		off += 8
	}
	g.emit(isa.Return())
	g.maps[MapOut] = &kernel.Map{Spec: ebpfmaps.Spec{Type: ebpfmaps.Array, KeySize: 4, ValueSize: uint32(off), MaxEntries: 1}}
	return slots
}

func itoa(v int) string {
	if v < 0 {
		return "-" + itoa(-v)
	}
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

// block generates one block of a family the mix allows. depth > 0 inside
// loop bodies and subprograms, which get only self-contained families.
func (g *gen) block(depth int) {
	type choice struct {
		mix    Mix
		weight int
		fn     func()
	}
	choices := []choice{
		{MixALU, 30, g.aluBlock},
		{MixJMP, 12, g.jmpBlock},
		{MixMem, 14, g.memBlock},
	}
	if depth == 0 {
		choices = append(choices,
			choice{MixMaps, 10, g.mapBlock},
			choice{MixLoops, 5, g.loopBlock},
			choice{MixPacket, 10, g.packetBlock},
			choice{MixCtx, 6, g.ctxBlock},
			choice{MixHelpers, 6, g.helperBlock},
			choice{MixCalls, 4, g.callBlock},
		)
	}
	total := 0
	for _, c := range choices {
		if g.mix&c.mix != 0 {
			total += c.weight
		}
	}
	if total == 0 {
		g.aluBlock()
		return
	}
	n := g.r.IntN(total)
	for _, c := range choices {
		if g.mix&c.mix == 0 {
			continue
		}
		if n < c.weight {
			c.fn()
			return
		}
		n -= c.weight
	}
}

// resolve turns labels into offsets and returns the instructions and the
// map references by instruction index.
func (g *gen) resolve() ([]isa.Instruction, map[int]kernel.Reference) {
	insns := make([]isa.Instruction, len(g.items))
	refs := map[int]kernel.Reference{}
	for i, it := range g.items {
		insns[i] = it.ins
		if it.ref != nil {
			refs[i] = *it.ref
		}
	}
	slots := isa.SlotIndex(insns)
	for i, it := range g.items {
		if it.label < 0 {
			continue
		}
		target := g.labels[it.label]
		if target < 0 {
			panic("progen: unplaced label") // a generator bug, not bad input
		}
		rel := int64(slots[target] - slots[i] - 1)
		ins := &insns[i]
		if ins.Opcode == isa.OpJA32 || ins.IsLocalCall() || ins.IsLDDW() {
			ins.Imm = rel
		} else {
			ins.Offset = int16(rel)
		}
	}
	return insns, refs
}

func le(v uint64, n uint32) []byte {
	b := binary.LittleEndian.AppendUint64(nil, v)
	return b[:n]
}

func (g *gen) randBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		if g.chance(30) {
			b[i] = []byte{0, 0xff, 0x80, 0x7f}[g.r.IntN(4)]
		} else {
			b[i] = byte(g.r.Uint32())
		}
	}
	return b
}

func (g *gen) setupMaps() {
	g.arrVS = []uint32{4, 8, 12, 16, 24, 32}[g.r.IntN(6)]
	g.arrMax = 1 + uint32(g.r.IntN(8))
	g.hashKS = []uint32{4, 8}[g.r.IntN(2)]
	g.hashVS = []uint32{4, 8, 16, 24}[g.r.IntN(4)]
	g.glob = []uint32{8, 16, 32, 64}[g.r.IntN(4)]
	if g.mix&MixMaps == 0 {
		return
	}
	arr := &kernel.Map{Spec: ebpfmaps.Spec{Type: ebpfmaps.Array, KeySize: 4, ValueSize: g.arrVS, MaxEntries: g.arrMax}}
	for k := range g.arrMax {
		if g.chance(70) {
			arr.Contents = append(arr.Contents, kernel.KV{Key: le(uint64(k), 4), Value: g.randBytes(int(g.arrVS))})
		}
	}
	hashMax := 2 + uint32(g.r.IntN(7))
	hash := &kernel.Map{Spec: ebpfmaps.Spec{Type: ebpfmaps.Hash, KeySize: g.hashKS, ValueSize: g.hashVS, MaxEntries: hashMax}}
	for _, k := range g.r.Perm(8)[:g.r.IntN(int(hashMax)+1)] {
		hash.Contents = append(hash.Contents, kernel.KV{Key: le(uint64(k), g.hashKS), Value: g.randBytes(int(g.hashVS))})
	}
	glob := &kernel.Map{Spec: ebpfmaps.Spec{Type: ebpfmaps.Array, KeySize: 4, ValueSize: g.glob, MaxEntries: 1},
		Contents: []kernel.KV{{Key: le(0, 4), Value: g.randBytes(int(g.glob))}}}
	parr := &kernel.Map{Spec: ebpfmaps.Spec{Type: ebpfmaps.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 2},
		Contents: []kernel.KV{{Key: le(0, 4), Value: g.randBytes(8)}, {Key: le(1, 4), Value: g.randBytes(8)}}}
	queue := &kernel.Map{Spec: ebpfmaps.Spec{Type: ebpfmaps.Queue, ValueSize: 8, MaxEntries: 3}}
	stack := &kernel.Map{Spec: ebpfmaps.Spec{Type: ebpfmaps.Stack, ValueSize: 4, MaxEntries: 2}}
	g.maps[mapArr], g.maps[mapHash], g.maps[mapGlob] = arr, hash, glob
	g.maps[mapPerCPU], g.maps[mapQueue], g.maps[mapStack] = parr, queue, stack
}

// setupRodata creates the read-only map of strings that snprintf formats
// and strncmp's constant operand come from (they must be in a frozen,
// read-only map), and records where each string starts.
func (g *gen) setupRodata() {
	var value []byte
	for _, s := range rodataStrings {
		g.rodataOff = append(g.rodataOff, len(value))
		value = append(append(value, s...), 0)
	}
	g.maps[mapRodata] = &kernel.Map{
		Spec:     ebpfmaps.Spec{Type: ebpfmaps.Array, KeySize: 4, ValueSize: uint32(len(value)), MaxEntries: 1, Flags: ebpfmaps.FlagRdonlyProg},
		Contents: []kernel.KV{{Key: le(0, 4), Value: value}},
		Freeze:   true,
	}
}

// input returns the packet and context: xdp packets of 14 to 96 bytes;
// socket filter packets with a random EtherType (IPv4 ones at least 20
// bytes, as the kernel's test run demands) and random mark, priority and
// cb[].
func (g *gen) input() kernel.Input {
	in := kernel.Input{Context: kernel.DefaultContext(g.typ)}
	switch g.typ {
	case kernel.TypeXDP:
		in.Data = g.randBytes(14 + g.r.IntN(83))
	case kernel.TypeSocketFilter:
		proto := []uint16{0x0800, 0x0806, 0x88b5}[g.r.IntN(3)]
		n := g.r.IntN(97)
		if proto == 0x0800 && n < 20 {
			n = 20 + g.r.IntN(77)
		}
		in.Data = g.randBytes(n)
		binary.LittleEndian.PutUint32(in.Context[16:], uint32(proto>>8|proto<<8))
		if g.chance(50) {
			binary.LittleEndian.PutUint32(in.Context[8:], g.r.Uint32())  // mark
			binary.LittleEndian.PutUint32(in.Context[32:], g.r.Uint32()) // priority
			for off := 48; off < 68; off += 4 {
				binary.LittleEndian.PutUint32(in.Context[off:], g.r.Uint32())
			}
		}
	}
	return in
}
