package helpers

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/ebpfvm/ebpfvm/vm"
)

// MaxID bounds helper ids, so that a program's helper table stays a small
// dense array.
const MaxID = 1 << 16

// FirstUserID is the first id handed out by RegisterFunc to helpers
// registered by name only; ids below it are the kernel's.
const FirstUserID = 0x1000

// Registry maps helper ids to helpers. It is safe for concurrent use;
// programs capture the table when they are loaded.
type Registry struct {
	mu     sync.RWMutex
	byID   map[int32]*Helper
	byName map[string]*Helper
	nextID int32
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byID: map[int32]*Helper{}, byName: map[string]*Helper{}, nextID: FirstUserID}
}

// Standard returns a new registry holding the standard helpers this package
// implements, under the kernel's ids and names.
func Standard() *Registry {
	r := NewRegistry()
	for _, h := range standard() {
		h.standard = true
		if err := r.register(h); err != nil {
			panic(err) // a bug in the standard set, caught by its tests
		}
	}
	return r
}

// Register adds a helper under h.ID. It fails if the id is taken or out of
// range, or if h has no name or no function.
func (r *Registry) Register(h Helper) error {
	// A helper registered from outside may bind any function, so engines
	// must call it rather than run their own copy.
	h.standard = false
	return r.register(h)
}

func (r *Registry) register(h Helper) error {
	if h.Name == "" || h.Func == nil {
		return fmt.Errorf("helpers: helper %d needs a name and a function", h.ID)
	}
	if h.ID <= 0 || h.ID >= MaxID {
		return fmt.Errorf("helpers: id %d of %q is outside 1..%d", h.ID, h.Name, MaxID-1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byID[h.ID]; ok {
		return fmt.Errorf("helpers: id %d is taken by %q", h.ID, old.Name)
	}
	if old, ok := r.byName[h.Name]; ok {
		return fmt.Errorf("helpers: name %q is taken by id %d", h.Name, old.ID)
	}
	hh := h
	r.byID[h.ID] = &hh
	r.byName[h.Name] = &hh
	return nil
}

// Replace adds or replaces the helper with id h.ID (to override a standard
// helper, for instance to make bpf_ktime_get_ns deterministic differently).
func (r *Registry) Replace(h Helper) error {
	r.mu.Lock()
	if old, ok := r.byID[h.ID]; ok {
		delete(r.byID, h.ID)
		delete(r.byName, old.Name)
	}
	r.mu.Unlock()
	return r.Register(h)
}

// RegisterFunc adds a user helper by name with the next free user id, and
// returns the id programs call it by.
func (r *Registry) RegisterFunc(name string, proto Proto, fn vm.HelperFunc) (int32, error) {
	r.mu.Lock()
	for r.byID[r.nextID] != nil {
		r.nextID++
	}
	id := r.nextID
	r.mu.Unlock()
	proto.ID = id
	proto.Name = name
	if err := r.Register(Helper{Proto: proto, Func: fn}); err != nil {
		return 0, err
	}
	return id, nil
}

// Lookup returns the helper with id.
func (r *Registry) Lookup(id int32) (*Helper, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	h, ok := r.byID[id]
	return h, ok
}

// ByName returns the helper called name (with or without "bpf_").
func (r *Registry) ByName(name string) (*Helper, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if h, ok := r.byName[name]; ok {
		return h, true
	}
	if len(name) > 4 && name[:4] == "bpf_" {
		h, ok := r.byName[name[4:]]
		return h, ok
	}
	return nil, false
}

// IDs returns the registered ids in increasing order.
func (r *Registry) IDs() []int32 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.byID))
}

// Table returns the dense id-indexed table of implementations a vm.Program
// takes, restricted to the ids allow accepts (nil: all).
func (r *Registry) Table(allow func(id int32) bool) []vm.HelperFunc {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var n int32
	for id := range r.byID {
		if (allow == nil || allow(id)) && id >= n {
			n = id + 1
		}
	}
	t := make([]vm.HelperFunc, n)
	for id, h := range r.byID {
		if allow == nil || allow(id) {
			t[id] = h.Func
		}
	}
	return t
}

// Inline returns the vm.Inline* flags for the helpers of this registry
// that engines may run themselves: those still bound to this package's
// standard implementations.
func (r *Registry) Inline() uint32 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var flags uint32
	if h, ok := r.byID[IDMapLookupElem]; ok && h.standard {
		flags |= vm.InlineMapLookup
	}
	return flags
}

// Name returns the name of helper id for the verifier log: the registered
// name, else the kernel's, else "".
func (r *Registry) Name(id int32) string {
	if h, ok := r.Lookup(id); ok {
		return "bpf_" + h.Name
	}
	return KernelName(id)
}
