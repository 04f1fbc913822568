//go:build ebpfvm_smodbug

package difftest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/internal/kerneltest"
	"github.com/ebpfvm/ebpfvm/isa"
)

// TestInjectedSmodBug runs in a build whose interpreter computes signed
// modulo with the divisor's sign (interp/smodbug_on.go): a campaign over
// the full instruction mix must find the difference and shrink it to at
// most 5 instructions, one of them a signed modulo. TestInjectedBugIsCaught
// builds and runs it.
func TestInjectedSmodBug(t *testing.T) {
	kerneltest.Require(t)
	st, m, err := Campaign(&CampaignOptions{Seed: 1, Count: 5000})
	require.NoError(t, err)
	require.NotNil(t, m, "the campaign missed the injected bug:\n%s", st.Summary())
	t.Logf("found after %d programs:\n%s", st.Programs, m.Format())
	insns := m.Shrunk.Spec.Program.Instructions
	require.LessOrEqual(t, len(insns), 5)
	smod := false
	for _, ins := range insns {
		smod = smod || ins.Opcode.Class() == isa.ClassALU64 && ins.Opcode.ALUOp() == isa.ALUMod && ins.Offset == 1
	}
	require.True(t, smod, "the shrunk program has no 64-bit smod")
}
