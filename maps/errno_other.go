//go:build !unix

package maps

import "syscall"

// Errno is the errno type of the host. golang.org/x/sys/unix does not
// exist here; the syscall package's values stand in for the kernel's.
type Errno = syscall.Errno

const (
	eNOENT     = syscall.ENOENT
	eEXIST     = syscall.EEXIST
	e2BIG      = syscall.E2BIG
	eINVAL     = syscall.EINVAL
	eNOSPC     = syscall.ENOSPC
	ePERM      = syscall.EPERM
	eNOMEM     = syscall.ENOMEM
	eAGAIN     = syscall.EAGAIN
	eBADF      = syscall.EBADF
	eBUSY      = syscall.EBUSY
	eOPNOTSUPP = syscall.EOPNOTSUPP
)
