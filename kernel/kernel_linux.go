//go:build linux

package kernel

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	stdmaps "maps"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/maps"
)

var (
	availableOnce sync.Once
	availableErr  error
)

// Available reports whether programs can be loaded into the kernel: nil, or
// an error wrapping ErrUnavailable that says why not.
func Available() error {
	availableOnce.Do(func() {
		m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			availableErr = fmt.Errorf("%w: creating a map: %v", ErrUnavailable, err)
			return
		}
		m.Close()
	})
	return availableErr
}

// Loaded is a program loaded into the kernel with its maps. It is not safe
// for concurrent use.
type Loaded struct {
	spec    *Spec
	maps    map[string]*ebpf.Map
	prog    *ebpf.Program
	variant *ebpf.Program
	capture *ebpf.Map
	log     string
	// VariantErr is why the r0-capturing variant could not be loaded, if
	// it could not (runs then return 32-bit r0).
	variantErr error
}

// Load creates spec's maps in the kernel, fills them, and loads the
// program. A program the verifier refuses returns a *RejectedError; an
// environment that cannot load programs at all, an error wrapping
// ErrUnavailable. The caller must Close the result.
func Load(spec *Spec, opts *Options) (l *Loaded, err error) {
	if err := spec.check(); err != nil {
		return nil, err
	}
	if err := Available(); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &Options{}
	}
	l = &Loaded{spec: spec, maps: map[string]*ebpf.Map{}}
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	fds := map[string]int{}
	for _, name := range slices.Sorted(stdmaps.Keys(spec.Maps)) {
		m, err := createMap(name, spec.Maps[name])
		if err != nil {
			return nil, err
		}
		l.maps[name] = m
		fds[name] = m.FD()
	}
	p := spec.Program
	insns, err := patchMaps(p.Instructions, p.References, fds)
	if err != nil {
		return nil, err
	}
	shift := 0
	if p.Type == TypeRaw {
		insns = append(rawPrologue(), insns...)
		shift = rawPrologueLen
	}
	l.prog, l.log, err = loadProgram(p, insns, opts.Log, shift, opts.Strict)
	if err != nil {
		return nil, err
	}
	if opts.R0Only32 {
		return l, nil
	}
	l.capture, err = ebpf.NewMap(&ebpf.MapSpec{Name: "r0_capture", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("kernel: creating the r0 capture map: %w", err)
	}
	variant, err := captureVariant(insns, l.capture.FD())
	if err == nil {
		l.variant, _, err = loadProgram(p, variant, false, shift, opts.Strict)
	}
	if err != nil {
		l.variantErr = err
		l.capture.Close()
		l.capture = nil
	}
	return l, nil
}

// Log returns the verifier's log of the program (empty unless
// Options.Log was set).
func (l *Loaded) Log() string { return l.log }

// VariantErr returns why the variant that recovers all 64 bits of r0 could
// not be loaded, or nil.
func (l *Loaded) VariantErr() error { return l.variantErr }

// ObjectIDs returns the kernel ids of the loaded programs and of the maps,
// for tools such as bpftool while they are open.
func (l *Loaded) ObjectIDs() (progs, maps []uint32) {
	for _, p := range []*ebpf.Program{l.prog, l.variant} {
		if p == nil {
			continue
		}
		if info, err := p.Info(); err == nil {
			if id, ok := info.ID(); ok {
				progs = append(progs, uint32(id))
			}
		}
	}
	all := slices.Collect(stdmaps.Values(l.maps))
	if l.capture != nil {
		all = append(all, l.capture)
	}
	for _, m := range all {
		if info, err := m.Info(); err == nil {
			if id, ok := info.ID(); ok {
				maps = append(maps, uint32(id))
			}
		}
	}
	return progs, maps
}

// Close releases the programs and maps.
func (l *Loaded) Close() error {
	if l == nil {
		return nil
	}
	var errs []error
	for _, p := range []*ebpf.Program{l.prog, l.variant} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	l.prog, l.variant = nil, nil
	for name, m := range l.maps {
		errs = append(errs, m.Close())
		delete(l.maps, name)
	}
	if l.capture != nil {
		errs = append(errs, l.capture.Close())
		l.capture = nil
	}
	return errors.Join(errs...)
}

// Test loads spec, runs it once over in and closes everything.
func Test(spec *Spec, in *Input, opts *Options) (*Result, error) {
	l, err := Load(spec, opts)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return l.Run(in)
}

// Run runs the program once over in. Maps keep their contents from one run
// to the next.
func (l *Loaded) Run(in *Input) (*Result, error) {
	if l == nil || l.prog == nil {
		return nil, errors.New("kernel: the program is closed")
	}
	if in == nil {
		in = &Input{}
	}
	typ := l.spec.Program.Type
	data, ctxIn, ctxOut, err := frame(typ, in)
	if err != nil {
		return nil, err
	}
	prog := l.prog
	if l.variant != nil {
		prog = l.variant
		if err := l.capture.Put(uint32(0), uint64(0)); err != nil {
			return nil, fmt.Errorf("kernel: clearing the r0 capture map: %w", err)
		}
	}
	opts := &ebpf.RunOptions{
		Data:    data,
		DataOut: make([]byte, len(data)+4096),
		Repeat:  1,
	}
	if ctxIn != nil {
		opts.Context = ctxIn
	}
	if ctxOut != nil {
		opts.ContextOut = ctxOut
	}
	ret, err := prog.Run(opts)
	if err != nil {
		return nil, fmt.Errorf("kernel: test run: %w", err)
	}
	res := &Result{R0: uint64(ret), R0Bits: 32, Data: opts.DataOut, Context: ctxOut}
	if typ == TypeXDP {
		// data_out starts at the metadata; ctx_out.data is its length.
		meta := int(binary.LittleEndian.Uint32(ctxOut[xdpData:]))
		if meta > len(res.Data) {
			return nil, fmt.Errorf("kernel: the test run reports %d bytes of metadata in %d bytes of output", meta, len(res.Data))
		}
		res.Data, res.Context = res.Data[meta:], nil
	} else {
		if len(res.Data) < ethHeaderLen {
			return nil, fmt.Errorf("kernel: the test run returned %d bytes, less than the Ethernet header", len(res.Data))
		}
		res.Data = res.Data[ethHeaderLen:]
	}
	if l.variant != nil {
		var full uint64
		if err := l.capture.Lookup(uint32(0), &full); err != nil {
			return nil, fmt.Errorf("kernel: reading the r0 capture map: %w", err)
		}
		if uint32(full) == ret {
			res.R0, res.R0Bits = full, 64
		}
	}
	res.Maps, err = l.readMaps()
	if err != nil {
		return nil, err
	}
	return res, nil
}

// frame builds the test run's data and context from an input in ebpfvm's
// terms (see the package documentation).
func frame(typ string, in *Input) (data, ctxIn, ctxOut []byte, err error) {
	switch typ {
	case TypeXDP:
		if len(in.Data) < ethHeaderLen {
			return nil, nil, nil, fmt.Errorf("kernel: an xdp test run needs a packet of at least %d bytes, not %d", ethHeaderLen, len(in.Data))
		}
		if len(in.Context) > xdpSize {
			return nil, nil, nil, fmt.Errorf("kernel: xdp context of %d bytes, more than %d", len(in.Context), xdpSize)
		}
		ctx := make([]byte, xdpSize)
		copy(ctx, in.Context)
		// The default device is lo, queue 0. Naming it in ctx_in would make
		// the kernel look for a registered XDP queue, which lo lacks.
		if binary.LittleEndian.Uint32(ctx[xdpIngressIfindex:]) == loopbackIfindex && binary.LittleEndian.Uint32(ctx[xdpRxQueueIndex:]) == 0 {
			binary.LittleEndian.PutUint32(ctx[xdpIngressIfindex:], 0)
		}
		// The context given to an xdp test run carries the packet's bounds
		// (without one, asking for ctx_out makes data_end 0 and the packet
		// empty). ctx_out then says where the data starts in data_out,
		// which holds the metadata too.
		binary.LittleEndian.PutUint32(ctx[xdpDataEnd:], uint32(len(in.Data)))
		return bytes.Clone(in.Data), ctx, make([]byte, xdpSize), nil
	case TypeSocketFilter:
		if len(in.Context) > skbSize {
			return nil, nil, nil, fmt.Errorf("kernel: __sk_buff context of %d bytes, more than %d", len(in.Context), skbSize)
		}
		ctx := make([]byte, skbSize)
		copy(ctx, in.Context)
		proto := uint16(binary.LittleEndian.Uint32(ctx[skbProtocol:]))
		etherType := htons(proto)
		if proto == 0 {
			etherType = ethPIP
		}
		// The test run refuses IP frames too short for their header.
		if need := ipHeaderLen[etherType]; len(in.Data) < need {
			return nil, nil, nil, fmt.Errorf("kernel: a socket_filter test run of EtherType %#04x needs a packet of at least %d bytes (its IP header), not %d; set another protocol in the context for shorter packets", etherType, need, len(in.Data))
		}
		// The kernel derives len and protocol from the frame and refuses
		// a context that sets them.
		binary.LittleEndian.PutUint32(ctx[skbLen:], 0)
		binary.LittleEndian.PutUint32(ctx[skbProtocol:], 0)
		if binary.LittleEndian.Uint32(ctx[skbIfindex:]) == loopbackIfindex {
			binary.LittleEndian.PutUint32(ctx[skbIfindex:], 0)
		}
		if !allZero(ctx) {
			ctxIn = ctx
		}
		return ethFrame(etherType, in.Data), ctxIn, make([]byte, skbSize), nil
	case TypeRaw:
		if len(in.Context) != 0 {
			return nil, nil, nil, errors.New("kernel: raw programs have no context")
		}
		return ethFrame(ethPLocal, in.Data), nil, nil, nil
	}
	return nil, nil, nil, fmt.Errorf("kernel: program type %q is not supported", typ)
}

// ethFrame prepends an Ethernet header addressed to lo (all-zero MACs).
func ethFrame(etherType uint16, payload []byte) []byte {
	f := make([]byte, ethHeaderLen+len(payload))
	binary.BigEndian.PutUint16(f[12:], etherType)
	copy(f[ethHeaderLen:], payload)
	return f
}

// ipHeaderLen is the shortest packet the skb test run accepts for the IP
// EtherTypes.
var ipHeaderLen = map[uint16]int{ethPIP: 20, ethPIPv6: 40}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

var progTypes = map[string]ebpf.ProgramType{
	TypeRaw:          ebpf.SchedCLS,
	TypeSocketFilter: ebpf.SocketFilter,
	TypeXDP:          ebpf.XDP,
}

// maxLoadAttempts bounds the retries of a load interrupted by signals.
const maxLoadAttempts = 10

// loadProgram hands insns to the verifier. shift is the number of slots
// the package added in front of the program, for the index in errors.
// strict loads without CAP_PERFMON (see Options.Strict).
func loadProgram(p *Program, insns []isa.Instruction, withLog bool, shift int, strict bool) (*ebpf.Program, string, error) {
	wire, err := isa.Encode(insns)
	if err != nil {
		return nil, "", fmt.Errorf("kernel: %w", err)
	}
	ci, err := toCilium(wire)
	if err != nil {
		return nil, "", err
	}
	AddFuncInfo(insns, ci)
	license := p.License
	if license == "" {
		license = "GPL"
	}
	spec := &ebpf.ProgramSpec{Name: sanitizeName(p.Name), Type: progTypes[p.Type], Instructions: ci, License: license}
	opts := ebpf.ProgramOptions{}
	if withLog {
		opts.LogLevel = ebpf.LogLevelBranch | ebpf.LogLevelStats
	}
	for attempt := 1; ; attempt++ {
		var prog *ebpf.Program
		var err error
		if strict {
			err = withoutPerfmon(func() error {
				prog, err = ebpf.NewProgramWithOptions(spec, opts)
				return err
			})
		} else {
			prog, err = ebpf.NewProgramWithOptions(spec, opts)
		}
		if err == nil {
			return prog, prog.VerifierLog, nil
		}
		if errors.Is(err, unix.EAGAIN) && attempt < maxLoadAttempts {
			continue
		}
		if errors.Is(err, unix.EPERM) {
			return nil, "", fmt.Errorf("%w: loading a program: %v", ErrUnavailable, err)
		}
		var ve *ebpf.VerifierError
		var lines []string
		if errors.As(err, &ve) {
			lines = ve.Log
		}
		reason, insn := parseRejection(lines, err.Error(), shift)
		return nil, "", &RejectedError{Insn: insn, Reason: reason, Log: strings.Join(lines, "\n"), Err: err}
	}
}

// withoutPerfmon runs f on an OS thread whose effective capabilities lack
// CAP_PERFMON and CAP_SYS_ADMIN (which implies it), so that the verifier
// does not allow pointer leaks. Capabilities belong to threads: the
// goroutine stays on its thread until they are restored, and if they cannot
// be, it never leaves it, so that no other goroutine inherits the thread.
func withoutPerfmon(f func() error) error {
	runtime.LockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernel: capget: %w", err)
	}
	saved := caps
	for _, c := range []uint{unix.CAP_PERFMON, unix.CAP_SYS_ADMIN} {
		caps[c/32].Effective &^= 1 << (c % 32)
	}
	if err := unix.Capset(&hdr, &caps[0]); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernel: dropping CAP_PERFMON: %w", err)
	}
	err := f()
	if rerr := unix.Capset(&hdr, &saved[0]); rerr != nil {
		return errors.Join(err, fmt.Errorf("kernel: restoring capabilities: %w", rerr))
	}
	runtime.UnlockOSThread()
	return err
}

// toCilium converts wire-format bytecode to cilium/ebpf's instructions and
// checks that they encode back to the same bytes, so that what the kernel
// verifies is exactly the program given.
func toCilium(wire []byte) (asm.Instructions, error) {
	r := bytes.NewReader(wire)
	var out asm.Instructions
	for r.Len() > 0 {
		var ins asm.Instruction
		if err := ins.Unmarshal(r, binary.LittleEndian, "linux"); err != nil {
			return nil, fmt.Errorf("kernel: converting to cilium/ebpf instructions: %w", err)
		}
		out = append(out, ins)
	}
	var back bytes.Buffer
	if err := out.Marshal(&back, binary.LittleEndian); err != nil {
		return nil, fmt.Errorf("kernel: encoding cilium/ebpf instructions: %w", err)
	}
	if !bytes.Equal(back.Bytes(), wire) {
		return nil, errors.New("kernel: cilium/ebpf does not encode the program back to the same bytecode")
	}
	return out, nil
}

// sanitizeName keeps what the kernel accepts in an object name: at most 15
// characters among letters, digits, '_' and '.'.
func sanitizeName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() == 15 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func createMap(name string, m *Map) (*ebpf.Map, error) {
	if m == nil {
		return nil, fmt.Errorf("kernel: map %s: nil spec", name)
	}
	s := &m.Spec
	switch s.Type {
	case maps.ProgramArray, maps.ArrayOfMaps, maps.HashOfMaps:
		return nil, fmt.Errorf("kernel: map %s: %s maps are not supported", name, s.Type)
	}
	ms := &ebpf.MapSpec{
		Name:       sanitizeName(name),
		Type:       ebpf.MapType(s.Type),
		KeySize:    s.KeySize,
		ValueSize:  s.ValueSize,
		MaxEntries: s.MaxEntries,
		Flags:      s.Flags,
		MapExtra:   s.MapExtra,
	}
	// Contents go in through the spec: cilium/ebpf freezes maps named
	// .rodata* as soon as it has written them.
	for _, kv := range m.Contents {
		var value any = kv.Value
		if s.Type.PerCPU() {
			n, err := ebpf.PossibleCPU()
			if err != nil {
				return nil, fmt.Errorf("kernel: map %s: %w", name, err)
			}
			vals := make([][]byte, n)
			for c := range vals {
				vals[c] = kv.Value
			}
			value = vals
		}
		ms.Contents = append(ms.Contents, ebpf.MapKV{Key: kv.Key, Value: value})
	}
	km, err := ebpf.NewMap(ms)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("%w: creating map %s: %v", ErrUnavailable, name, err)
		}
		return nil, fmt.Errorf("kernel: creating map %s: %w", name, err)
	}
	if m.Freeze {
		// cilium/ebpf froze .rodata maps already; freezing a frozen map
		// fails with EPERM (it is no longer writable) or EBUSY.
		if err := km.Freeze(); err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EPERM) {
			km.Close()
			return nil, fmt.Errorf("kernel: map %s: freeze: %w", name, err)
		}
	}
	return km, nil
}

// readMaps returns the contents of the maps that have keys, sorted by key.
func (l *Loaded) readMaps() (map[string][]KV, error) {
	out := map[string][]KV{}
	for name, km := range l.maps {
		typ := l.spec.Maps[name].Spec.Type
		switch typ {
		case maps.Array, maps.Hash, maps.LRUHash, maps.LPMTrie, maps.PerCPUArray, maps.PerCPUHash, maps.LRUPerCPUHash:
		default:
			continue
		}
		var kvs []KV
		it := km.Iterate()
		var key []byte
		if typ.PerCPU() {
			var vals [][]byte
			for it.Next(&key, &vals) {
				kvs = append(kvs, KV{Key: bytes.Clone(key), PerCPU: cloneAll(vals)})
			}
		} else {
			var val []byte
			for it.Next(&key, &val) {
				kvs = append(kvs, KV{Key: bytes.Clone(key), Value: bytes.Clone(val)})
			}
		}
		if err := it.Err(); err != nil {
			return nil, fmt.Errorf("kernel: reading map %s: %w", name, err)
		}
		slices.SortFunc(kvs, func(a, b KV) int { return strings.Compare(hex.EncodeToString(a.Key), hex.EncodeToString(b.Key)) })
		out[name] = kvs
	}
	return out, nil
}

func cloneAll(vs [][]byte) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = bytes.Clone(v)
	}
	return out
}
