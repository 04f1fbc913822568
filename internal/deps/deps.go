//go:build tools

// Package deps pins the modules the tests and later packages use, so that
// go.mod lists them before their first import.
package deps

import (
	_ "github.com/cilium/ebpf"
	_ "github.com/gopacket/gopacket/pcapgo"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/arch/arm64/arm64asm"
	_ "golang.org/x/arch/x86/x86asm"
	_ "golang.org/x/sys/unix"
)
