package maps

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"time"
)

// ringBuf is a BPF ring buffer (kernel/bpf/ringbuf.c): the arena is the
// data area, records are an 8-byte header (length with the kernel's busy
// and discard bits, then the page offset) followed by the data, 8-byte
// aligned, at producer positions that grow forever and index the arena
// modulo its size.
//
// The kernel maps the data pages twice in a row so that a record crossing
// the end of the area is contiguous in memory. A Go slice cannot do that,
// so when a record does not fit before the end, the producer first writes a
// padding record (a discarded record the consumer skips) up to the end and
// puts the record at offset 0. A reservation can therefore fail where the
// kernel's would succeed, when the free space is split by the end of the
// area; records are contiguous, and Reserve returns an offset whose whole
// record lies inside the arena.
//
// The Go side keeps its own list of the records between the consumer and
// the producer positions, so that a program scribbling over headers (which
// the verifier prevents, but ebpfvm also runs unverified programs) cannot
// make the reader misbehave.
type ringBuf struct {
	mu      sync.Mutex
	data    []byte
	mask    uint64
	cons    uint64
	prod    uint64
	recs    []rbRecord // records from cons to prod, in order
	head    int        // first live entry of recs
	pend    int        // no busy record before recs[pend]
	waiters int
	wake    chan struct{}
}

type rbRecord struct {
	pos     uint64
	len     uint32 // data length
	busy    bool
	discard bool
}

func newRingBuf(m *Map) *ringBuf {
	return &ringBuf{
		data: m.arena,
		mask: uint64(m.maxEntries) - 1,
		wake: make(chan struct{}),
	}
}

func recordLen(size uint32) uint64 { return roundUp8(uint64(size) + RingbufHeaderSize) }

func (r *ringBuf) live() []rbRecord { return r.recs[r.head:] }

// pendingPos is the position of the oldest record not yet committed.
func (r *ringBuf) pendingPos() uint64 {
	r.pend = max(r.pend, r.head)
	for r.pend < len(r.recs) && !r.recs[r.pend].busy {
		r.pend++
	}
	if r.pend < len(r.recs) {
		return r.recs[r.pend].pos
	}
	return r.prod
}

func (r *ringBuf) writeHeader(pos uint64, word uint32) {
	off := pos & r.mask
	binary.NativeEndian.PutUint32(r.data[off:], word)
	binary.NativeEndian.PutUint32(r.data[off+4:], uint32(off/PageSize))
}

func (r *ringBuf) push(rec rbRecord) {
	// Reuse the slice's memory once the consumer has moved on, so that a
	// steady stream of records does not allocate.
	if r.head > 0 && (r.head == len(r.recs) || r.head > 64 && r.head*2 > len(r.recs)) {
		n := copy(r.recs, r.recs[r.head:])
		r.recs = r.recs[:n]
		r.pend = max(r.pend-r.head, 0)
		r.head = 0
	}
	r.recs = append(r.recs, rec)
}

// Reserve is bpf_ringbuf_reserve: room for a record of size bytes. It
// returns the arena offset of the record's data (its header is the 8 bytes
// before), or ok false if flags are not 0, the record is too large, or the
// ring has no room.
func (m *Map) Reserve(size uint64, flags uint64) (off uint32, ok bool) {
	if m.rb == nil || flags != 0 || size > maxRecordSize {
		return 0, false
	}
	pos, ok := m.rb.reserve(uint32(size))
	if !ok {
		return 0, false
	}
	return uint32(pos&m.rb.mask) + RingbufHeaderSize, true
}

func (r *ringBuf) reserve(size uint32) (uint64, bool) {
	n := recordLen(size)
	ringSize := r.mask + 1
	if n > ringSize {
		return 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pos := r.prod
	pad := uint64(0)
	if off := pos & r.mask; off+n > ringSize {
		pad = ringSize - off
	}
	newProd := pos + pad + n
	// As the kernel: the producer may not get a full ring ahead of the
	// consumer, nor of the oldest record still being written.
	if newProd-r.cons > r.mask || newProd-r.pendingPos() > r.mask {
		return 0, false
	}
	if pad > 0 {
		r.writeHeader(pos, uint32(pad-RingbufHeaderSize)|RingbufDiscardBit)
		r.push(rbRecord{pos: pos, len: uint32(pad - RingbufHeaderSize), discard: true})
		pos += pad
	}
	r.writeHeader(pos, size|RingbufBusyBit)
	r.push(rbRecord{pos: pos, len: size, busy: true})
	r.prod = newProd
	return pos, true
}

// Submit is bpf_ringbuf_submit: it commits the record whose data starts at
// arena offset off. Flags: RingbufNoWakeup, RingbufForceWakeup. An offset
// that is not a reserved record is EINVAL (the kernel's verifier makes that
// impossible).
func (m *Map) Submit(off uint32, flags uint64) error { return m.commit("submit", off, flags, false) }

// Discard is bpf_ringbuf_discard: the record is released and skipped by readers.
func (m *Map) Discard(off uint32, flags uint64) error { return m.commit("discard", off, flags, true) }

func (m *Map) commit(op string, off uint32, flags uint64, discard bool) error {
	r := m.rb
	if r == nil {
		return m.err(op, eINVAL, "%s is not a ringbuf", m.typ)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.findBusy(off)
	if !ok {
		return m.err(op, eINVAL, "offset %d is not a reserved record", off)
	}
	rec := &r.recs[i]
	rec.busy = false
	rec.discard = discard
	word := rec.len
	if discard {
		word |= RingbufDiscardBit
	}
	r.writeHeader(rec.pos, word)
	if flags&RingbufNoWakeup == 0 || flags&RingbufForceWakeup != 0 {
		r.signal()
	}
	return nil
}

// findBusy finds the reserved record whose data is at arena offset off.
// Within the window of live records, exactly one position maps to a given
// offset.
func (r *ringBuf) findBusy(off uint32) (int, bool) {
	// An empty record's data may start at the very end of the area.
	if off < RingbufHeaderSize || uint64(off-RingbufHeaderSize) > r.mask {
		return 0, false
	}
	hdr := uint64(off - RingbufHeaderSize)
	pos := r.cons + ((hdr - r.cons) & r.mask)
	live := r.live()
	i := sort.Search(len(live), func(i int) bool { return live[i].pos >= pos })
	if i == len(live) || live[i].pos != pos || !live[i].busy {
		return 0, false
	}
	return r.head + i, true
}

func (r *ringBuf) signal() {
	if r.waiters > 0 {
		close(r.wake)
		r.wake = make(chan struct{})
		r.waiters = 0
	}
}

func (r *ringBuf) wakeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signal()
}

// Output is bpf_ringbuf_output: reserve, copy data, submit. Flags other
// than RingbufNoWakeup and RingbufForceWakeup are EINVAL; a full ring is
// EAGAIN.
func (m *Map) Output(data []byte, flags uint64) error {
	if m.rb == nil {
		return m.err("output", eINVAL, "%s is not a ringbuf", m.typ)
	}
	if flags&^(RingbufNoWakeup|RingbufForceWakeup) != 0 {
		return m.err("output", eINVAL, "unknown flags %#x", flags)
	}
	off, ok := m.Reserve(uint64(len(data)), 0)
	if !ok {
		return m.err("output", eAGAIN, "no room for %d bytes", len(data))
	}
	r := m.rb
	r.mu.Lock()
	copy(r.data[off:], data)
	r.mu.Unlock()
	return m.commit("output", off, flags, false)
}

// Query is bpf_ringbuf_query: RingbufAvailData, RingbufRingSize,
// RingbufConsPos or RingbufProdPos; other flags return 0.
func (m *Map) Query(flags uint64) uint64 {
	r := m.rb
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch flags {
	case RingbufAvailData:
		return r.prod - r.cons
	case RingbufRingSize:
		return r.mask + 1
	case RingbufConsPos:
		return r.cons
	case RingbufProdPos:
		return r.prod
	}
	return 0
}

// next consumes the oldest committed record into rec. Discarded records
// are skipped; a busy record stops the consumer, as in the kernel.
func (r *ringBuf) next(rec *RingbufRecord) bool {
	for r.head < len(r.recs) {
		f := r.recs[r.head]
		if f.busy {
			return false
		}
		r.head++
		r.cons = f.pos + recordLen(f.len)
		if f.discard {
			continue
		}
		off := (f.pos & r.mask) + RingbufHeaderSize
		rec.RawSample = append(rec.RawSample[:0], r.data[off:off+uint64(f.len)]...)
		rec.Remaining = int(r.prod - r.cons)
		return true
	}
	return false
}

// RingbufRecord is a record read from a ring buffer.
type RingbufRecord struct {
	RawSample []byte
	// Remaining is the number of bytes still in the ring after this record.
	Remaining int
}

// RingbufReader reads the records of a ringbuf map from Go, like
// cilium/ebpf's ringbuf.Reader. It is safe for concurrent use: every
// committed record is returned by exactly one Read.
type RingbufReader struct {
	m        *Map
	mu       sync.Mutex
	deadline time.Time
	closed   chan struct{}
	once     sync.Once
}

// NewRingbufReader returns a reader of the ringbuf m. Several readers of
// one map share its records.
func NewRingbufReader(m *Map) (*RingbufReader, error) {
	if m.rb == nil {
		return nil, m.err("reader", eINVAL, "%s is not a ringbuf", m.typ)
	}
	if err := m.checkOpen("reader"); err != nil {
		return nil, err
	}
	return &RingbufReader{m: m, closed: make(chan struct{})}, nil
}

// SetDeadline makes Read return os.ErrDeadlineExceeded once t has passed
// and no record is ready; the zero time means no deadline.
func (rd *RingbufReader) SetDeadline(t time.Time) {
	rd.mu.Lock()
	rd.deadline = t
	rd.mu.Unlock()
}

// Read waits for the next record.
func (rd *RingbufReader) Read() (RingbufRecord, error) {
	var rec RingbufRecord
	err := rd.ReadInto(&rec)
	return rec, err
}

// ReadInto waits for the next record and stores it in rec, reusing
// rec.RawSample's memory. It returns os.ErrDeadlineExceeded after the
// deadline, and os.ErrClosed once the reader or the map was closed and no
// committed record is left.
func (rd *RingbufReader) ReadInto(rec *RingbufRecord) error {
	r := rd.m.rb
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		r.mu.Lock()
		if r.next(rec) {
			r.mu.Unlock()
			return nil
		}
		if rd.isClosed() || rd.m.closed.Load() {
			r.mu.Unlock()
			return os.ErrClosed
		}
		rd.mu.Lock()
		deadline := rd.deadline
		rd.mu.Unlock()
		var expired <-chan time.Time
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				r.mu.Unlock()
				return os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		wake := r.wake
		r.waiters++
		r.mu.Unlock()
		select {
		case <-wake:
		case <-rd.closed:
		case <-expired:
		}
	}
}

func (rd *RingbufReader) isClosed() bool {
	select {
	case <-rd.closed:
		return true
	default:
		return false
	}
}

// Close makes blocked and later Reads return os.ErrClosed once no committed
// record is left.
func (rd *RingbufReader) Close() error {
	rd.once.Do(func() { close(rd.closed) })
	return nil
}

// AvailableBytes is the number of bytes between the consumer and the
// producer positions (BPF_RB_AVAIL_DATA).
func (rd *RingbufReader) AvailableBytes() int { return int(rd.m.Query(RingbufAvailData)) }

// BufferSize is the size of the ring in bytes.
func (rd *RingbufReader) BufferSize() int { return int(rd.m.maxEntries) }

// randomSeed seeds hash functions that need not be reproducible.
func randomSeed() uint64 { return rand.Uint64() }
