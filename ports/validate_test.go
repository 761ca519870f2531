package ports_test

import (
	"encoding/json"
	"errors"
	"math"
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

// Text, payloads and numbers every store can keep (validate_text.go).
func TestTextValidatorsNameTheFieldAndWhatIsAllowed(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", ports.MaxIDBytes+1)
	spec := ports.StepSpec{ID: "s", Position: 1, Kind: domain.KindActivity, StepName: "fn"}
	for _, tc := range []struct {
		name string
		err  error
		want string // "" means valid
	}{
		{"plain text", ports.ValidateText("queue", "emails ✓", ports.MaxNameBytes), ""},
		{"empty text", ports.ValidateText("queue", "", ports.MaxNameBytes), ""},
		{"a NUL byte", ports.ValidateText("queue", "a\x00b", ports.MaxNameBytes), `queue "a\x00b" contains a NUL byte; want text without NUL bytes`},
		{"invalid UTF-8", ports.ValidateText("tag", "a\xffb", ports.MaxNameBytes), `tag "a\xffb" is not valid UTF-8; want UTF-8 text`},
		{"too long, quoted short", ports.ValidateID("execution id", long), `execution id "` + long[:40] + `"... is 256 bytes; want at most 255 bytes`},
		{"an id of exactly the limit", ports.ValidateID("execution id", long[1:]), ""},
		{"a key of 1024 bytes", ports.ValidateKeys("cache key", []string{strings.Repeat("k", ports.MaxKeyBytes)}), ""},
		{"a key of 1025 bytes", ports.ValidateKeys("cache key", []string{"ok", strings.Repeat("k", ports.MaxKeyBytes+1)}), "cache key"},
		{"int32 bounds", errors.Join(ports.ValidateInt32("priority", math.MaxInt32), ports.ValidateInt32("priority", math.MinInt32)), ""},
		{"beyond int32", ports.ValidateInt32("priority", math.MaxInt32+1), "priority 2147483648 is out of range; want -2147483648 to 2147483647"},
		{"no payload", ports.ValidatePayload("input", nil), ""},
		{"a JSON payload", ports.ValidatePayload("input", json.RawMessage(` {"a": [1, "é"]} `)), ""},
		{"a payload that is not JSON", ports.ValidatePayload("input", json.RawMessage(`{`)), "input (1 bytes) is not valid JSON in UTF-8; want a JSON document or none"},
		{"a JSON string that is not UTF-8", ports.ValidatePayload("result", json.RawMessage("\"\xff\"")), "result (3 bytes) is not valid JSON"},
		{"a spec field is named with its spec", func() error { sp := spec; sp.Queue = "q\x00"; return sp.Validate() }(), `step spec "s": queue "q\x00" contains a NUL byte`},
		{"a spec position beyond int32", func() error { sp := spec; sp.Position = math.MaxInt32 + 1; return sp.Validate() }(), `step spec "s": position 2147483648 is out of range`},
		{"a filter", ports.TaskFilter{StepName: "\xff"}.Validate(), `step name filter "\xff" is not valid UTF-8`},
		{"a fence token", ports.ValidateFence(domain.Fence{TaskID: "t", Token: "\x00"}), `fence token "\x00" contains a NUL byte`},
		{"a renewal of an empty fence", ports.ValidateRenewal([]domain.Fence{{}}, time.Second), ""},
		{"a worker pid", ports.ValidateWorker(domain.WorkerInfo{ID: "w", PID: math.MinInt32 - 1}), "worker pid -2147483649 is out of range"},
		{"a catalogue entry", ports.ValidateFunctions([]domain.FunctionInfo{{Name: "job", Version: "v\x00"}}), `function "job": version "v\x00" contains a NUL byte`},
		{"a data op value", ports.ValidateOps([]domain.DataOp{{Kind: domain.OpSetState, Key: "k", Value: json.RawMessage(`nope`)}}), "data op 0 (set_state): value (4 bytes) is not valid JSON"},
	} {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: %v; want valid", tc.name, tc.err)
		case tc.want != "" && (!errors.Is(tc.err, domain.ErrInvalidArgument) || !strings.Contains(tc.err.Error(), tc.want)):
			t.Errorf("%s: %v; want ErrInvalidArgument naming %q", tc.name, tc.err, tc.want)
		case tc.want != "" && strings.Count(tc.err.Error(), "stent:") != 1:
			t.Errorf("%s: %q; want one stent: prefix", tc.name, tc.err)
		}
	}
}
