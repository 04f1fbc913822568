// Package maps implements the kernel's BPF map types for ebpfvm: array,
// percpu_array, hash, percpu_hash, lru_hash, lru_percpu_hash, lpm_trie,
// queue, stack, ringbuf, prog_array, array_of_maps, hash_of_maps,
// bloom_filter and perf_event_array.
//
// # Semantics
//
// New validates a Spec with the kernel's rules and errnos (kernel 6.18:
// kernel/bpf/syscall.c map_create and each type's map_alloc_check and
// map_alloc). Operations return *Error values that wrap the kernel's errno,
// so errors.Is(err, eNOENT) and errors.Is(err, maps.ErrKeyNotExist)
// both work. The Go API mirrors the bpf() syscall (and cilium/ebpf's Map);
// the program side mirrors the helpers (bpf_map_lookup_elem, ...). A
// differential test applies the same random operations to kernel maps and
// to these and requires the same results and errnos at every step.
//
// # Memory
//
// Maps whose values programs point to (array, percpu_array, the hash maps,
// lpm_trie, and ringbuf's data area) keep their values in one arena
// allocated at creation, 8-byte aligned, never moved: a program's pointer
// is region<<32 | offset, with the arena registered as a vm region by the
// loader (ProgAccess gives its permissions). Maps of maps keep their inner
// map ids in an arena too. Queues, stacks, bloom filters, prog_array and
// perf_event_array copy values in and out and have no arena. Values are ValueStride (ValueSize rounded up to 8) apart; per-CPU
// maps hold NumCPU consecutive values per element. Hash maps preallocate
// MaxEntries slots and recycle freed ones; a deleted element's memory stays
// valid, as with the kernel's RCU, so a program holding a pointer reads
// stale (or reused) data but never faults. Options.MaxMemory bounds what a
// map may allocate (ENOMEM beyond, like a failed kernel allocation); arenas
// are limited to 4 GiB by the 32-bit offsets.
//
// # Concurrency
//
// Every method is safe for concurrent use. Array lookups from programs take
// no lock; hash and lpm_trie lookups take a read lock; writers take the
// map's (or, for arrays, an element stripe's) write lock. Programs access
// values directly, without locks, as kernel programs do.
//
// # Differences from the kernel
//
//   - Hash iteration (NextKey, iterators, batches) follows ebpfvm's slot
//     order rather than the kernel's bucket order; as in the kernel, NextKey
//     of a missing key restarts at the first key. Hash batches use one
//     element per "bucket", so ENOSPC (a bucket larger than the batch) never
//     occurs.
//   - Updating an existing element of hash, lru_hash or lpm_trie writes the
//     value in place; the kernel links a new element, so a program holding
//     the old pointer keeps the old value there.
//   - LRU maps evict only when full, with the CLOCK algorithm: program
//     lookups and updates set a reference bit; eviction sweeps the slots,
//     clearing set bits and evicting the first unreferenced element. The
//     kernel's LRU is approximate, uses per-CPU free lists and may evict
//     before the map is full (also as a side effect of a failing update);
//     BPF_F_NO_COMMON_LRU only rounds MaxEntries as the kernel does.
//   - BPF_F_LOCK always fails with EINVAL: it needs a bpf_spin_lock in the
//     value's BTF, and ebpfvm maps have no BTF.
//   - BPF_F_NO_PREALLOC is accepted but values are preallocated anyway.
//   - Map names may be longer than the kernel's 15 bytes (cilium/ebpf
//     truncates them); their characters are checked as the kernel does.
//   - Maps of maps take and return inner map ids (Map.ID, ByID) where the
//     syscall takes file descriptors and returns ids; UpdateMap and
//     LookupMap take and return *Map. Inner maps may not be prog_array (as
//     in the kernel) or maps of maps.
//   - prog_array values are set with SetProgram (any value the loader
//     chooses); Update with bytes is EINVAL; Lookup returns the program's
//     ID() if it has that method, else 0.
//   - perf_event_array elements are attached by a PerfReader, one buffer per
//     virtual CPU at the CPU's index, as cilium/ebpf's perf.Reader does;
//     Update with bytes is EINVAL, Lookup ENOTSUPP (as the kernel's).
//   - ringbuf: the kernel maps the data area twice so records may wrap
//     around its end; ebpfvm instead pads to the end with a discarded
//     record, so a reservation can fail when the free space is split by the
//     end of the area. Records, headers (busy and discard bits) and
//     positions are otherwise the kernel's. The page size is fixed at 4096.
//   - bloom_filter uses its own hash function (no false negatives, false
//     positive rate as the kernel's bit-array sizing gives).
//   - Errnos are golang.org/x/sys/unix's; on hosts without it (Windows)
//     the syscall package's stand in.
//   - New fills in what cilium/ebpf and libbpf fill in: perf_event_array
//     key and value sizes (4) and MaxEntries (NumCPU), maps of maps' value
//     size (4).
package maps
