package verifier

import (
	"os"
	"strconv"

	"github.com/ebpfvm/ebpfvm/kernel"
	"github.com/ebpfvm/ebpfvm/progtype"
)

// fromKernelSpec converts a kernel.Spec (the generator's output) into the
// verifier's input.
func fromKernelSpec(s *kernel.Spec) Program {
	p := Program{Instructions: s.Program.Instructions, Refs: map[int]Ref{}}
	switch s.Program.Type {
	case kernel.TypeXDP:
		p.Type = progtype.XDP
	case kernel.TypeSocketFilter:
		p.Type = progtype.SocketFilter
	default:
		p.Type = progtype.Raw
	}
	vm := map[string]*Map{}
	for name, km := range s.Maps {
		m := MapFromSpec(&km.Spec)
		m.Name = name
		if km.Freeze {
			m.Frozen = true
			for _, kv := range km.Contents {
				if len(kv.Key) == 4 && kv.Key[0]|kv.Key[1]|kv.Key[2]|kv.Key[3] == 0 {
					m.Value = kv.Value
				}
			}
		}
		vm[name] = m
	}
	for idx, r := range s.Program.References {
		p.Refs[idx] = Ref{Map: vm[r.Map], Offset: int32(r.Offset)}
	}
	return p
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
