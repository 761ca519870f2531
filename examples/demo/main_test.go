package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stenthq/stent/domain"
)

func TestExecutionCountsReadAsWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		counts map[domain.ExecutionState]int64
		want   string
	}{
		{nil, "none"},
		{map[domain.ExecutionState]int64{domain.ExecutionCompleted: 4}, "4 completed"},
		{map[domain.ExecutionState]int64{domain.ExecutionFailed: 1, domain.ExecutionCompleted: 3, domain.ExecutionPending: 0}, "3 completed, 1 failed"},
	} {
		if got := byState(tc.counts); got != tc.want {
			t.Errorf("byState(%v) = %q; want %q", tc.counts, got, tc.want)
		}
	}
}

// TestTheDemoEndsWithALineForPeople runs the demo (as `make demo` does)
// and checks its last line reads as words, not a Go map.
func TestTheDemoEndsWithALineForPeople(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the demo takes a few seconds")
	}
	var out bytes.Buffer
	if err := run(t.Context(), &out, filepath.Join(t.TempDir(), "demo.sqlite"), false); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^Executions: 4 completed; dead letters: 1\b`).MatchString(last) || strings.Contains(last, "map[") {
		t.Errorf("the demo's last line is %q; want \"Executions: 4 completed; dead letters: 1 ...\"", last)
	}
}
