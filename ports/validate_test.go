package ports_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// The contract suite (tests/contract, "bad input") checks that every store
// returns these validators' errors; here each rule is checked once.
func TestValidatorsNameTheBadValueAndWhatIsAllowed(t *testing.T) {
	t.Parallel()
	spec := ports.StepSpec{ID: "s", Position: 1, Kind: domain.KindActivity, StepName: "fn"}
	with := func(mutate func(*ports.StepSpec)) ports.StepSpec { sp := spec; mutate(&sp); return sp }
	exec := domain.Execution{ID: "e", RootFunction: "fn", RootTaskID: "r"}
	root := domain.Task{ID: "r", ExecutionID: "e", Kind: domain.KindOrchestrator, StepName: "fn"}
	for _, tc := range []struct {
		name string
		err  error
		want string // "" means valid
	}{
		{"a valid claim", ports.ClaimParams{WorkerID: "w", Limit: 1, Lease: time.Second}.Validate(), ""},
		{"a claim without a worker", ports.ClaimParams{Limit: 1, Lease: time.Second}.Validate(), "claim: worker id is empty; an id is required"},
		{"a claim with limit 0", ports.ClaimParams{WorkerID: "w", Lease: time.Second}.Validate(), "claim: limit 0; want > 0"},
		{"a claim with a negative lease", ports.ClaimParams{WorkerID: "w", Limit: 1, Lease: -time.Second}.Validate(), "claim: lease -1s; want > 0"},
		{"a page with a negative limit", ports.ExecutionFilter{Limit: -1}.Validate(), "limit -1 is negative; want 0 or more (0 means 100)"},
		{"a page with a negative offset", ports.DeadLetterFilter{Offset: -1}.Validate(), "offset -1 is negative; want 0 or more"},
		{"an unknown task kind", ports.TaskFilter{Kinds: []domain.TaskKind{"x"}}.Validate(), `unknown task kind "x"; allowed: orchestrator,`},
		{"a valid spec", spec.Validate(), ""},
		{"a spec with a negative max concurrent", with(func(sp *ports.StepSpec) { sp.MaxConcurrent = -3 }).Validate(),
			`step spec "s": max concurrent -3; want 0 (no limit) or more`},
		{"a valid execution", ports.NewExecution{Execution: exec, Root: root}.Validate(), ""},
		{"a root with a negative max concurrent", ports.NewExecution{Execution: exec, Root: func() domain.Task { r := root; r.MaxConcurrent = -1; return r }()}.Validate(),
			`root task "r": max concurrent -1; want 0 (no limit) or more`},
		{"a data op with an empty key", ports.ValidateOps([]domain.DataOp{{Kind: domain.OpSetState}}), "data op 0 (set_state): key is empty; a key is required"},
		{"a fence without a task", ports.ValidateFence(domain.Fence{WorkerID: "w"}), "fence task id is empty; an id is required"},
		{"a park with nothing to wait for", ports.ParkParams{Fence: domain.Fence{TaskID: "t"}}.Validate(), "want a wake-up time, children or both"},
		{"a sweep limit of 0", ports.ValidateSweepLimit(0), "sweep limit 0; want > 0"},
		{"a lease of 0", ports.ValidateLease(0), "lease 0s; want > 0"},
		{"a signal without a name", ports.ValidateSignal("e", ""), "signal name is empty; a name is required"},
		{"an unnamed function", ports.ValidateFunctions([]domain.FunctionInfo{{Name: "a"}, {}}), "function 1: name is empty"},
	} {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: %v; want valid", tc.name, tc.err)
		case tc.want != "" && (!errors.Is(tc.err, domain.ErrInvalidArgument) || !strings.Contains(tc.err.Error(), tc.want)):
			t.Errorf("%s: %v; want ErrInvalidArgument naming %q", tc.name, tc.err, tc.want)
		}
	}
	if ports.PageLimit(0) != ports.DefaultPageLimit || ports.PageLimit(7) != 7 {
		t.Errorf("PageLimit(0) = %d, PageLimit(7) = %d", ports.PageLimit(0), ports.PageLimit(7))
	}
}
