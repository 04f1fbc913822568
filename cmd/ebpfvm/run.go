package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ebpfvm/ebpfvm"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
	"github.com/ebpfvm/ebpfvm/progtype"
	"github.com/gopacket/gopacket/pcapgo"
)

func init() {
	register(&command{
		name:    "run",
		args:    "[--engine interp|jit] [--type raw|socket_filter|xdp] [--mem-hex HEX | --mem FILE | --packet FILE | --pcap FILE] [--budget N] [--no-verify] [--program NAME | --section NAME] [--setup FILE.json] [--dump-maps] [--json] FILE",
		summary: "run a program and print r0",
		help: `Runs the program once (or once per packet of --pcap) and prints r0 in
decimal. With --json it prints one JSON object per run:
  {"r0": <uint64>, "error": "<empty or text>", "insns": <executed count>}
plus "packet_hex" (the packet after the run) for --type xdp and socket_filter,
and "maps" with --dump-maps. --pcap prints a summary of return values.

Input memory: --mem-hex HEX or --mem FILE (a raw program gets it in r1/r2);
--packet FILE or --pcap FILE (packets for socket_filter and xdp). A
conformance .data file brings its own "-- mem". --setup FILE.json fills maps
before the run from a list of {"map": NAME, "key_hex": HEX, "value_hex": HEX}
(or "program": NAME instead of value_hex for a prog_array). --dump-maps adds
"maps": {NAME: {KEY_HEX: VALUE_HEX}} after the run (per-CPU maps: a list of
values, one per virtual CPU); maps without keys (ring buffers, queues,
stacks, bloom filters, perf event arrays) and maps of programs or maps are
left out.

Exit status: 0 the program exited normally, 1 it faulted or ran out of
budget, 2 bad input or usage.

` + inputHelp,
		run: runRun,
	})
}

// runFlags are the flags of run that select and prepare a program; other
// commands that load programs the same way (bench, diff) share them.
type runFlags struct {
	engine, typ, program, section string
	memHex, mem, packet, pcap     string
	setup                         string
	budget                        uint64
	cpus                          int
	noVerify                      bool
}

func (f *runFlags) register(fs interface {
	StringVar(*string, string, string, string)
	Uint64Var(*uint64, string, uint64, string)
	IntVar(*int, string, int, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&f.engine, "engine", "interp", "engine: interp or jit")
	fs.StringVar(&f.typ, "type", "", "program type: raw, socket_filter or xdp (default: from the ELF section, else raw)")
	fs.StringVar(&f.program, "program", "", "the program of an ELF object to use, by name")
	fs.StringVar(&f.section, "section", "", "the program of an ELF object to use, by section")
	fs.StringVar(&f.memHex, "mem-hex", "", "input memory in hex")
	fs.StringVar(&f.mem, "mem", "", "file of input memory")
	fs.StringVar(&f.packet, "packet", "", "file holding one packet")
	fs.StringVar(&f.pcap, "pcap", "", "pcap or pcapng file: run once per packet")
	fs.StringVar(&f.setup, "setup", "", "JSON file of map entries to write before running")
	fs.Uint64Var(&f.budget, "budget", 0, "instruction budget (default 1e9)")
	fs.IntVar(&f.cpus, "cpus", 1, "number of virtual CPUs (per-CPU maps)")
	fs.BoolVar(&f.noVerify, "no-verify", false, "load without the verifier (every access is still checked at run time)")
}

// checkInputs refuses more than one of the input flags; --pcap only counts
// (and is only allowed) when pcap is true.
func (f *runFlags) checkInputs(pcap bool) error {
	if !pcap && f.pcap != "" {
		return usagef("--pcap runs a program once per packet, which this command does not")
	}
	inputs := 0
	for _, s := range []string{f.memHex, f.mem, f.packet, f.pcap} {
		if s != "" {
			inputs++
		}
	}
	if inputs > 1 {
		return usagef("give at most one of --mem-hex, --mem, --packet and --pcap")
	}
	return nil
}

// input returns the memory or packet --mem-hex, --mem or --packet gives,
// else def (the memory of a .data file).
func (f *runFlags) input(def []byte) ([]byte, error) {
	switch {
	case f.memHex != "":
		b, err := hex.DecodeString(strings.Join(strings.Fields(f.memHex), ""))
		if err != nil {
			return nil, usagef("--mem-hex: %v", err)
		}
		return b, nil
	case f.mem != "":
		return os.ReadFile(f.mem)
	case f.packet != "":
		return os.ReadFile(f.packet)
	}
	return def, nil
}

// progType returns the program type --type names, or nil.
func (f *runFlags) progType() (progtype.Type, error) {
	if f.typ == "" {
		return nil, nil
	}
	typ, ok := progtype.ByName(f.typ)
	if !ok {
		return nil, usagef("unknown program type %q (%s)", f.typ, strings.Join(progtype.Names(), ", "))
	}
	return typ, nil
}

// loaded is a program ready to run, with its collection.
type loaded struct {
	coll *ebpfvm.Collection
	prog *ebpfvm.Program
	name string
	mem  []byte // input memory from the file (.data)
}

// loadForRun loads FILE into a collection and picks the program to run.
func loadForRun(f *runFlags, path string, stdin io.Reader) (*loaded, error) {
	engine, err := ebpfvm.ParseEngine(f.engine)
	if err != nil {
		return nil, usagef("%v", err)
	}
	typ, err := f.progType()
	if err != nil {
		return nil, err
	}
	spec, name, mem, err := loadSpec(path, stdin, typ, f.program, f.section)
	if err != nil {
		return nil, err
	}
	coll, err := ebpfvm.NewCollection(spec, &ebpfvm.CollectionOptions{Engine: engine, NumCPU: f.cpus, NoVerify: f.noVerify})
	if err != nil {
		return nil, &exitError{code: exitFailure, err: err}
	}
	l := &loaded{coll: coll, prog: coll.Programs[name], name: name, mem: mem}
	if f.setup != "" {
		if err := applySetup(coll, f.setup); err != nil {
			coll.Close()
			return nil, err
		}
	}
	return l, nil
}

// loadSpec reads FILE as a collection spec and returns it with the name of
// the program to run and the input memory the file carries. typ, if not
// nil, overrides the program's type.
func loadSpec(path string, stdin io.Reader, typ progtype.Type, program, section string) (*ebpfvm.CollectionSpec, string, []byte, error) {
	p, err := loadProgramSelect(path, stdin, program, section)
	if err != nil {
		return nil, "", nil, err
	}
	return specFromProgram(p, typ)
}

// specFromProgram is loadSpec for a program already read.
func specFromProgram(p *program, typ progtype.Type) (*ebpfvm.CollectionSpec, string, []byte, error) {
	if p.object == nil {
		if typ == nil {
			typ = progtype.Raw
		}
		return ebpfvm.NewProgramSpec("main", typ, p.insns), "main", p.mem, nil
	}
	spec, err := ebpfvm.CollectionSpecFromObject(p.object)
	if err != nil {
		return nil, "", nil, err
	}
	name := p.elfProg.Name
	if typ != nil {
		spec.Programs[name].Type = typ
	}
	// Programs of kernel types ebpfvm cannot run stay out of the
	// collection, unless they are the one asked for (which then fails
	// with a clear error).
	for n, ps := range spec.Programs {
		if n != name && ps.Type == nil && ps.KernelType != "" && ps.KernelType != "syscall" && ps.KernelType != "raw" {
			delete(spec.Programs, n)
		}
	}
	return spec, name, p.mem, nil
}

// setupEntry is one entry of a --setup file.
type setupEntry struct {
	Map      string `json:"map"`
	KeyHex   string `json:"key_hex"`
	ValueHex string `json:"value_hex"`
	Program  string `json:"program"`
}

func applySetup(coll *ebpfvm.Collection, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var entries []setupEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i, e := range entries {
		m, ok := coll.Maps[e.Map]
		if !ok {
			return fmt.Errorf("%s: entry %d: no map %q (maps: %s)", path, i, e.Map, strings.Join(slices.Sorted(mapNames(coll)), ", "))
		}
		key, err := hex.DecodeString(e.KeyHex)
		if err != nil {
			return fmt.Errorf("%s: entry %d: key_hex: %w", path, i, err)
		}
		if e.Program != "" {
			p, ok := coll.Programs[e.Program]
			if !ok {
				return fmt.Errorf("%s: entry %d: no program %q", path, i, e.Program)
			}
			if err := ebpfvm.SetProgram(m, key, p); err != nil {
				return fmt.Errorf("%s: entry %d: %w", path, i, err)
			}
			continue
		}
		value, err := hex.DecodeString(e.ValueHex)
		if err != nil {
			return fmt.Errorf("%s: entry %d: value_hex: %w", path, i, err)
		}
		if m.Type().PerCPU() {
			values := make([][]byte, m.NumCPU())
			for c := range values {
				values[c] = value
			}
			err = m.UpdatePerCPU(key, values, ebpfmaps.UpdateAny)
		} else {
			err = m.Update(key, value, ebpfmaps.UpdateAny)
		}
		if err != nil {
			return fmt.Errorf("%s: entry %d: %w", path, i, err)
		}
	}
	return nil
}

func mapNames(coll *ebpfvm.Collection) func(func(string) bool) {
	return func(yield func(string) bool) {
		for n := range coll.Maps {
			if !yield(n) {
				return
			}
		}
	}
}

// dumpMaps returns the contents of the collection's maps for --dump-maps.
func dumpMaps(coll *ebpfvm.Collection) map[string]any {
	out := map[string]any{}
	for name, m := range coll.Maps {
		switch m.Type() {
		case ebpfmaps.Array, ebpfmaps.Hash, ebpfmaps.LRUHash, ebpfmaps.LPMTrie:
			kv := map[string]string{}
			for k, v := range m.All() {
				kv[hex.EncodeToString(k)] = hex.EncodeToString(v)
			}
			out[name] = kv
		case ebpfmaps.PerCPUArray, ebpfmaps.PerCPUHash, ebpfmaps.LRUPerCPUHash:
			kv := map[string][]string{}
			for k := range m.Keys() {
				values, err := m.LookupPerCPU(k)
				if err != nil {
					continue
				}
				hexes := make([]string, len(values))
				for i, v := range values {
					hexes[i] = hex.EncodeToString(v)
				}
				kv[hex.EncodeToString(k)] = hexes
			}
			out[name] = kv
		}
	}
	return out
}

// runResult is the JSON form of one run.
type runResult struct {
	R0        uint64         `json:"r0"`
	Error     string         `json:"error"`
	Insns     uint64         `json:"insns"`
	PacketHex *string        `json:"packet_hex,omitempty"`
	Maps      map[string]any `json:"maps,omitempty"`
	Packet    *int           `json:"packet,omitempty"`
}

func runRun(e *env, args []string) error {
	fs := newFlags("run")
	var f runFlags
	f.register(fs)
	jsonOut := fs.Bool("json", false, "print one JSON object per run")
	dump := fs.Bool("dump-maps", false, "add the maps' contents to the JSON output")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one FILE, got %d arguments", len(pos))
	}
	if err := f.checkInputs(true); err != nil {
		return err
	}
	l, err := loadForRun(&f, pos[0], e.stdin)
	if err != nil {
		return err
	}
	defer l.coll.Close()
	if f.engine == ebpfvm.EngineJIT.String() && l.prog.Engine() != ebpfvm.EngineJIT {
		// Results are the interpreter's: say so rather than let a
		// script believe it compared two engines.
		fmt.Fprintf(e.stderr, "ebpfvm run: note: the JIT is not implemented yet; the %s engine ran the program\n", l.prog.Engine())
	}

	opts := &ebpfvm.RunOptions{Budget: f.budget, AnyCPU: true}
	if f.pcap != "" {
		return runPcap(e, l, opts, f.pcap, *jsonOut)
	}
	if opts.Data, err = f.input(l.mem); err != nil {
		return err
	}
	res, runErr := l.prog.Execute(opts)
	if res == nil {
		if runErr != nil {
			return runErr
		}
		return errors.New("no result")
	}
	out := runResult{R0: res.R0, Insns: res.Executed}
	if runErr != nil {
		out.Error = runErr.Error()
	}
	if l.prog.Type() != progtype.Raw {
		h := hex.EncodeToString(res.Data)
		out.PacketHex = &h
	}
	if *dump {
		out.Maps = dumpMaps(l.coll)
	}
	if *jsonOut {
		if err := json.NewEncoder(e.stdout).Encode(out); err != nil {
			return err
		}
	} else if runErr == nil {
		fmt.Fprintln(e.stdout, res.R0)
	}
	if runErr != nil {
		return &exitError{code: exitFailure, err: runErr}
	}
	return nil
}

// runPcap runs the program once per packet of a pcap or pcapng file.
func runPcap(e *env, l *loaded, opts *ebpfvm.RunOptions, path string, jsonOut bool) error {
	if l.prog.Type() == progtype.Raw {
		return usagef("--pcap needs a packet program type (--type socket_filter or xdp)")
	}
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	next, err := packetSource(file)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	counts := map[string]int{}
	var packets, failures int
	var insns uint64
	var firstErr error
	start := time.Now()
	enc := json.NewEncoder(e.stdout)
	for {
		pkt, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: packet %d: %w", path, packets, err)
		}
		opts.Data = pkt
		res, runErr := l.prog.Execute(opts)
		if res == nil {
			return runErr
		}
		insns += res.Executed
		if runErr != nil {
			failures++
			if firstErr == nil {
				firstErr = fmt.Errorf("packet %d: %w", packets, runErr)
			}
		} else {
			counts[l.prog.Type().Describe(res.R0)]++
		}
		if jsonOut {
			i := packets
			h := hex.EncodeToString(res.Data)
			out := runResult{R0: res.R0, Insns: res.Executed, PacketHex: &h, Packet: &i}
			if runErr != nil {
				out.Error = runErr.Error()
			}
			if err := enc.Encode(out); err != nil {
				return err
			}
		}
		packets++
	}
	elapsed := time.Since(start)
	if !jsonOut {
		fmt.Fprintf(e.stdout, "%d packets in %v (%.0f packets/s, %d instructions)\n", packets, elapsed.Round(time.Microsecond), float64(packets)/elapsed.Seconds(), insns)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range counts {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			fmt.Fprintf(e.stdout, "%8d  %s\n", counts[k], k)
		}
		if failures > 0 {
			fmt.Fprintf(e.stdout, "%8d  faulted\n", failures)
		}
	}
	if firstErr != nil {
		return &exitError{code: exitFailure, err: firstErr}
	}
	return nil
}

// packetSource reads pcap or pcapng, by magic number.
func packetSource(r io.Reader) (func() ([]byte, error), error) {
	br := newPeekReader(r)
	magic, err := br.peek(4)
	if err != nil {
		return nil, fmt.Errorf("not a pcap file: %w", err)
	}
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, err
		}
		return func() ([]byte, error) {
			data, _, err := ng.ReadPacketData()
			return data, err
		}, nil
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, err
	}
	return func() ([]byte, error) {
		data, _, err := pr.ReadPacketData()
		return data, err
	}, nil
}

// peekReader lets packetSource look at the magic number and still hand the
// whole stream to pcapgo.
type peekReader struct {
	r   io.Reader
	buf []byte
}

func newPeekReader(r io.Reader) *peekReader { return &peekReader{r: r} }

func (p *peekReader) peek(n int) ([]byte, error) {
	for len(p.buf) < n {
		b := make([]byte, n-len(p.buf))
		m, err := p.r.Read(b)
		p.buf = append(p.buf, b[:m]...)
		if err != nil {
			return p.buf, err
		}
	}
	return p.buf[:n], nil
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		return n, nil
	}
	return p.r.Read(b)
}
