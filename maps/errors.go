package maps

import (
	"errors"
	"fmt"
	"os"
)

// ENOTSUPP is the kernel-internal errno 524 that the bpf() syscall returns
// for operations a map type does not implement (not EOPNOTSUPP, which some
// map types return instead). golang.org/x/sys/unix does not define it.
const ENOTSUPP = Errno(524)

// Sentinel errors. Each is the errno the kernel returns, so that both
// errors.Is(err, maps.ErrKeyNotExist) and errors.Is(err, eNOENT) hold.
var (
	ErrKeyNotExist  error = eNOENT       // no such key; end of iteration
	ErrKeyExist     error = eEXIST       // BPF_NOEXIST and the key exists
	ErrFull         error = e2BIG        // no room for a new element, or an index out of range
	ErrNoSpace      error = eNOSPC       // lpm_trie full; perf buffer full
	ErrInvalid      error = eINVAL       // bad flags, sizes or arguments
	ErrPerm         error = ePERM        // BPF_F_RDONLY / BPF_F_WRONLY forbid the operation
	ErrNotSupported error = ENOTSUPP     // the map type does not implement the operation
	ErrNoMem        error = eNOMEM       // the spec needs more memory than allowed
	ErrAgain        error = eAGAIN       // ring buffer full
	ErrBadMap       error = eBADF        // the map was closed, or a map id names no open map
	ErrBusy         error = eBUSY        // a reader is already attached
	ErrClosed             = os.ErrClosed // a reader was closed
)

// Error is the error of a map operation: the map, the operation and the
// kernel's errno, which it unwraps to.
type Error struct {
	Map    string  // the map's name
	Type   MapType // the map's type
	Op     string  // "create", "lookup", "update", ...
	Errno  Errno   // the kernel's errno
	Detail string  // what was wrong, when there is more to say
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
func errnoName(e Errno) string {
	switch e {
	case eNOENT:
		return "ENOENT (key does not exist)"
	case eEXIST:
		return "EEXIST (key already exists)"
	case e2BIG:
		return "E2BIG (map full or index out of range)"
	case eINVAL:
		return "EINVAL (invalid argument)"
	case eNOSPC:
		return "ENOSPC (no space left)"
	case ePERM:
		return "EPERM (operation not permitted)"
	case eNOMEM:
		return "ENOMEM (out of memory)"
	case eAGAIN:
		return "EAGAIN (ring buffer full)"
	case eBADF:
		return "EBADF (map closed or unknown)"
	case eBUSY:
		return "EBUSY (busy)"
	case eOPNOTSUPP:
		return "EOPNOTSUPP (operation not supported)"
	case ENOTSUPP:
		return "ENOTSUPP (operation not supported by this map type)"
	}
	return fmt.Sprintf("errno %d (%v)", int(e), e)
}

func (m *Map) err(op string, errno Errno, format string, args ...any) error {
	e := &Error{Map: m.name, Type: m.typ, Op: op, Errno: errno}
	if format != "" {
		e.Detail = fmt.Sprintf(format, args...)
	}
	return e
}

// errnoOf extracts the errno of an error returned by this package (0 if nil).
func errnoOf(err error) Errno {
	if err == nil {
		return 0
	}
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	return eINVAL
}

func specErr(s *Spec, errno Errno, format string, args ...any) error {
	return &Error{Map: s.Name, Type: s.Type, Op: "create", Errno: errno, Detail: fmt.Sprintf(format, args...)}
}
