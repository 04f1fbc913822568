//go:build !linux

package kernel

import (
	"fmt"
	"runtime"
)

var errOS = fmt.Errorf("%w: %s is not Linux", ErrUnavailable, runtime.GOOS)

// Available reports whether programs can be loaded into the kernel; on
// this operating system they cannot.
func Available() error { return errOS }

// Loaded is a program loaded into the kernel; on this operating system
// there are none.
type Loaded struct{}

// Load returns an error wrapping ErrUnavailable: only Linux has the kernel
// this package drives.
func Load(spec *Spec, opts *Options) (*Loaded, error) { return nil, errOS }

// Test returns an error wrapping ErrUnavailable.
func Test(spec *Spec, in *Input, opts *Options) (*Result, error) { return nil, errOS }

// Run returns an error wrapping ErrUnavailable.
func (l *Loaded) Run(in *Input) (*Result, error) { return nil, errOS }

// Log returns "".
func (l *Loaded) Log() string { return "" }

// VariantErr returns nil.
func (l *Loaded) VariantErr() error { return nil }

// ObjectIDs returns nothing.
func (l *Loaded) ObjectIDs() (progs, maps []uint32) { return nil, nil }

// Close does nothing.
func (l *Loaded) Close() error { return nil }
