package main

import (
	"slices"
	"testing"
)

// TestFlowRatios checks the W7 limits figures: every limited phase is
// compared with the mean of the unlimited phases either side of it, and the
// run reports the median over its rounds.
func TestFlowRatios(t *testing.T) {
	if got := flowPhases(2); !slices.Equal(got, []string{"none0", "ckey1", "rate1", "none1", "ckey2", "rate2", "none2"}) {
		t.Fatalf("flowPhases(2) = %v", got)
	}
	if k := flowKind("ckey12"); k != "ckey" {
		t.Fatalf("flowKind(ckey12) = %q", k)
	}
	tput := map[string]float64{
		"none0": 100, "ckey1": 90, "rate1": 50, "none1": 100,
		"ckey2": 190, "rate2": 200, "none2": 300, // a drifting baseline: 200 is the mean either side
		"ckey3": 40, "rate3": 300, "none3": 100,
	}
	r := flowRatios(tput, 3)
	// ckey ratios 0.9, 0.95, 0.2 -> median 0.9; rate 0.5, 1.0, 1.5 -> 1.0.
	if r.ratioCkey != 0.9 || r.ratioRate != 1.0 {
		t.Fatalf("ratios ckey %v rate %v; want 0.9 and 1.0", r.ratioCkey, r.ratioRate)
	}
	if r.drift != 3 || r.none != 100 {
		t.Fatalf("drift %v none %v; want 3 and 100", r.drift, r.none)
	}
}
