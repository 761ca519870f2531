package main

import (
	"math"
	"slices"
	"testing"
)

// TestFlowRatios checks the W7 limits figures: every limited phase is
// compared with the unlimited throughput interpolated at its place between
// the unlimited phases either side of it (ckey a third of the way, rate two
// thirds), and the run reports the median over its rounds.
func TestFlowRatios(t *testing.T) {
	if got := flowPhases(2); !slices.Equal(got, []string{"none0", "ckey1", "rate1", "none1", "ckey2", "rate2", "none2"}) {
		t.Fatalf("flowPhases(2) = %v", got)
	}
	if k := flowKind("ckey12"); k != "ckey" {
		t.Fatalf("flowKind(ckey12) = %q", k)
	}
	tput := map[string]float64{
		"none0": 100, "ckey1": 90, "rate1": 50, "none1": 100,
		"ckey2": 133, "rate2": 166, "none2": 400, // a drifting baseline: 200 at ckey2, 300 at rate2
		"ckey3": 40, "rate3": 300, "none3": 100,
	}
	r := flowRatios(tput, 3)
	// ckey ratios 0.9, 0.665, 0.133 -> median 0.665; rate 0.5, 0.553, 1.5 -> 0.553.
	if !near(r.ratioCkey, 0.665) || !near(r.ratioRate, 166.0/300) {
		t.Fatalf("ratios ckey %v rate %v; want 0.665 and 0.553", r.ratioCkey, r.ratioRate)
	}
	if r.drift != 4 || r.none != 100 {
		t.Fatalf("drift %v none %v; want 4 and 100", r.drift, r.none)
	}
}

// TestFlowRatiosFollowATrend is the regression test of a bias: the
// throughput of one child rose steadily over its first minute here (20,000
// units took 4.7 s at first, 3.2 s later), and against the mean of its
// neighbours a phase that equals the trend read low in the first slot
// (ckey) and high in the second (rate).
func TestFlowRatiosFollowATrend(t *testing.T) {
	tput := map[string]float64{}
	for i, ph := range flowPhases(3) {
		tput[ph] = 1000 + 100*float64(i) // every phase on the same straight line
	}
	r := flowRatios(tput, 3)
	if !near(r.ratioCkey, 1) || !near(r.ratioRate, 1) {
		t.Fatalf("on a straight trend: ratios ckey %v rate %v; want 1 and 1", r.ratioCkey, r.ratioRate)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
