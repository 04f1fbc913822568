//go:build unix

package maps

import "golang.org/x/sys/unix"

// Errno is the errno type of the host: operations fail with the kernel's
// errno values, matchable with errors.Is(err, unix.ENOENT) and the like.
type Errno = unix.Errno

const (
	eNOENT     = unix.ENOENT
	eEXIST     = unix.EEXIST
	e2BIG      = unix.E2BIG
	eINVAL     = unix.EINVAL
	eNOSPC     = unix.ENOSPC
	ePERM      = unix.EPERM
	eNOMEM     = unix.ENOMEM
	eAGAIN     = unix.EAGAIN
	eBADF      = unix.EBADF
	eBUSY      = unix.EBUSY
	eOPNOTSUPP = unix.EOPNOTSUPP
)
