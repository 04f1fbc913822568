package verifier

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/progtype"
)

var fuzzTypes = []progtype.Type{progtype.SocketFilter, progtype.XDP, progtype.Raw, progtype.SchedCLS,
	progtype.Kprobe, progtype.Tracepoint, progtype.RawTracepoint, progtype.PerfEvent, progtype.CgroupSKB}

// fuzzProgram decodes FuzzVerify's input: the program type, option bits,
// then bytecode whose map lddws refer to testMaps by their immediate.
func fuzzProgram(data []byte) (Program, Options, bool) {
	if len(data) < 2+isa.SlotSize {
		return Program{}, Options{}, false
	}
	typ := fuzzTypes[int(data[0])%len(fuzzTypes)]
	opts := Options{Unprivileged: data[1]&1 != 0, LogLevel: int(data[1]>>1) % 3, Stats: data[1]&8 != 0, MaxProcessed: 100000}
	code := data[2:]
	insns, err := isa.Decode(code[:len(code)/isa.SlotSize*isa.SlotSize])
	if err != nil || len(insns) == 0 {
		return Program{}, Options{}, false
	}
	p := Program{Instructions: insns, Type: typ, Refs: map[int]Ref{}}
	for i, ins := range insns {
		if ins.IsLDDW() {
			switch ins.Src {
			case isa.PseudoMapFD, isa.PseudoMapIdx, isa.PseudoMapValue, isa.PseudoMapIdxValue:
				p.Refs[i] = Ref{Map: testMaps[int(uint32(ins.Imm))%len(testMaps)], Offset: int32(uint64(ins.Imm) >> 32)}
			}
		}
	}
	return p, opts, true
}

// FuzzVerify feeds arbitrary bytecode to Verify: it never panics (an
// internal error would be reported as such), rejects only with a *Error
// naming an instruction of the program, and on acceptance returns one fact
// per instruction. The seed corpus (testdata/fuzz/FuzzVerify) holds the
// table cases.
func FuzzVerify(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, opts, ok := fuzzProgram(data)
		if !ok {
			return
		}
		res, err := Verify(p, opts)
		slots := isa.SlotIndex(p.Instructions)
		if err != nil {
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("%T %v", err, err)
			}
			if strings.HasPrefix(ve.Msg, "internal verifier error") {
				t.Fatalf("%v\n%s", err, isa.Listing(p.Instructions))
			}
			if ve.Insn < -1 || ve.Insn > slots[len(p.Instructions)] {
				t.Fatalf("error at insn %d of %d slots: %v", ve.Insn, slots[len(p.Instructions)], err)
			}
			return
		}
		if len(res.Facts) != len(p.Instructions) {
			t.Fatalf("%d facts for %d instructions", len(res.Facts), len(p.Instructions))
		}
		if !res.Facts[0].Reached {
			t.Fatal("entry not reached")
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzVerify from the table
// cases when VERIFIER_WRITE_CORPUS is set.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("VERIFIER_WRITE_CORPUS") == "" {
		t.Skip("set VERIFIER_WRITE_CORPUS=1 to regenerate the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		p := c.program(t)
		code, err := isa.Encode(p.Instructions)
		if err != nil {
			t.Fatal(err)
		}
		typ := 0
		for j, ft := range fuzzTypes {
			if p.Type == ft {
				typ = j
			}
		}
		flags := byte(0)
		if c.unpriv {
			flags = 1
		}
		data := append([]byte{byte(typ), flags}, code...)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		name := fmt.Sprintf("case%03d", i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
