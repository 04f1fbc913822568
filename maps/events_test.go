package maps

import (
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestRingbufReserveSubmit(t *testing.T) {
	m := mustNew(t, &Spec{Type: RingBuf, MaxEntries: 4096})
	rd, err := NewRingbufReader(m)
	require.NoError(t, err)
	defer rd.Close()
	arena := m.Arena()
	require.Len(t, arena, 4096)

	off, ok := m.Reserve(10, 0)
	require.True(t, ok)
	require.Equal(t, uint32(8), off, "the data follows the 8-byte header")
	require.Equal(t, uint32(10|RingbufBusyBit), binary.NativeEndian.Uint32(arena[0:]))
	require.Equal(t, uint64(24), m.Query(RingbufProdPos), "records are 8-byte aligned")
	require.Equal(t, uint64(24), m.Query(RingbufAvailData))
	require.Equal(t, uint64(4096), m.Query(RingbufRingSize))
	require.Zero(t, m.Query(99))
	copy(arena[off:], "0123456789")
	require.NoError(t, m.Submit(off, 0))
	require.Equal(t, uint32(10), binary.NativeEndian.Uint32(arena[0:]))
	requireErrno(t, unix.EINVAL, m.Submit(off, 0), "already committed")
	requireErrno(t, unix.EINVAL, m.Submit(3, 0), "not a record")

	rec, err := rd.Read()
	require.NoError(t, err)
	require.Equal(t, "0123456789", string(rec.RawSample))
	require.Zero(t, rec.Remaining)
	require.Equal(t, uint64(24), m.Query(RingbufConsPos))

	// Discarded records are skipped.
	off, ok = m.Reserve(4, 0)
	require.True(t, ok)
	require.NoError(t, m.Discard(off, 0))
	require.Equal(t, uint32(4|RingbufDiscardBit), binary.NativeEndian.Uint32(arena[off-8:]))
	require.NoError(t, m.Output([]byte("abc"), RingbufNoWakeup))
	rec, err = rd.Read()
	require.NoError(t, err)
	require.Equal(t, "abc", string(rec.RawSample))

	_, ok = m.Reserve(8, 1)
	require.False(t, ok, "flags must be 0")
	_, ok = m.Reserve(4096, 0)
	require.False(t, ok, "larger than the ring")
	_, ok = m.Reserve(1<<40, 0)
	require.False(t, ok)
	requireErrno(t, unix.EINVAL, m.Output([]byte("x"), 4))
	_, err = m.Lookup(nil)
	requireErrno(t, ENOTSUPP, err)
	requireErrno(t, ENOTSUPP, m.Update(nil, nil, UpdateAny))
}

func TestRingbufBusyRecordBlocksConsumer(t *testing.T) {
	m := mustNew(t, &Spec{Type: RingBuf, MaxEntries: 4096})
	rd, err := NewRingbufReader(m)
	require.NoError(t, err)
	a, _ := m.Reserve(8, 0)
	b, _ := m.Reserve(8, 0)
	copy(m.Arena()[b:], "second..")
	require.NoError(t, m.Submit(b, 0))
	rd.SetDeadline(time.Now().Add(-time.Second))
	_, err = rd.Read()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "the first record is still being written")
	copy(m.Arena()[a:], "first...")
	require.NoError(t, m.Submit(a, 0))
	for _, want := range []string{"first...", "second.."} {
		rec, err := rd.Read()
		require.NoError(t, err)
		require.Equal(t, want, string(rec.RawSample))
	}
}

func TestRingbufFullAndWrap(t *testing.T) {
	m := mustNew(t, &Spec{Type: RingBuf, MaxEntries: 4096})
	rd, err := NewRingbufReader(m)
	require.NoError(t, err)
	data := func(c byte) []byte {
		b := make([]byte, 1000)
		for i := range b {
			b[i] = c
		}
		return b
	}
	for i := range 4 {
		require.NoError(t, m.Output(data(byte('a'+i)), 0))
	}
	// 4 * 1008 bytes used: the ring cannot take a fifth record.
	requireErrno(t, unix.EAGAIN, m.Output(data('e'), 0))
	for i := range 4 {
		rec, err := rd.Read()
		require.NoError(t, err)
		require.Equal(t, data(byte('a'+i)), rec.RawSample)
	}
	// The fifth record does not fit in the 64 bytes before the end: it is
	// preceded by a padding record and starts at offset 0.
	off, ok := m.Reserve(1000, 0)
	require.True(t, ok)
	require.Equal(t, uint32(8), off)
	copy(m.Arena()[off:], data('e'))
	require.NoError(t, m.Submit(off, 0))
	require.Equal(t, uint64(4032+64+1008), m.Query(RingbufProdPos))
	rec, err := rd.Read()
	require.NoError(t, err)
	require.Equal(t, data('e'), rec.RawSample)
	require.Equal(t, m.Query(RingbufProdPos), m.Query(RingbufConsPos))

	// An empty record whose data starts at the end of the area.
	require.NoError(t, m.Output(make([]byte, 4096-(5104%4096)-16), 0))
	_, err = rd.Read()
	require.NoError(t, err)
	require.Equal(t, uint64(4088), m.Query(RingbufProdPos)%4096)
	off, ok = m.Reserve(0, 0)
	require.True(t, ok)
	require.Equal(t, uint32(4096), off)
	require.NoError(t, m.Submit(off, 0))
	rec, err = rd.Read()
	require.NoError(t, err)
	require.Empty(t, rec.RawSample)

	// Many more records, wrapping many times, in order.
	for i := range 100 {
		msg := []byte{byte(i), byte(i >> 8), 1, 2, 3, 4, 5}[:1+i%7]
		require.NoError(t, m.Output(msg, 0))
		rec, err := rd.Read()
		require.NoError(t, err)
		require.Equal(t, msg, rec.RawSample)
	}
}

func TestRingbufReaderCloseAndDeadline(t *testing.T) {
	m := mustNew(t, &Spec{Type: RingBuf, MaxEntries: 4096})
	rd, err := NewRingbufReader(m)
	require.NoError(t, err)
	require.Equal(t, 4096, rd.BufferSize())

	rd.SetDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	_, err = rd.Read()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), 15*time.Millisecond)
	rd.SetDeadline(time.Time{})

	// A blocked Read wakes up when a record is committed...
	done := make(chan RingbufRecord)
	go func() {
		rec, err := rd.Read()
		if err == nil {
			done <- rec
		}
		close(done)
	}()
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, m.Output([]byte("wake"), 0))
	require.Equal(t, "wake", string((<-done).RawSample))

	// ...and when the reader is closed; committed records are still returned.
	require.NoError(t, m.Output([]byte("last"), 0))
	require.Equal(t, 16, rd.AvailableBytes())
	require.NoError(t, rd.Close())
	rec, err := rd.Read()
	require.NoError(t, err)
	require.Equal(t, "last", string(rec.RawSample))
	_, err = rd.Read()
	require.ErrorIs(t, err, os.ErrClosed)

	rd2, err := NewRingbufReader(m)
	require.NoError(t, err)
	errc := make(chan error)
	go func() { _, err := rd2.Read(); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, m.Close())
	require.ErrorIs(t, <-errc, os.ErrClosed, "closing the map wakes its readers")

	_, err = NewRingbufReader(mustNew(t, &Spec{Type: Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}))
	requireErrno(t, unix.EINVAL, err)
}

// Producers on several goroutines and readers on others: every committed
// record is read exactly once.
func TestRingbufConcurrent(t *testing.T) {
	m := mustNew(t, &Spec{Type: RingBuf, MaxEntries: 1 << 14})
	const producers, perProducer, readers = 6, 2000, 2
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; {
				id := uint32(p*perProducer + i)
				var err error
				if i%2 == 0 {
					err = m.Output(u32(id), 0)
				} else if off, ok := m.Reserve(4, 0); ok {
					binary.NativeEndian.PutUint32(m.Arena()[off:], id)
					err = m.Submit(off, 0)
				} else {
					err = unix.EAGAIN
				}
				if errors.Is(err, unix.EAGAIN) {
					time.Sleep(time.Microsecond)
					continue // full: retry
				}
				if err != nil {
					panic(err)
				}
				i++
			}
		}()
	}
	seen := make([][]uint32, readers)
	var rwg sync.WaitGroup
	rds := make([]*RingbufReader, readers)
	for r := range readers {
		rd, err := NewRingbufReader(m)
		require.NoError(t, err)
		rds[r] = rd
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			var rec RingbufRecord
			for {
				if err := rd.ReadInto(&rec); err != nil {
					return
				}
				seen[r] = append(seen[r], binary.NativeEndian.Uint32(rec.RawSample))
			}
		}()
	}
	wg.Wait()
	for _, rd := range rds {
		require.NoError(t, rd.Close())
	}
	rwg.Wait()
	count := map[uint32]int{}
	for _, s := range seen {
		for _, id := range s {
			count[id]++
		}
	}
	require.Len(t, count, producers*perProducer)
	for id, n := range count {
		require.Equal(t, 1, n, "record %d", id)
	}
}

func TestPerfEventArray(t *testing.T) {
	m := mustNew(t, &Spec{Type: PerfEventArray})
	require.Equal(t, uint32(2), m.MaxEntries())
	requireErrno(t, unix.ENOENT, m.PerfEventOutput(PerfCurrentCPU, 0, []byte("x")), "no reader attached")
	rd, err := NewPerfReader(m, 1)
	require.NoError(t, err)
	_, err = NewPerfReader(m, 4096)
	requireErrno(t, unix.EBUSY, err)

	require.NoError(t, m.PerfEventOutput(PerfCurrentCPU, 1, []byte("from cpu 1")))
	require.NoError(t, m.PerfEventOutput(0, 0, []byte("from cpu 0")))
	requireErrno(t, unix.EOPNOTSUPP, m.PerfEventOutput(1, 0, []byte("x")), "index of another CPU")
	requireErrno(t, unix.E2BIG, m.PerfEventOutput(5, 0, []byte("x")))
	requireErrno(t, unix.EINVAL, m.PerfEventOutput(1<<32, 0, []byte("x")))
	requireErrno(t, unix.E2BIG, m.PerfEventOutput(PerfCurrentCPU, 0, make([]byte, 70000)))
	got := map[int]string{}
	for range 2 {
		rec, err := rd.Read()
		require.NoError(t, err)
		require.Zero(t, rec.LostSamples)
		got[rec.CPU] = string(rec.RawSample)
	}
	require.Equal(t, map[int]string{0: "from cpu 0", 1: "from cpu 1"}, got)

	// A full buffer loses samples, and the reader hears about it.
	n := 0
	for m.PerfEventOutput(PerfCurrentCPU, 0, make([]byte, 100)) == nil {
		n++
	}
	require.Equal(t, 4096/112, n, "a 100-byte sample takes 112 bytes, as in the kernel")
	requireErrno(t, unix.ENOSPC, m.PerfEventOutput(PerfCurrentCPU, 0, make([]byte, 100)))
	for range n {
		rec, err := rd.Read()
		require.NoError(t, err)
		require.Len(t, rec.RawSample, 100)
	}
	require.NoError(t, m.PerfEventOutput(PerfCurrentCPU, 0, []byte("after")))
	rec, err := rd.Read()
	require.NoError(t, err)
	require.Equal(t, uint64(2), rec.LostSamples)
	require.Empty(t, rec.RawSample)
	rec, err = rd.Read()
	require.NoError(t, err)
	require.Equal(t, "after", string(rec.RawSample))

	rd.SetDeadline(time.Now().Add(10 * time.Millisecond))
	_, err = rd.Read()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	rd.SetDeadline(time.Time{})
	errc := make(chan error)
	go func() { _, err := rd.Read(); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, rd.Close())
	require.ErrorIs(t, <-errc, os.ErrClosed)
	requireErrno(t, unix.ENOENT, m.PerfEventOutput(PerfCurrentCPU, 0, []byte("x")), "the reader detached")

	_, err = m.Lookup(u32(0))
	requireErrno(t, ENOTSUPP, err)
	requireErrno(t, unix.EINVAL, m.Update(u32(0), u32(3), UpdateAny))
	rd2, err := NewPerfReader(m, 4096)
	require.NoError(t, err, "a new reader may attach after Close")
	require.NoError(t, m.Delete(u32(1)))
	requireErrno(t, unix.ENOENT, m.Delete(u32(1)))
	requireErrno(t, unix.ENOENT, m.PerfEventOutput(PerfCurrentCPU, 1, []byte("x")))
	require.NoError(t, rd2.Close())
}

func TestPerfConcurrent(t *testing.T) {
	m := mustNew(t, &Spec{Type: PerfEventArray})
	rd, err := NewPerfReader(m, 1<<16)
	require.NoError(t, err)
	const per = 3000
	var wg sync.WaitGroup
	for cpu := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; {
				if err := m.PerfEventOutput(PerfCurrentCPU, cpu, u32(uint32(i))); err == nil {
					i++
				} else {
					time.Sleep(time.Microsecond)
				}
			}
		}()
	}
	next := [2]uint32{}
	var lost uint64
	for next[0]+next[1] < 2*per {
		rec, err := rd.Read()
		require.NoError(t, err)
		if rec.LostSamples > 0 {
			lost += rec.LostSamples
			continue
		}
		require.Equal(t, next[rec.CPU], binary.NativeEndian.Uint32(rec.RawSample), "per-CPU order")
		next[rec.CPU]++
	}
	wg.Wait()
	t.Logf("lost samples reported (retried by the producers): %d", lost)
	require.NoError(t, rd.Close())
}
