//go:build linux

package verifier

// knownDisagreements lists, by programHash, every program of the agreement
// campaigns (campaign_linux_test.go) on which this package and the running
// kernel (Linux 6.18.44) disagreed, with the reason. The default campaign
// (seed 7) has none; these come from the random-mutation runs with seeds 8
// to 15 (VERIFIER_CAMPAIGN=3000 VERIFIER_CAMPAIGN_ONLY="priv random").
var knownDisagreements = map[string]string{
	// The kernel accepts, this package runs out of budget. The kernel
	// tracks which scalars a path's safety depends on (precision marks)
	// and prunes loop iterations that differ only in other scalars; this
	// verifier treats every scalar as precise, so it walks every iteration
	// of a loop whose counter no branch decides and gives up after
	// 1,000,000 instructions (or 8192 queued branches). Stricter, never
	// unsound.
	"6472a29989016fb5": precisionReason, // progen(8,901602)+dst@72: kernel processed 311 insns
	"eff9d090d9affb35": precisionReason, // progen(9,900584)+dst@31: kernel 359
	"ef4172c6768a87b1": precisionReason, // progen(9,901544)+dst@92: "The sequence of 8193 jumps is too complex."; kernel 187
	"ee4406d190118ffa": precisionReason, // progen(9,902115)+dst@60: kernel 234
	"42147ebecbb0b7ec": precisionReason, // progen(10,900413)+dst@23
	"b68e2abf6ca6ac24": precisionReason, // progen(10,902500)+dst@69
	"a5b4be9ed1cb6155": precisionReason, // progen(11,902976)+dst@113
	"24f816f21f241ba2": precisionReason, // progen(13,900228)+dst@47
	"367d454e62b41d15": precisionReason, // progen(13,900802)+dst@28
	"1fefa5d24901001d": precisionReason, // progen(13,901958)+dst@32
	"c663d99a35f3ba3c": precisionReason, // progen(13,902427)+dst@36

	// The kernel accepts a helper this package refuses for the program
	// type: the kernel offers socket filters the base helpers of
	// bpf_base_func_proto to loaders with CAP_BPF/CAP_PERFMON; ebpfvm's
	// socket_filter type does not implement these, so a program calling
	// them could not run here.
	"6aea4c7e90ffb801": helperReason, // progen(9,900231)+imm@99: bpf_get_cgroup_classid#17
	"50bf50fb3925c881": helperReason, // progen(9,902405)+imm@24: bpf_get_current_task_btf#158 (returns a BTF pointer)
	"6d90eb218647d255": helperReason, // progen(14,900421)+imm@43: bpf_ktime_get_tai_ns#208

	// The kernel refuses, this package accepts: at a may_goto inside a
	// loop the kernel widens the scalars without precision marks that
	// changed since the previous iteration (widen_imprecise_scalars); an
	// inner loop's counter becomes unknown, that loop unbounded, and the
	// kernel runs out of budget. This verifier keeps the counter's value
	// (it has no precision marks to tell which scalars may be widened) and
	// proves the loops bounded. Seen with generator versions of the
	// campaign's development (progen(1,948), progen(7,1454)).
	"180887142a962683": wideningReason,
}

const (
	precisionReason = "no precision tracking: every iteration of the loop explored, complexity limit reached where the kernel prunes"
	helperReason    = "helper offered by the kernel to the type (with CAP_BPF/CAP_PERFMON) but not implemented by ebpfvm for it"
	wideningReason  = "the kernel widens imprecise scalars at may_goto, making an inner loop unbounded; no widening here"
)
