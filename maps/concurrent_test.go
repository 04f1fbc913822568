package maps

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestConcurrent runs 8 goroutines updating and looking up one map at once,
// through the Go API and the program side, for every keyed map type; under
// -race it checks the locking. Afterwards the map must be consistent.
func TestConcurrent(t *testing.T) {
	specs := []*Spec{
		{Type: Hash, KeySize: 4, ValueSize: 8, MaxEntries: 64},
		{Type: PerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 64},
		{Type: LRUHash, KeySize: 4, ValueSize: 8, MaxEntries: 32},
		{Type: LRUPerCPUHash, KeySize: 4, ValueSize: 8, MaxEntries: 32},
		{Type: Array, KeySize: 4, ValueSize: 8, MaxEntries: 64},
		{Type: PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: 64},
		{Type: LPMTrie, KeySize: 8, ValueSize: 8, MaxEntries: 48, Flags: FlagNoPrealloc},
		{Type: Queue, ValueSize: 8, MaxEntries: 16},
		{Type: Stack, ValueSize: 8, MaxEntries: 16},
		{Type: BloomFilter, ValueSize: 8, MaxEntries: 64},
	}
	const goroutines = 8
	iters := 3000
	if testing.Short() {
		iters = 500
	}
	for _, spec := range specs {
		t.Run(spec.Type.String(), func(t *testing.T) {
			m := mustNew(t, spec)
			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 1))
					key := make([]byte, m.KeySize())
					val := make([]byte, m.FullValueSize())
					for i := range iters {
						if len(key) >= 4 {
							binary.NativeEndian.PutUint32(key, uint32(rng.IntN(80)))
						}
						if m.Type() == LPMTrie {
							binary.NativeEndian.PutUint32(key, uint32(rng.IntN(33)))
						}
						binary.NativeEndian.PutUint64(val, uint64(i))
						var err error
						switch rng.IntN(8) {
						case 0, 1:
							err = m.Update(key, val, UpdateAny)
						case 2:
							_, err = m.Lookup(key)
						case 3:
							err = m.Delete(key)
						case 4:
							m.LookupOffset(key, g%2)
						case 5:
							err = m.UpdateElem(key, val[:m.ValueSize()], UpdateAny, g%2)
						case 6:
							_, err = m.NextKey(key)
						case 7:
							if m.KeySize() == 0 {
								err = m.Pop(val[:m.ValueSize()])
							} else if rng.IntN(20) == 0 {
								for range m.All() {
								}
							}
						}
						if err != nil && !expected(err) {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			n := 0
			for range m.All() {
				n++
			}
			require.LessOrEqual(t, n, int(m.MaxEntries()))
		})
	}
}

// expected are the errors a random mix of operations legitimately meets.
func expected(err error) bool {
	for _, e := range []unix.Errno{unix.ENOENT, unix.E2BIG, unix.EEXIST, unix.ENOSPC, unix.EINVAL, unix.EOPNOTSUPP, ENOTSUPP} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
