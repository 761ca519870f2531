package domain_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

func TestExecutionOutcome(t *testing.T) {
	t.Parallel()
	failure := domain.NewTaskError(domain.NewError("card_declined", "card declined"), false)
	tests := []struct {
		name      string
		exec      domain.Execution
		value     string // "" means no value
		errCode   string // "" means no error
		errMsg    string
		matches   error
		ok        bool
		unchanged bool // Error is the stored one
	}{
		{name: "a pending execution has no outcome yet", exec: domain.Execution{State: domain.ExecutionPending}},
		{name: "a running execution has no outcome yet", exec: domain.Execution{State: domain.ExecutionRunning, Result: json.RawMessage(`1`)}},
		{name: "a completed execution carries its value", exec: domain.Execution{State: domain.ExecutionCompleted, Result: json.RawMessage(`{"id":7}`)}, value: `{"id":7}`, ok: true},
		{name: "a completed execution with a falsey value keeps it", exec: domain.Execution{State: domain.ExecutionCompleted, Result: json.RawMessage(`0`)}, value: `0`, ok: true},
		{name: "a completed execution without a stored result gives null", exec: domain.Execution{State: domain.ExecutionCompleted}, value: `null`, ok: true},
		{name: "a failed execution carries its stored error", exec: domain.Execution{State: domain.ExecutionFailed, Error: failure, Result: json.RawMessage(`1`)},
			errCode: "card_declined", errMsg: "card declined", matches: domain.NewError("card_declined", ""), unchanged: true},
		{name: "a failed execution without a stored error gets a generic one", exec: domain.Execution{State: domain.ExecutionFailed},
			errCode: "error", errMsg: "execution failed"},
		{name: "a timed-out execution without a stored error matches ErrTimedOut and ErrDeadline", exec: domain.Execution{State: domain.ExecutionTimedOut},
			errCode: "timed_out", errMsg: "execution timed out", matches: domain.ErrDeadline},
		{name: "a cancelled execution without a stored error matches ErrCancelled", exec: domain.Execution{State: domain.ExecutionCancelled},
			errCode: "cancelled", errMsg: "execution cancelled", matches: domain.ErrCancelled},
		{name: "a cancelled execution keeps its stored error", exec: domain.Execution{State: domain.ExecutionCancelled, Error: domain.SentinelError(domain.ErrCancelled, "cancelled by ops")},
			errCode: "cancelled", errMsg: "cancelled by ops", matches: domain.ErrCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.exec.ID = "exec-1"
			r := tc.exec.Outcome()
			if r.ExecutionID != "exec-1" || r.State != tc.exec.State {
				t.Errorf("Outcome() id/state = %q/%q", r.ExecutionID, r.State)
			}
			if string(r.Value) != tc.value {
				t.Errorf("Value = %q, want %q", r.Value, tc.value)
			}
			if r.OK() != tc.ok {
				t.Errorf("OK() = %v, want %v", r.OK(), tc.ok)
			}
			if tc.errCode == "" {
				if r.Error != nil || r.Err() != nil {
					t.Fatalf("Error = %+v, want none", r.Error)
				}
				return
			}
			if r.Error == nil {
				t.Fatalf("Error = nil, want code %q", tc.errCode)
			}
			if r.Error.Code != tc.errCode || r.Error.Message != tc.errMsg {
				t.Errorf("Error = %q %q, want %q %q", r.Error.Code, r.Error.Message, tc.errCode, tc.errMsg)
			}
			if tc.unchanged && r.Error != tc.exec.Error {
				t.Errorf("Error is not the stored one")
			}
			if tc.matches != nil && !errors.Is(r.Err(), tc.matches) {
				t.Errorf("Err() = %v does not match %v", r.Err(), tc.matches)
			}
		})
	}
}

func TestResultErrIsUntypedNilWhenCompleted(t *testing.T) {
	t.Parallel()
	r := domain.Execution{State: domain.ExecutionCompleted}.Outcome()
	if err := r.Err(); err != nil {
		t.Fatalf("Err() = %#v, want an untyped nil", err)
	}
}

func TestResultJSONRoundTripKeepsErrorsIs(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(domain.Execution{ID: "e", State: domain.ExecutionTimedOut}.Outcome())
	if err != nil {
		t.Fatal(err)
	}
	var r domain.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(r.Err(), domain.ErrTimedOut) || !errors.Is(r.Err(), domain.ErrDeadline) || errors.Is(r.Err(), domain.ErrExpired) || errors.Is(r.Err(), domain.ErrCancelled) {
		t.Fatalf("decoded result error %+v lost its codes", r.Error)
	}
}

func TestExecutionOverdue(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	deadline := now
	tests := []struct {
		name string
		exec domain.Execution
		want bool
	}{
		{"a live execution at its deadline is overdue", domain.Execution{State: domain.ExecutionRunning, Deadline: &deadline}, true},
		{"a pending execution past its deadline is overdue", domain.Execution{State: domain.ExecutionPending, Deadline: ptr(now.Add(-time.Second))}, true},
		{"a live execution before its deadline is not", domain.Execution{State: domain.ExecutionRunning, Deadline: ptr(now.Add(time.Microsecond))}, false},
		{"an execution without a deadline is never overdue", domain.Execution{State: domain.ExecutionRunning}, false},
		{"a terminal execution is never overdue", domain.Execution{State: domain.ExecutionCompleted, Deadline: ptr(now.Add(-time.Hour))}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.exec.Overdue(now); got != tc.want {
				t.Fatalf("Overdue = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTaskHelpers(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	task := domain.Task{ID: "t1", WorkerID: "w1", ClaimToken: "tok", Kind: domain.KindOrchestrator}
	if f := task.Fence(); f != (domain.Fence{TaskID: "t1", WorkerID: "w1", Token: "tok"}) {
		t.Errorf("Fence() = %+v", f)
	}
	if !task.IsRoot() {
		t.Error("an orchestrator without a parent is not the root")
	}
	if (domain.Task{Kind: domain.KindActivity, ParentTaskID: "t1"}).IsRoot() {
		t.Error("an activity is the root")
	}
	if !task.Due(now) || !(domain.Task{ScheduledFor: &now}).Due(now) || (domain.Task{ScheduledFor: ptr(now.Add(time.Microsecond))}).Due(now) {
		t.Error("Due: want due when unscheduled or scheduled at or before now only")
	}
}

func TestNormalizeTime(t *testing.T) {
	t.Parallel()
	in := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 2*3600))
	got := domain.NormalizeTime(in)
	want := time.Date(2030, 1, 2, 1, 4, 5, 123456000, time.UTC)
	if !got.Equal(want) || got.Location() != time.UTC || got.Nanosecond() != 123456000 {
		t.Fatalf("NormalizeTime(%v) = %v, want %v", in, got, want)
	}
}

func ptr[T any](v T) *T { return &v }
