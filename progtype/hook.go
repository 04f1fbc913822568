package progtype

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"

	"github.com/ebpfvm/ebpfvm/vm"
)

// HookField is one field of a user-defined context.
type HookField struct {
	Name string
	// Size is 1, 2, 4 or 8 bytes. Data and DataEnd fields are 4 bytes, like
	// the kernel's data/data_end fields, and read as pointers.
	Size int
	// Writable lets programs store to the field (the host reads it back).
	Writable bool
	// Kind is FieldScalar, or FieldPacketData/FieldPacketEnd for the two
	// fields that delimit the run's data buffer (Input.Data).
	Kind FieldKind
}

// HookSpec describes a hook program type: a context of named fields,
// laid out in order with natural alignment as a C struct would be, and
// the helpers its programs may call.
type HookSpec struct {
	Name   string
	Fields []HookField
	// Helpers are the ids of the helpers allowed besides the base set every
	// type has (maps, time, ring buffers, ...). BaseHelpers: false removes the
	// base set.
	Helpers        []int32
	NoBaseHelpers  bool
	DescribeReturn func(r0 uint64) string
}

type hookType struct {
	spec    HookSpec
	layout  *Layout
	helpers helperSet
}

// NewHook builds a hook program type for embedding: Go code fills a context
// (Hook.Encode), a program reads it and writes its writable fields, and
// Go reads the result back (Hook.Decode).
func NewHook(spec HookSpec) (*Hook, error) {
	if spec.Name == "" {
		return nil, fmt.Errorf("progtype: a hook needs a name")
	}
	if _, builtin := ByName(spec.Name); builtin {
		return nil, fmt.Errorf("progtype: hook name %q is a built-in type", spec.Name)
	}
	l := &Layout{Name: spec.Name}
	seen := map[string]bool{}
	var data, end int
	for _, f := range spec.Fields {
		if f.Name == "" || seen[f.Name] {
			return nil, fmt.Errorf("progtype: hook %s: field names must be unique and non-empty (%q)", spec.Name, f.Name)
		}
		seen[f.Name] = true
		switch f.Kind {
		case FieldScalar:
			if f.Size != 1 && f.Size != 2 && f.Size != 4 && f.Size != 8 {
				return nil, fmt.Errorf("progtype: hook %s: field %s has size %d, not 1, 2, 4 or 8", spec.Name, f.Name, f.Size)
			}
		case FieldPacketData, FieldPacketEnd:
			if f.Size != 4 || f.Writable {
				return nil, fmt.Errorf("progtype: hook %s: data field %s must be a read-only 4-byte field", spec.Name, f.Name)
			}
			if f.Kind == FieldPacketData {
				data++
			} else {
				end++
			}
		default:
			return nil, fmt.Errorf("progtype: hook %s: field %s has unsupported kind %s", spec.Name, f.Name, f.Kind)
		}
		l.Size = (l.Size + f.Size - 1) / f.Size * f.Size
		l.Fields = append(l.Fields, Field{Name: f.Name, Offset: l.Size, Size: f.Size, Kind: f.Kind, Read: true, Write: f.Writable, Narrow: f.Kind == FieldScalar})
		l.Size += f.Size
	}
	if data > 1 || end > 1 || data != end {
		return nil, fmt.Errorf("progtype: hook %s: needs both or neither of one data and one data_end field", spec.Name)
	}
	l.Size = (l.Size + 7) / 8 * 8
	var hs helperSet
	if spec.NoBaseHelpers {
		hs = newHelperSet(spec.Helpers)
	} else {
		hs = newHelperSet(baseHelpers, spec.Helpers)
	}
	return &Hook{hookType{spec: spec, layout: l, helpers: hs}}, nil
}

// Hook is a user-defined program type.
type Hook struct{ hookType }

func (h *hookType) Name() string                { return h.spec.Name }
func (h *hookType) Layout() *Layout             { return h.layout }
func (h *hookType) HelperAllowed(id int32) bool { return h.helpers.has(id) }

func (h *hookType) Describe(r0 uint64) string {
	if h.spec.DescribeReturn != nil {
		return h.spec.DescribeReturn(r0)
	}
	return fmt.Sprint(r0)
}

// Setup installs the context from in.Context (any field may be set) and the
// data buffer from in.Data.
func (h *hookType) Setup(m *vm.Machine, in *Input) (*Run, error) {
	buf, err := setupPacket(m, in.Data, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	ctx, err := setupContext(m, h.layout, in.Context, func(f *Field) bool { return f.Kind == FieldScalar })
	if err != nil {
		return nil, err
	}
	return newRun(m, [5]uint64{vm.Addr(vm.RegionContext, 0)}, buf, ctx, false), nil
}

// HookFromStruct builds a hook whose context mirrors a Go struct type: one
// field per exported field of integer or bool type, named by its `ebpf` tag
// or its lower-cased name; the tag option "rw" makes it writable, e.g.
//
//	type Request struct {
//		Method uint32 `ebpf:"method"`
//		Status uint32 `ebpf:"status,rw"`
//	}
func HookFromStruct(name string, v any, helpers ...int32) (*Hook, error) {
	t := reflect.TypeOf(v)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("progtype: HookFromStruct needs a struct, not %T", v)
	}
	spec := HookSpec{Name: name, Helpers: helpers}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		fname, opts, _ := strings.Cut(sf.Tag.Get("ebpf"), ",")
		if fname == "-" {
			continue
		}
		if fname == "" {
			fname = strings.ToLower(sf.Name)
		}
		size := 0
		switch sf.Type.Kind() {
		case reflect.Bool, reflect.Int8, reflect.Uint8:
			size = 1
		case reflect.Int16, reflect.Uint16:
			size = 2
		case reflect.Int32, reflect.Uint32:
			size = 4
		case reflect.Int64, reflect.Uint64:
			size = 8
		default:
			return nil, fmt.Errorf("progtype: hook %s: field %s has type %s; only integers and bools can be context fields", name, sf.Name, sf.Type)
		}
		spec.Fields = append(spec.Fields, HookField{Name: fname, Size: size, Writable: opts == "rw"})
	}
	return NewHook(spec)
}

// Encode lays out a struct of the shape HookFromStruct accepts (or a map
// from field name to value) as context bytes.
func (h *Hook) Encode(v any) ([]byte, error) {
	b := make([]byte, h.layout.Size)
	values, err := h.values(v)
	if err != nil {
		return nil, err
	}
	for name, x := range values {
		f, ok := h.layout.FieldByName(name)
		if !ok {
			return nil, fmt.Errorf("progtype: hook %s has no field %q", h.spec.Name, name)
		}
		putUint(b[f.Offset:f.Offset+f.Size], x)
	}
	return b, nil
}

// Decode copies the context bytes of a run into a struct pointer of the
// shape HookFromStruct accepts.
func (h *Hook) Decode(b []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("progtype: Decode needs a pointer to a struct, not %T", v)
	}
	if len(b) < h.layout.Size {
		return fmt.Errorf("progtype: %d context bytes, hook %s needs %d", len(b), h.spec.Name, h.layout.Size)
	}
	rv = rv.Elem()
	for i := range rv.NumField() {
		sf := rv.Type().Field(i)
		fname, _, _ := strings.Cut(sf.Tag.Get("ebpf"), ",")
		if fname == "" {
			fname = strings.ToLower(sf.Name)
		}
		f, ok := h.layout.FieldByName(fname)
		if !ok || !sf.IsExported() {
			continue
		}
		x := getUint(b[f.Offset : f.Offset+f.Size])
		switch fv := rv.Field(i); fv.Kind() {
		case reflect.Bool:
			fv.SetBool(x != 0)
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			fv.SetInt(signExtend(x, f.Size))
		default:
			fv.SetUint(x)
		}
	}
	return nil
}

func (h *Hook) values(v any) (map[string]uint64, error) {
	if m, ok := v.(map[string]uint64); ok {
		return m, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("progtype: Encode needs a struct or map[string]uint64, not %T", v)
	}
	out := map[string]uint64{}
	for i := range rv.NumField() {
		sf := rv.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		fname, _, _ := strings.Cut(sf.Tag.Get("ebpf"), ",")
		if fname == "-" {
			continue
		}
		if fname == "" {
			fname = strings.ToLower(sf.Name)
		}
		switch fv := rv.Field(i); fv.Kind() {
		case reflect.Bool:
			if fv.Bool() {
				out[fname] = 1
			} else {
				out[fname] = 0
			}
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			out[fname] = uint64(fv.Int())
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			out[fname] = fv.Uint()
		}
	}
	return out, nil
}

func putUint(b []byte, v uint64) {
	switch len(b) {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}

func getUint(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func signExtend(v uint64, size int) int64 {
	shift := 64 - 8*size
	return int64(v<<shift) >> shift
}
