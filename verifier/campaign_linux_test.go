//go:build linux

package verifier

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ebpfvm/ebpfvm/internal/progen"
	"github.com/ebpfvm/ebpfvm/isa"
	"github.com/ebpfvm/ebpfvm/kernel"
	ebpfmaps "github.com/ebpfvm/ebpfvm/maps"
)

// The agreement campaign: generated programs, each verified by the running
// kernel and by this package, privileged (root) and unprivileged (user
// nobody without capabilities). Categories:
//
//   - valid: programs from internal/progen, which the kernel accepts by
//     construction (except where it runs out of its complexity budget);
//   - unsafe/KIND: a valid program with an unsafe snippet at its entry
//     (mutate_test.go): both verifiers must reject every one;
//   - random: a valid program with one field of one instruction changed,
//     safe or not.
//
// Unprivileged programs are socket filters (the type an unprivileged user
// may load). Every disagreement must be listed in knownDisagreements
// (disagreements_linux_test.go) with its reason.
//
// VERIFIER_CAMPAIGN=N sets the number of valid privileged programs (the
// other categories scale with it; default 100, 1500 for the report);
// VERIFIER_CAMPAIGN_SEED the generator seed, VERIFIER_CAMPAIGN_ONLY a
// single "mode category" (e.g. "priv random"); VERIFIER_CAMPAIGN_DUMP a
// directory where disagreeing programs are saved (TestCampaignReplay).

type campaignCase struct {
	mode, cat string
	spec      *kernel.Spec
	desc      string
}

type campaignRow struct {
	mode, cat                     string
	total, agree                  int
	kernelRejects, ourRejects     int
	sameMessage, kernelUnavail    int
	explained                     int
	kernelTime, ourTime           time.Duration
	disagreements                 []string
	unsafeAcceptedByUs, unsafeAcc int
}

func TestAgreementCampaign(t *testing.T) {
	kernelAvailable(t)
	n := envInt("VERIFIER_CAMPAIGN", 100)
	seed := uint64(envInt("VERIFIER_CAMPAIGN_SEED", 7))
	cases := campaignCases(n, seed)
	rows := map[string]*campaignRow{}
	var order []string
	unknown := 0
	only := os.Getenv("VERIFIER_CAMPAIGN_ONLY")
	for i, c := range cases {
		key := c.mode + " " + c.cat
		if only != "" && only != key {
			continue
		}
		row := rows[key]
		if row == nil {
			row = &campaignRow{mode: c.mode, cat: c.cat}
			rows[key] = row
			order = append(order, key)
		}
		p := fromKernelSpec(c.spec)
		unpriv := c.mode == "unpriv"
		start := time.Now()
		kv := kernelVerify(t, p, unpriv, 1)
		row.kernelTime += time.Since(start)
		if kv.Err != "" {
			row.kernelUnavail++
			t.Logf("case %d %s: kernel unavailable: %s", i, c.desc, kv.Err)
			continue
		}
		start = time.Now()
		_, err := Verify(p, Options{Unprivileged: unpriv})
		row.ourTime += time.Since(start)
		var ve *Error
		if err != nil && !errors.As(err, &ve) {
			t.Errorf("case %d %s: %v", i, c.desc, err)
			continue
		}
		row.total++
		if !kv.OK {
			row.kernelRejects++
		}
		if err != nil {
			row.ourRejects++
		}
		if strings.HasPrefix(c.cat, "unsafe/") {
			if err == nil {
				row.unsafeAcceptedByUs++
				t.Errorf("unsafe case %d %s accepted by the verifier", i, c.desc)
			}
			if kv.OK {
				row.unsafeAcc++
			}
		}
		if kv.OK == (err == nil) {
			row.agree++
			if ve != nil && kernelSaid(kv.Log, ve.Msg) {
				row.sameMessage++
			} else if ve != nil && os.Getenv("VERIFIER_CAMPAIGN_MSGS") != "" {
				t.Logf("message %s: ours %q, kernel %q", c.desc, ve.Msg, tail(kv.Log, 1))
			}
			continue
		}
		h := programHash(c.mode, p)
		msg := "accepted"
		if ve != nil {
			msg = ve.Msg
		}
		line := fmt.Sprintf("%s %s (%s): kernel ok=%v %q, ours %q", h, c.desc, p.Type.Name(), kv.OK, tail(kv.Log, 1), msg)
		row.disagreements = append(row.disagreements, line)
		if dir := os.Getenv("VERIFIER_CAMPAIGN_DUMP"); dir != "" {
			dumpCase(t, dir, h, c)
		}
		if reason, ok := knownDisagreements[h]; ok {
			row.explained++
			t.Logf("known disagreement %s: %s", line, reason)
			continue
		}
		unknown++
		t.Errorf("unlisted disagreement %s", line)
	}
	report := campaignReport(rows, order, n, seed)
	fmt.Print(report)
	if out := os.Getenv("VERIFIER_CAMPAIGN_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
	if unknown > 0 {
		t.Errorf("%d disagreements not in knownDisagreements", unknown)
	}
}

// kernelSaid reports whether the kernel's log has msg as a line of its
// own: the same rejection message.
func kernelSaid(log, msg string) bool {
	for _, l := range strings.Split(log, "\n") {
		if strings.TrimSpace(l) == msg {
			return true
		}
	}
	return false
}

// programHash names a program independently of the generator's numbering:
// the mode, the type and the bytecode.
func programHash(mode string, p Program) string {
	h := sha256.New()
	h.Write([]byte(mode + "/" + p.Type.Name() + "/"))
	code, _ := isa.Encode(p.Instructions)
	h.Write(code)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func campaignCases(n int, seed uint64) []campaignCase {
	var cases []campaignCase
	r := rand.New(rand.NewPCG(seed, 99))
	sf := progen.Config{Types: []string{kernel.TypeSocketFilter}}
	// Privileged.
	for i := range n {
		g := progen.Generate(seed, i, progen.Config{})
		cases = append(cases, campaignCase{"priv", "valid", g.Spec, fmt.Sprintf("progen(%d,%d)", seed, i)})
	}
	for k, kind := range unsafeKinds {
		count := n / 5
		if kind == "loop" {
			// The kernel spends seconds on each 1M-instruction loop.
			count = max(n/25, 4)
		}
		for i := range count {
			idx := 100000*(k+1) + i
			g := progen.Generate(seed, idx, progen.Config{})
			spec, desc, err := mutateUnsafe(g.Spec, kind, r)
			if err != nil {
				panic(err)
			}
			cases = append(cases, campaignCase{"priv", "unsafe/" + kind, spec, fmt.Sprintf("progen(%d,%d)+%s", seed, idx, desc)})
		}
	}
	for i := range n {
		idx := 900000 + i
		g := progen.Generate(seed, idx, progen.Config{})
		spec, desc := mutateRandom(g.Spec, r)
		cases = append(cases, campaignCase{"priv", "random", spec, fmt.Sprintf("progen(%d,%d)+%s", seed, idx, desc)})
	}
	// Unprivileged: socket filters whose maps an unprivileged user may
	// create (queue, stack and LRU maps need CAP_BPF: such programs cannot
	// be loaded at all).
	m := max(n/3, 10)
	gen := func(base, i int) (*progen.Program, int) {
		for idx := base + 64*i; ; idx++ {
			if g := progen.Generate(seed, idx, sf); unprivMaps(g.Spec) {
				return g, idx
			}
		}
	}
	for i := range m {
		g, idx := gen(2000000, i)
		cases = append(cases, campaignCase{"unpriv", "valid", g.Spec, fmt.Sprintf("progen(%d,%d,sf)", seed, idx)})
	}
	for k, kind := range unsafeKinds {
		for i := range max(m/5, 4) {
			g, idx := gen(3000000+100000*k, i)
			spec, desc, err := mutateUnsafe(g.Spec, kind, r)
			if err != nil {
				panic(err)
			}
			cases = append(cases, campaignCase{"unpriv", "unsafe/" + kind, spec, fmt.Sprintf("progen(%d,%d,sf)+%s", seed, idx, desc)})
		}
	}
	for i := range m {
		g, idx := gen(4000000, i)
		spec, desc := mutateRandom(g.Spec, r)
		cases = append(cases, campaignCase{"unpriv", "random", spec, fmt.Sprintf("progen(%d,%d,sf)+%s", seed, idx, desc)})
	}
	return cases
}

func campaignReport(rows map[string]*campaignRow, order []string, n int, seed uint64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "agreement campaign: seed %d, %d valid privileged programs\n\n", seed, n)
	b.WriteString("| mode | category | programs | agree | rate | kernel rejects | ours rejects | same message | not compared | kernel time | our time |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	totals := map[string]*campaignRow{}
	for _, k := range order {
		r := rows[k]
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %d | %d | %d | %d | %s | %s |\n", r.mode, r.cat, r.total, r.agree,
			rate(r.agree, r.total), r.kernelRejects, r.ourRejects, r.sameMessage, r.kernelUnavail, r.kernelTime.Round(time.Millisecond), r.ourTime.Round(time.Millisecond))
		t := totals[r.mode]
		if t == nil {
			t = &campaignRow{mode: r.mode}
			totals[r.mode] = t
		}
		t.total += r.total
		t.agree += r.agree
		t.kernelRejects += r.kernelRejects
		t.ourRejects += r.ourRejects
		t.sameMessage += r.sameMessage
		t.kernelUnavail += r.kernelUnavail
		t.kernelTime += r.kernelTime
		t.ourTime += r.ourTime
	}
	modes := make([]string, 0, len(totals))
	for m := range totals {
		modes = append(modes, m)
	}
	sort.Strings(modes)
	for _, m := range modes {
		r := totals[m]
		fmt.Fprintf(&b, "| %s | **all** | %d | %d | %s | %d | %d | %d | %d | %s | %s |\n", m, r.total, r.agree,
			rate(r.agree, r.total), r.kernelRejects, r.ourRejects, r.sameMessage, r.kernelUnavail, r.kernelTime.Round(time.Millisecond), r.ourTime.Round(time.Millisecond))
	}
	b.WriteString("\n\"not compared\": the kernel could not judge the program (an internal verifier error, EFAULT).\n")
	b.WriteString("\ndisagreements:\n")
	for _, k := range order {
		for _, d := range rows[k].disagreements {
			fmt.Fprintf(&b, "  %s %s: %s\n", rows[k].mode, rows[k].cat, d)
		}
	}
	return b.String()
}

func rate(a, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(a)/float64(n))
}

// unprivMaps reports whether an unprivileged user may create every map the
// program refers to.
func unprivMaps(s *kernel.Spec) bool {
	for _, ref := range s.Program.References {
		switch s.Maps[ref.Map].Spec.Type {
		case ebpfmaps.Array, ebpfmaps.PerCPUArray, ebpfmaps.Hash, ebpfmaps.PerCPUHash, ebpfmaps.RingBuf,
			ebpfmaps.ProgramArray, ebpfmaps.PerfEventArray, ebpfmaps.ArrayOfMaps, ebpfmaps.HashOfMaps:
		default:
			return false
		}
	}
	return true
}

// dumpCase saves a disagreeing program, so that it can be studied after the
// generator has changed (TestCampaignReplay).
func dumpCase(t *testing.T, dir, h string, c campaignCase) {
	b, err := json.MarshalIndent(c.spec, "", " ")
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, h+"."+c.mode+".json"), b, 0o644)
	}
	if err != nil {
		t.Log(err)
	}
}

// TestCampaignReplay verifies a program dumpCase saved
// (VERIFIER_REPLAY=file) with both verifiers at log level 2, and writes the
// logs next to it.
func TestCampaignReplay(t *testing.T) {
	file := os.Getenv("VERIFIER_REPLAY")
	if file == "" {
		t.Skip("set VERIFIER_REPLAY to a dumped program")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var spec kernel.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	unpriv := strings.HasSuffix(file, ".unpriv.json")
	p := fromKernelSpec(&spec)
	kv := kernelVerify(t, p, unpriv, 2)
	os.WriteFile(file+".kernel.log", []byte(kv.Log), 0o644)
	res, err := Verify(p, Options{LogLevel: 2, Unprivileged: unpriv})
	var ours string
	if err != nil {
		var ve *Error
		if errors.As(err, &ve) {
			ours = ve.Log
		}
	} else {
		ours = res.Log
	}
	os.WriteFile(file+".ours.log", []byte(ours), 0o644)
	t.Logf("kernel ok=%v %s; ours %v", kv.OK, tail(kv.Log, 1), err)
}
