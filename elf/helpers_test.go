package elf_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// corruptions returns n copies of data, each with 1 to 8 random bytes
// replaced, from a fixed seed.
func corruptions(data []byte, seed uint64, n int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 0xebbf))
	out := make([][]byte, n)
	for i := range out {
		b := bytes.Clone(data)
		for range 1 + r.IntN(8) {
			b[r.IntN(len(b))] = byte(r.Uint32())
		}
		out[i] = b
	}
	return out
}

// rel is a relocation entry: where it is in the file and the offset it
// relocates in its section.
type rel struct {
	off    int
	target uint64
}

// relocations lists the Elf64_Rel entries of an object's code sections.
func relocations(t testing.TB, data []byte) []rel {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	var rels []rel
	for _, sec := range f.Sections {
		// Only relocations of code: those of .BTF.ext, for one, are not
		// read by anyone.
		if sec.Type != elf.SHT_REL || int(sec.Info) >= len(f.Sections) || f.Sections[sec.Info].Flags&elf.SHF_EXECINSTR == 0 {
			continue
		}
		for off := sec.Offset; off+16 <= sec.Offset+sec.Size; off += 16 {
			rels = append(rels, rel{off: int(off), target: binary.LittleEndian.Uint64(data[off:])})
		}
	}
	return rels
}

func putU32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }
func putU64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }

// setSectionSize overwrites sh_size of the named section.
func setSectionSize(t testing.TB, data []byte, name string, size uint64) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	shoff := binary.LittleEndian.Uint64(data[0x28:])
	for i, sec := range f.Sections {
		if sec.Name == name {
			binary.LittleEndian.PutUint64(data[int(shoff)+i*64+32:], size)
			return
		}
	}
	t.Fatalf("no section %s", name)
}
