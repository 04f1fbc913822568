package maps

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ENOTSUPP is the kernel-internal errno 524 that the bpf() syscall returns
// for operations a map type does not implement (not EOPNOTSUPP, which some
// map types return instead). golang.org/x/sys/unix does not define it.
const ENOTSUPP = unix.Errno(524)

// Sentinel errors. Each is the errno the kernel returns, so that both
// errors.Is(err, maps.ErrKeyNotExist) and errors.Is(err, unix.ENOENT) hold.
var (
	ErrKeyNotExist  error = unix.ENOENT  // no such key; end of iteration
	ErrKeyExist     error = unix.EEXIST  // BPF_NOEXIST and the key exists
	ErrFull         error = unix.E2BIG   // no room for a new element, or an index out of range
	ErrNoSpace      error = unix.ENOSPC  // lpm_trie full; perf buffer full
	ErrInvalid      error = unix.EINVAL  // bad flags, sizes or arguments
	ErrPerm         error = unix.EPERM   // BPF_F_RDONLY / BPF_F_WRONLY forbid the operation
	ErrNotSupported error = ENOTSUPP     // the map type does not implement the operation
	ErrNoMem        error = unix.ENOMEM  // the spec needs more memory than allowed
	ErrAgain        error = unix.EAGAIN  // ring buffer full
	ErrBadMap       error = unix.EBADF   // the map was closed, or a map id names no open map
	ErrBusy         error = unix.EBUSY   // a reader is already attached
	ErrClosed             = os.ErrClosed // a reader was closed
)

// Error is the error of a map operation: the map, the operation and the
// kernel's errno, which it unwraps to.
type Error struct {
	Map    string     // the map's name
	Type   MapType    // the map's type
	Op     string     // "create", "lookup", "update", ...
	Errno  unix.Errno // the kernel's errno
	Detail string     // what was wrong, when there is more to say
}

func (e *Error) Error() string {
	name := errnoName(e.Errno)
	msg := fmt.Sprintf("map %q (%s): %s: %s", e.Map, e.Type, e.Op, name)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Errno }

// errnoName gives the symbolic name and the kernel's meaning, so that error
// messages read like the kernel documentation rather than like file errors.
func errnoName(e unix.Errno) string {
	switch e {
	case unix.ENOENT:
		return "ENOENT (key does not exist)"
	case unix.EEXIST:
		return "EEXIST (key already exists)"
	case unix.E2BIG:
		return "E2BIG (map full or index out of range)"
	case unix.EINVAL:
		return "EINVAL (invalid argument)"
	case unix.ENOSPC:
		return "ENOSPC (no space left)"
	case unix.EPERM:
		return "EPERM (operation not permitted)"
	case unix.ENOMEM:
		return "ENOMEM (out of memory)"
	case unix.EAGAIN:
		return "EAGAIN (ring buffer full)"
	case unix.EBADF:
		return "EBADF (map closed or unknown)"
	case unix.EBUSY:
		return "EBUSY (busy)"
	case unix.EOPNOTSUPP:
		return "EOPNOTSUPP (operation not supported)"
	case ENOTSUPP:
		return "ENOTSUPP (operation not supported by this map type)"
	}
	return fmt.Sprintf("errno %d (%v)", int(e), e)
}

func (m *Map) err(op string, errno unix.Errno, format string, args ...any) error {
	e := &Error{Map: m.name, Type: m.typ, Op: op, Errno: errno}
	if format != "" {
		e.Detail = fmt.Sprintf(format, args...)
	}
	return e
}

// errnoOf extracts the errno of an error returned by this package (0 if nil).
func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EINVAL
}

func specErr(s *Spec, errno unix.Errno, format string, args ...any) error {
	return &Error{Map: s.Name, Type: s.Type, Op: "create", Errno: errno, Detail: fmt.Sprintf(format, args...)}
}
