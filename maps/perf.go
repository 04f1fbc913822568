package maps

import (
	"encoding/binary"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// perfArray holds the per-CPU event buffers of a perf_event_array. In the
// kernel each element is a perf event fd opened on one CPU; here a
// PerfReader attaches one buffer per virtual CPU at the index of that CPU,
// as cilium/ebpf's perf.Reader does.
type perfArray struct {
	mu     sync.Mutex
	events []atomic.Pointer[perfEvent]
	reader *PerfReader
}

func newPerfArray(n uint32) *perfArray {
	return &perfArray{events: make([]atomic.Pointer[perfEvent], n)}
}

func (p *perfArray) detach(i uint32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.events[i].Swap(nil) != nil
}

// perfEvent is one CPU's buffer: a byte ring in which a sample takes the
// size of a perf sample record with PERF_SAMPLE_RAW (8-byte header, 4-byte
// size, data, padded to 8), so that a buffer of a given size loses samples
// when the kernel's would. When samples were lost, a lost record (24
// bytes, as PERF_RECORD_LOST) precedes the next sample that fits.
type perfEvent struct {
	cpu        int
	mu         sync.Mutex
	buf        []byte
	head, tail uint64 // write and read positions
	lost       uint64 // lost samples not yet reported
	rd         *PerfReader
}

const (
	perfLostRecord = 24
	perfMaxRecord  = 0xffff // perf_event_header.size is 16 bits
	perfKindSample = 0
	perfKindLost   = 1
)

func perfSampleSize(n int) uint64 { return roundUp8(uint64(12 + n)) }

func (e *perfEvent) free() uint64 { return uint64(len(e.buf)) - (e.head - e.tail) }

// put copies b into the ring at position pos, wrapping around.
func (e *perfEvent) put(pos uint64, b []byte) {
	off := pos % uint64(len(e.buf))
	n := copy(e.buf[off:], b)
	copy(e.buf, b[n:])
}

func (e *perfEvent) get(pos uint64, b []byte) {
	off := pos % uint64(len(e.buf))
	n := copy(b, e.buf[off:])
	copy(b[n:], e.buf)
}

// writeRecord stores a record as a 4-byte kind and a 4-byte length
// followed by the payload (the lost count of a lost record), which fits in
// the kernel's record size computed by the caller.
func (e *perfEvent) writeRecord(kind uint32, size uint64, payload []byte) {
	var hdr [8]byte
	binary.NativeEndian.PutUint32(hdr[0:], kind)
	binary.NativeEndian.PutUint32(hdr[4:], uint32(len(payload)))
	e.put(e.head, hdr[:])
	e.put(e.head+8, payload)
	e.head += size
}

func (e *perfEvent) output(data []byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	need := perfSampleSize(len(data))
	if e.lost > 0 {
		need += perfLostRecord
	}
	if need > e.free() {
		e.lost++
		return false
	}
	if e.lost > 0 {
		e.writeRecord(perfKindLost, perfLostRecord, binary.NativeEndian.AppendUint64(nil, e.lost))
		e.lost = 0
	}
	e.writeRecord(perfKindSample, perfSampleSize(len(data)), data)
	return true
}

// read takes the oldest record; ok is false if the buffer is empty.
func (e *perfEvent) read(rec *PerfRecord) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.head == e.tail {
		return false
	}
	var hdr [8]byte
	e.get(e.tail, hdr[:])
	kind := binary.NativeEndian.Uint32(hdr[0:])
	n := binary.NativeEndian.Uint32(hdr[4:])
	rec.CPU = e.cpu
	rec.LostSamples = 0
	rec.RawSample = rec.RawSample[:0]
	if kind == perfKindLost {
		var lost [8]byte
		e.get(e.tail+8, lost[:])
		rec.LostSamples = binary.NativeEndian.Uint64(lost[:])
		e.tail += perfLostRecord
	} else {
		rec.RawSample = append(rec.RawSample, make([]byte, n)...)
		e.get(e.tail+8, rec.RawSample)
		e.tail += perfSampleSize(int(n))
	}
	rec.Remaining = int(e.head - e.tail)
	return true
}

// PerfEventOutput is bpf_perf_event_output called by a program running on
// virtual CPU cpu. The low 32 bits of flags select the array index
// (PerfCurrentCPU: the index of cpu); other bits are EINVAL (helpers strip
// the context-length bits of the skb and xdp variants first). Errors, as
// the kernel's: E2BIG for an index out of range, ENOENT if no reader is
// attached there, EOPNOTSUPP if the index belongs to another CPU, ENOSPC
// (and a lost sample) if the buffer is full.
func (m *Map) PerfEventOutput(flags uint64, cpu int, data []byte) error {
	const op = "perf event output"
	if m.perf == nil {
		return m.err(op, eINVAL, "%s is not a perf_event_array", m.typ)
	}
	if flags&^PerfIndexMask != 0 {
		return m.err(op, eINVAL, "unknown flags %#x", flags)
	}
	idx := flags & PerfIndexMask
	if idx == PerfCurrentCPU {
		idx = uint64(cpu)
	}
	if idx >= uint64(m.maxEntries) {
		return m.err(op, e2BIG, "index %d out of range (max_entries %d)", idx, m.maxEntries)
	}
	e := m.perf.events[idx].Load()
	if e == nil {
		return m.err(op, eNOENT, "no reader is attached at index %d", idx)
	}
	if e.cpu != cpu {
		return m.err(op, eOPNOTSUPP, "index %d belongs to CPU %d, the program runs on CPU %d", idx, e.cpu, cpu)
	}
	if perfSampleSize(len(data))+8 > perfMaxRecord {
		return m.err(op, e2BIG, "sample of %d bytes exceeds a perf record", len(data))
	}
	if !e.output(data) {
		return m.err(op, eNOSPC, "CPU %d's buffer is full; sample lost", cpu)
	}
	e.rd.signal()
	return nil
}

// PerfRecord is a record read from a perf_event_array: a sample, or a
// report of LostSamples samples dropped because the CPU's buffer was full.
type PerfRecord struct {
	CPU         int
	RawSample   []byte
	LostSamples uint64
	// Remaining is the number of bytes still in this CPU's buffer.
	Remaining int
}

// PerfReader reads the samples programs write to a perf_event_array, like
// cilium/ebpf's perf.Reader: one buffer per virtual CPU, attached at the
// CPU's index. It is safe for concurrent use.
type PerfReader struct {
	m        *Map
	events   []*perfEvent
	mu       sync.Mutex
	deadline time.Time
	next     int
	waiters  int
	wake     chan struct{}
	closed   chan struct{}
	once     sync.Once
}

// NewPerfReader attaches a buffer of perCPUBuffer bytes (rounded up to a
// power-of-two number of pages, as perf buffers are) for each virtual CPU
// at that CPU's index of the perf_event_array m (up to MaxEntries). A map
// has at most one open reader (else EBUSY).
func NewPerfReader(m *Map, perCPUBuffer int) (*PerfReader, error) {
	const op = "perf reader"
	if m.perf == nil {
		return nil, m.err(op, eINVAL, "%s is not a perf_event_array", m.typ)
	}
	if err := m.checkOpen(op); err != nil {
		return nil, err
	}
	if perCPUBuffer <= 0 || perCPUBuffer > 1<<30 {
		return nil, m.err(op, eINVAL, "per-CPU buffer size %d out of range", perCPUBuffer)
	}
	size := roundPow2((uint64(perCPUBuffer) + PageSize - 1) / PageSize * PageSize)
	p := m.perf
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reader != nil {
		return nil, m.err(op, eBUSY, "a reader is already attached")
	}
	n := min(m.ncpu, int(m.maxEntries))
	rd := &PerfReader{m: m, wake: make(chan struct{}), closed: make(chan struct{})}
	for c := range n {
		if p.events[c].Load() != nil {
			return nil, m.err(op, eBUSY, "index %d already has an event", c)
		}
	}
	for c := range n {
		e := &perfEvent{cpu: c, buf: make([]byte, size), rd: rd}
		rd.events = append(rd.events, e)
		p.events[c].Store(e)
	}
	p.reader = rd
	return rd, nil
}

func (rd *PerfReader) signal() {
	rd.mu.Lock()
	if rd.waiters > 0 {
		close(rd.wake)
		rd.wake = make(chan struct{})
		rd.waiters = 0
	}
	rd.mu.Unlock()
}

// SetDeadline makes Read return os.ErrDeadlineExceeded once t has passed
// and no record is ready; the zero time means no deadline.
func (rd *PerfReader) SetDeadline(t time.Time) {
	rd.mu.Lock()
	rd.deadline = t
	rd.mu.Unlock()
}

// Read waits for the next record of any CPU.
func (rd *PerfReader) Read() (PerfRecord, error) {
	var rec PerfRecord
	err := rd.ReadInto(&rec)
	return rec, err
}

// ReadInto waits for the next record and stores it in rec, reusing
// rec.RawSample's memory. CPUs are served in turn. It returns
// os.ErrDeadlineExceeded after the deadline and os.ErrClosed once the
// reader is closed and its buffers are empty.
func (rd *PerfReader) ReadInto(rec *PerfRecord) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
loop:
	for {
		rd.mu.Lock()
		start := rd.next
		rd.next = (rd.next + 1) % max(len(rd.events), 1)
		rd.mu.Unlock()
		for i := range rd.events {
			if rd.events[(start+i)%len(rd.events)].read(rec) {
				return nil
			}
		}
		rd.mu.Lock()
		// Check again under the lock that producers signal with, so that
		// a sample written since the scan is not waited for.
		for _, e := range rd.events {
			e.mu.Lock()
			ready := e.head != e.tail
			e.mu.Unlock()
			if ready {
				rd.mu.Unlock()
				continue loop
			}
		}
		select {
		case <-rd.closed:
			rd.mu.Unlock()
			return os.ErrClosed
		default:
		}
		var expired <-chan time.Time
		if !rd.deadline.IsZero() {
			d := time.Until(rd.deadline)
			if d <= 0 {
				rd.mu.Unlock()
				return os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		wake := rd.wake
		rd.waiters++
		rd.mu.Unlock()
		select {
		case <-wake:
		case <-rd.closed:
		case <-expired:
		}
	}
}

// Close detaches the reader's buffers from the map (programs then get
// ENOENT) and makes blocked and later Reads return os.ErrClosed once the
// buffers are drained.
func (rd *PerfReader) Close() error {
	rd.once.Do(func() {
		p := rd.m.perf
		p.mu.Lock()
		for _, e := range rd.events {
			p.events[e.cpu].CompareAndSwap(e, nil)
		}
		if p.reader == rd {
			p.reader = nil
		}
		p.mu.Unlock()
		close(rd.closed)
	})
	return nil
}
