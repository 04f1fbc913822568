package progen

import (
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ebpfvm/ebpfvm/internal/kerneltest"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
)

func TestKernelAcceptance(t *testing.T) {
	kerneltest.Require(t)
	reasons := map[string]int{}
	example := map[string]int{}
	n, rejected := 3000, 0
	for i := range n {
		p := Generate(1, i, Config{})
		_, err := kernel.Test(p.Spec, &p.Input, nil)
		var re *kernel.RejectedError
		if errors.As(err, &re) {
			rejected++
			reasons[re.Reason]++
			example[re.Reason] = i
			continue
		}
		require.NoError(t, err, "program %d", i)
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%5d %s (e.g. %d)\n", reasons[k], k, example[k])
	}
	fmt.Printf("rejected %d of %d\n", rejected, n)
	_ = isa.Listing
}
