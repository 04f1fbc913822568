package helpers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"

	"github.com/ebpfvm/ebpfvm/vm"
	"golang.org/x/sys/unix"
)

// The format language of bpf_trace_printk and bpf_snprintf, as the kernel's
// bpf_bprintf_prepare accepts it: %d %i %u %x %X with optional l or ll, %c,
// %s, %p (also %pK, %px, %ps, %pS, %pB), %pks and %pus (strings), %pI4 %pi4
// %pI6 %pi6 (addresses read from memory), %%; flags "0+- " and a width, but
// no precision. Anything else is -EINVAL, as is a format that is not
// NUL-terminated within its size or has a non-printable character.

var errFormat = errors.New("invalid format")

// formatArg is one conversion's argument source.
type formatArgs interface {
	next() (uint64, bool)
}

type sliceArgs struct {
	args []uint64
	i    int
}

func (a *sliceArgs) next() (uint64, bool) {
	if a.i >= len(a.args) {
		return 0, false
	}
	a.i++
	return a.args[a.i-1], true
}

// bprintf formats fmt with args, reading strings and addresses from m.
func bprintf(m *vm.Machine, fmtb []byte, args formatArgs) ([]byte, error) {
	var out []byte
	for i := 0; i < len(fmtb); i++ {
		c := fmtb[i]
		if (c < 0x20 || c > 0x7e) && !isSpace(c) {
			return nil, errFormat
		}
		if c != '%' {
			out = append(out, c)
			continue
		}
		i++
		if i < len(fmtb) && fmtb[i] == '%' {
			out = append(out, '%')
			continue
		}
		// flags and width
		start := i
		for i < len(fmtb) && (fmtb[i] == '0' || fmtb[i] == '+' || fmtb[i] == '-' || fmtb[i] == ' ') {
			i++
		}
		flagsEnd := i
		for i < len(fmtb) && fmtb[i] >= '0' && fmtb[i] <= '9' {
			i++
		}
		spec := "%" + string(fmtb[start:i])
		// Strings and characters pad with spaces in the kernel, whatever the
		// flags; Go would pad them with zeros for a '0' flag.
		strSpec := "%" + strings.ReplaceAll(string(fmtb[start:flagsEnd]), "0", "") + string(fmtb[flagsEnd:i])
		if i >= len(fmtb) {
			return nil, errFormat
		}
		at := func(j int) byte {
			if j < len(fmtb) {
				return fmtb[j]
			}
			return 0
		}
		arg, ok := args.next()
		if !ok {
			return nil, errFormat
		}
		switch fmtb[i] {
		case 'p':
			n1 := at(i + 1)
			switch {
			case (n1 == 'k' || n1 == 'u') && at(i+2) == 's':
				i += 2
				if !endsConversion(at(i + 1)) {
					return nil, errFormat
				}
				out = fmt.Appendf(out, strSpec+"s", readString(m, arg))
			case n1 == 'i' || n1 == 'I':
				v := at(i + 2)
				if v != '4' && v != '6' {
					return nil, errFormat
				}
				i += 2
				out = append(out, formatIP(m, arg, n1 == 'I', v == '4')...)
			case n1 == 'K' || n1 == 'x' || n1 == 's' || n1 == 'S' || n1 == 'B':
				i++
				out = fmt.Appendf(out, spec+"016x", arg)
			case endsConversion(n1):
				// Kernel pointers print hashed; virtual addresses reveal
				// nothing, so they print as they are.
				out = fmt.Appendf(out, spec+"016x", arg)
			default:
				return nil, errFormat
			}
		case 's':
			if !endsConversion(at(i + 1)) {
				return nil, errFormat
			}
			out = fmt.Appendf(out, strSpec+"s", readString(m, arg))
		case 'c':
			// The byte itself: Go's %c would encode bytes from 0x80 as
			// two-byte UTF-8. As a one-byte string it pads the same.
			out = fmt.Appendf(out, strSpec+"s", string([]byte{byte(arg)}))
		default:
			width := 32
			if fmtb[i] == 'l' {
				width = 64
				i++
				if at(i) == 'l' {
					i++
				}
			}
			conv := at(i)
			if width == 32 {
				arg = uint64(uint32(arg))
			}
			switch conv {
			case 'd', 'i':
				v := int64(arg)
				if width == 32 {
					v = int64(int32(arg))
				}
				out = fmt.Appendf(out, spec+"d", v)
			case 'u':
				out = fmt.Appendf(out, spec+"d", arg)
			case 'x', 'X':
				out = fmt.Appendf(out, spec+string(conv), arg)
			default:
				return nil, errFormat
			}
		}
	}
	return out, nil
}

func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// endsConversion reports whether c may follow %s or %p: the end, a space or
// punctuation.
func endsConversion(c byte) bool {
	return c == 0 || isSpace(c) || (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~')
}

// readString reads the NUL-terminated string a %s argument points to; a bad
// pointer prints as the empty string, as in the kernel.
func readString(m *vm.Machine, addr uint64) string {
	s, _, err := m.ReadCString(addr, 512)
	if err != nil {
		return ""
	}
	return string(s)
}

func formatIP(m *vm.Machine, addr uint64, compact, v4 bool) string {
	n := uint64(16)
	if v4 {
		n = 4
	}
	b, err := m.Slice(addr, n, false)
	if err != nil {
		return ""
	}
	if v4 {
		if compact {
			return netip.AddrFrom4([4]byte(b)).String()
		}
		return fmt.Sprintf("%03d.%03d.%03d.%03d", b[0], b[1], b[2], b[3])
	}
	if compact { // %pI6: colon-separated groups, leading zeros kept
		s := ""
		for i := 0; i < 16; i += 2 {
			if i > 0 {
				s += ":"
			}
			s += fmt.Sprintf("%04x", binary.BigEndian.Uint16(b[i:]))
		}
		return s
	}
	return fmt.Sprintf("%x", b)
}

// formatString reads the format argument: it must be NUL-terminated within size.
func formatString(m *vm.Machine, addr, size uint64) ([]byte, bool, error) {
	b, err := m.Slice(addr, size, false)
	if err != nil {
		return nil, false, err
	}
	for i, c := range b {
		if c == 0 {
			return b[:i], true, nil
		}
	}
	return nil, false, nil
}

// tracePrintk is bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3): it
// writes the formatted text to the Env's Trace writer and returns its length.
func tracePrintk(m *vm.Machine, fmtAddr, fmtSize, a1, a2, a3 uint64) (uint64, error) {
	f, ok, err := formatString(m, fmtAddr, fmtSize)
	if err != nil {
		return 0, err
	}
	if !ok {
		return errno(unix.EINVAL), nil
	}
	out, err := bprintf(m, f, &sliceArgs{args: []uint64{a1, a2, a3}})
	if err != nil {
		return errno(unix.EINVAL), nil
	}
	EnvOf(m).trace(out)
	return uint64(len(out)), nil
}

// snprintf is bpf_snprintf(str, str_size, fmt, data, data_len): data holds
// the arguments as 8-byte words. It returns the length of the whole output
// plus the NUL, even when str_size truncates it.
func snprintf(m *vm.Machine, str, strSize, fmtAddr, data, dataLen uint64) (uint64, error) {
	if dataLen%8 != 0 || dataLen/8 > maxSnprintfArgs {
		return errno(unix.EINVAL), nil
	}
	f, ok, err := m.ReadCString(fmtAddr, 1<<16)
	if err != nil {
		return 0, err
	}
	if !ok {
		return errno(unix.EINVAL), nil
	}
	raw, err := m.Slice(data, dataLen, false)
	if err != nil {
		return 0, err
	}
	args := make([]uint64, dataLen/8)
	for i := range args {
		args[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	out, err := bprintf(m, f, &sliceArgs{args: args})
	if err != nil {
		return errno(unix.EINVAL), nil
	}
	dst, err := m.Slice(str, strSize, true)
	if err != nil {
		return 0, err
	}
	if len(dst) > 0 {
		n := copy(dst[:len(dst)-1], out)
		dst[n] = 0
	}
	return uint64(len(out) + 1), nil
}

// parseInteger parses like the kernel's __bpf_strtoull: leading whitespace,
// an optional '-', then at most 63 bytes in a base taken from flags (0
// detects the 0x and 0 prefixes; 16 skips a 0x prefix). It returns the
// value, whether a '-' was seen, and the number of bytes consumed.
func parseInteger(b []byte, flags uint64) (uint64, bool, int, unix.Errno) {
	base := flags & 0x1f
	if base != 0 && base != 8 && base != 10 && base != 16 {
		return 0, false, 0, unix.EINVAL
	}
	if flags&^0x1f != 0 {
		return 0, false, 0, unix.EINVAL
	}
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	if i == len(b) {
		return 0, false, 0, unix.EINVAL
	}
	s := b[i:min(len(b), i+63)]
	for j, c := range s {
		if c == 0 {
			s = s[:j]
			break
		}
	}
	at := func(j int) byte {
		if j < len(s) {
			return s[j]
		}
		return 0
	}
	j := 0
	if base == 0 {
		base = 10
		if at(0) == '0' {
			base = 8
			if at(1)|0x20 == 'x' && isHexDigit(at(2)) {
				base = 16
			}
		}
	}
	if base == 16 && at(0) == '0' && at(1)|0x20 == 'x' {
		j = 2
	}
	digits := j
	var v uint64
	overflow := false
	for ; j < len(s); j++ {
		d, ok := digitValue(s[j])
		if !ok || d >= base {
			break
		}
		hi, lo := bits.Mul64(v, base)
		sum, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			overflow = true
		}
		v = sum
	}
	if overflow {
		return 0, false, 0, unix.ERANGE
	}
	if j == digits {
		return 0, false, 0, unix.EINVAL
	}
	return v, neg, i + j, 0
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

func digitValue(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c|0x20 >= 'a' && c|0x20 <= 'z':
		return uint64(c|0x20-'a') + 10, true
	}
	return 0, false
}

// strtol is bpf_strtol(buf, buf_len, flags, res): it parses a signed long
// from buf (not necessarily NUL-terminated) and returns the bytes consumed.
func strtol(m *vm.Machine, buf, bufLen, flags, res, _ uint64) (uint64, error) {
	return strto(m, buf, bufLen, flags, res, true)
}

// strtoul is bpf_strtoul: strtol for unsigned longs.
func strtoul(m *vm.Machine, buf, bufLen, flags, res, _ uint64) (uint64, error) {
	return strto(m, buf, bufLen, flags, res, false)
}

func strto(m *vm.Machine, buf, bufLen, flags, res uint64, signed bool) (uint64, error) {
	b, err := m.Slice(buf, bufLen, false)
	if err != nil {
		return 0, err
	}
	out, err := m.Slice(res, 8, true)
	if err != nil {
		return 0, err
	}
	// The kernel clears *res first, so a failed conversion leaves 0 there.
	clear(out)
	v, neg, n, e := parseInteger(b, flags)
	if e != 0 {
		return errno(e), nil
	}
	if !signed && neg {
		return errno(unix.EINVAL), nil
	}
	if signed {
		if (!neg && v > 1<<63-1) || (neg && v > 1<<63) {
			return errno(unix.ERANGE), nil
		}
		if neg {
			v = -v
		}
	}
	binary.LittleEndian.PutUint64(out, v)
	return uint64(n), nil
}

// strncmp is bpf_strncmp(s1, s1_sz, s2): strncmp(s1, s2, s1_sz) with s2 a
// NUL-terminated constant string; it returns -1, 0 or 1 as the kernel's does.
func strncmp(m *vm.Machine, s1, s1sz, s2, _, _ uint64) (uint64, error) {
	a, err := m.Slice(s1, s1sz, false)
	if err != nil {
		return 0, err
	}
	b, _, err := m.ReadCString(s2, s1sz+1)
	if err != nil {
		return 0, err
	}
	for i := range a {
		var cb byte
		if i < len(b) {
			cb = b[i]
		}
		if a[i] != cb {
			if a[i] < cb {
				return ^uint64(0), nil
			}
			return 1, nil
		}
		if a[i] == 0 {
			break
		}
	}
	return 0, nil
}

func stringHelpers() []Helper {
	return []Helper{
		{Proto: Proto{ID: IDTracePrintk, Name: "trace_printk", Args: [5]ArgKind{ArgPtrToMem, ArgConstSize, ArgAnything, ArgAnything, ArgAnything}, Ret: RetInteger, GPLOnly: true},
			Func: tracePrintk},
		{Proto: Proto{ID: IDSnprintf, Name: "snprintf", Args: [5]ArgKind{ArgPtrToUninitMem, ArgConstSizeOrZero, ArgPtrToConstStr, ArgPtrToMemOrNull, ArgConstSizeOrZero}, Ret: RetInteger},
			Func: snprintf},
		{Proto: Proto{ID: IDStrtol, Name: "strtol", Args: [5]ArgKind{ArgPtrToMem, ArgConstSize, ArgScalar, ArgPtrToLong}, Ret: RetInteger},
			Func: strtol},
		{Proto: Proto{ID: IDStrtoul, Name: "strtoul", Args: [5]ArgKind{ArgPtrToMem, ArgConstSize, ArgScalar, ArgPtrToLong}, Ret: RetInteger},
			Func: strtoul},
		{Proto: Proto{ID: IDStrncmp, Name: "strncmp", Args: [5]ArgKind{ArgPtrToMem, ArgConstSize, ArgPtrToConstStr}, Ret: RetInteger},
			Func: strncmp},
	}
}
