package ebpfvm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ebpfvm/ebpfvm/elf"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// LoadCollectionSpec reads a clang -target bpf ELF object.
func LoadCollectionSpec(path string) (*CollectionSpec, error) {
	obj, err := elf.Load(path)
	if err != nil {
		return nil, err
	}
	return CollectionSpecFromObject(obj)
}

// LoadCollectionSpecFromReader reads an ELF object from r.
func LoadCollectionSpecFromReader(r io.ReaderAt) (*CollectionSpec, error) {
	obj, err := elf.LoadReader(r)
	if err != nil {
		return nil, err
	}
	return CollectionSpecFromObject(obj)
}

// LoadCollectionSpecFromBytes reads an ELF object held in memory.
func LoadCollectionSpecFromBytes(b []byte) (*CollectionSpec, error) {
	return LoadCollectionSpecFromReader(bytes.NewReader(b))
}

// CollectionSpecFromObject converts an ELF object loaded by package elf. Program types come from section
// names: xdp and socket programs get their type; "hook" sections (and the
// kernel's "syscall" programs, whose context is caller memory) and unknown
// sections run as raw programs until the caller sets a hook type; kernel
// types ebpfvm cannot run (kprobe, tracepoint, ...) keep their name in
// KernelType and can only be verified and disassembled.
func CollectionSpecFromObject(obj *elf.Object) (*CollectionSpec, error) {
	spec := &CollectionSpec{Maps: map[string]*MapSpec{}, Programs: map[string]*ProgramSpec{}}
	for _, m := range obj.Maps {
		ms := &MapSpec{Spec: m.Spec, ReadOnly: m.ReadOnly}
		if m.IsGlobalData() {
			ms.Contents = append(ms.Contents, MapKV{Key: binary.LittleEndian.AppendUint32(nil, 0), Value: m.Contents})
		}
		for _, v := range m.Values {
			ms.Contents = append(ms.Contents, MapKV{Key: binary.LittleEndian.AppendUint32(nil, v.Key), Program: v.Program, Map: v.Map})
		}
		spec.Maps[m.Name] = ms
	}
	for i, p := range obj.Programs {
		ps := &ProgramSpec{
			Name:         p.Name,
			SectionName:  p.Section,
			Instructions: p.Insns,
			References:   map[int]Reference{},
			License:      p.License,
			KernelType:   p.KernelType,
			Order:        i,
		}
		switch p.Type {
		case "xdp":
			ps.Type = progtype.XDP
		case "socket_filter":
			ps.Type = progtype.SocketFilter
		case "raw", "hook":
			ps.Type = progtype.Raw
		default:
			ps.Type = nil // verify-only kernel type
		}
		for idx, ref := range p.Refs {
			switch ref.Kind {
			case elf.RefMap:
				ps.References[idx] = Reference{Kind: RefMap, Map: ref.Map}
			case elf.RefMapValue:
				ps.References[idx] = Reference{Kind: RefMapValue, Map: ref.Map, Offset: ref.Offset}
			case elf.RefFunc:
				// Already resolved to relative offsets by the elf package.
			default:
				return nil, fmt.Errorf("program %s: instruction %d: unknown reference kind %v", p.Name, idx, ref.Kind)
			}
		}
		if _, dup := spec.Programs[p.Name]; dup {
			return nil, fmt.Errorf("two programs are called %q", p.Name)
		}
		spec.Programs[p.Name] = ps
	}
	return spec, nil
}
