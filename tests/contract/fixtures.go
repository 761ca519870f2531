package contract

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// epoch is the base time of every scenario; the suite never reads the wall
// clock. Scenarios use epoch plus offsets as their "now".
var epoch = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

// at returns epoch + d.
func at(d time.Duration) time.Time { return epoch.Add(d) }

func ptrTo[T any](v T) *T { return &v }

// js turns a JSON literal into a payload; "" is nil.
func js(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

const (
	storeLease = time.Hour
	workerA    = "worker-a"
	workerB    = "worker-b"
)

// storePolicy is a non-default retry policy, so a store that drops fields
// is noticed.
var storePolicy = domain.RetryPolicy{
	MaxAttempts:   5,
	InitialDelay:  2 * time.Second,
	MaxDelay:      time.Minute,
	BackoffFactor: 3,
	Jitter:        0.25,
	RetryOn:       []string{"flaky"},
	NonRetryable:  []string{"fatal"},
}

// uuidN returns a fixed, well-formed UUID whose text sorts by n.
func uuidN(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// fixture is one scenario's store plus helpers that fail the test on errors.
type fixture struct {
	t    *testing.T
	s    ports.Store
	insp ports.Inspector // the same store
	ctx  context.Context
	name string
}

// execOpts describes an execution fixture; zero fields take defaults.
type execOpts struct {
	ID, RootID    string // default: fresh UUIDs
	Fn            string // default "root"
	Version       string // the root function's version; "" unversioned
	Queue         string
	Tags          []string
	Priority      int
	MaxConcurrent int
	Input         string // JSON; "" is nil
	Key           string
	Singleton     string
	Debounce      string
	ScheduledFor  *time.Time
	Deadline      *time.Time
	CreatedAt     time.Time // default epoch
}

// buildExecution builds (without storing) an execution and its root task as
// the engine would. Deadline and ScheduledFor are set on the execution
// only: the store copies them onto the root.
func buildExecution(o execOpts) (domain.Execution, domain.Task) {
	if o.ID == "" {
		o.ID = domain.NewID()
	}
	if o.RootID == "" {
		o.RootID = domain.NewID()
	}
	if o.Fn == "" {
		o.Fn = "root"
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = epoch
	}
	exec := domain.Execution{
		ID:             o.ID,
		RootFunction:   o.Fn,
		Version:        o.Version,
		RootTaskID:     o.RootID,
		Input:          js(o.Input),
		IdempotencyKey: o.Key,
		SingletonKey:   o.Singleton,
		DebounceKey:    o.Debounce,
		Tags:           slices.Clone(o.Tags),
		Priority:       o.Priority,
		Queue:          o.Queue,
		ScheduledFor:   o.ScheduledFor,
		Deadline:       o.Deadline,
		CreatedAt:      o.CreatedAt,
		UpdatedAt:      o.CreatedAt,
	}
	root := domain.Task{
		ID:            o.RootID,
		ExecutionID:   o.ID,
		Kind:          domain.KindOrchestrator,
		StepName:      o.Fn,
		Version:       o.Version,
		Input:         js(o.Input),
		RetryPolicy:   storePolicy,
		MaxConcurrent: o.MaxConcurrent,
		Tags:          slices.Clone(o.Tags),
		Priority:      o.Priority,
		Queue:         o.Queue,
		CreatedAt:     o.CreatedAt,
		UpdatedAt:     o.CreatedAt,
	}
	return exec, root
}

// create stores a new execution and returns it and its root as stored.
func (f *fixture) create(o execOpts) (domain.Execution, domain.Task) {
	f.t.Helper()
	exec, root := buildExecution(o)
	id, created, err := ports.CreateExecution(f.ctx, f.s, exec, root)
	f.noErr(err, "CreateExecution")
	if !created || id != exec.ID {
		f.t.Fatalf("%s: CreateExecution = (%q, %v); want (%q, true)", f.name, id, created, exec.ID)
	}
	return f.exec(exec.ID), f.task(root.ID)
}

// start creates an execution and claims its root (as workerA, at the
// creation time), returning the running execution and root.
func (f *fixture) start(o execOpts) (domain.Execution, domain.Task) {
	f.t.Helper()
	if o.Fn == "" {
		o.Fn = "root-" + domain.NewID()[:8]
	}
	exec, root := f.create(o)
	got := f.claimOne(root.CreatedAt, o.Fn)
	if got.ID != root.ID {
		f.t.Fatalf("%s: claimed %q; want root %q", f.name, got.ID, root.ID)
	}
	return f.exec(exec.ID), got
}

// claim calls ClaimTasks with defaults for the zero fields (workerA, limit
// 100, lease 1h) and returns the claimed tasks.
func (f *fixture) claim(p ports.ClaimParams) []domain.Task {
	f.t.Helper()
	return claimedTasks(f.claimed(p))
}

// claimedTasks drops the FirstClaim flags.
func claimedTasks(cs []ports.ClaimedTask) []domain.Task {
	if cs == nil {
		return nil
	}
	out := make([]domain.Task, len(cs))
	for i, c := range cs {
		out[i] = c.Task
	}
	return out
}

// claimed is claim with the FirstClaim flags.
func (f *fixture) claimed(p ports.ClaimParams) []ports.ClaimedTask {
	f.t.Helper()
	if p.WorkerID == "" {
		p.WorkerID = workerA
	}
	if p.Limit == 0 {
		p.Limit = 100
	}
	if p.Lease == 0 {
		p.Lease = storeLease
	}
	got, err := f.s.ClaimTasks(f.ctx, p)
	f.noErr(err, "ClaimTasks")
	return got
}

// claimFns claims every eligible task of fns at now as workerA.
func (f *fixture) claimFns(now time.Time, fns ...string) []domain.Task {
	f.t.Helper()
	return f.claim(ports.ClaimParams{Functions: fns, Now: now})
}

// claimOne claims exactly one task of fn at now as workerA.
func (f *fixture) claimOne(now time.Time, fn string) domain.Task {
	f.t.Helper()
	got := f.claim(ports.ClaimParams{Functions: []string{fn}, Now: now, Limit: 1})
	if len(got) != 1 {
		f.t.Fatalf("%s: claim of %q at %s returned %d tasks; want 1", f.name, fn, now, len(got))
	}
	return got[0]
}

// claimID claims the task id (the only eligible task of its function).
func (f *fixture) claimID(now time.Time, id string) domain.Task {
	f.t.Helper()
	t := f.task(id)
	got := f.claimOne(now, t.StepName)
	if got.ID != id {
		f.t.Fatalf("%s: claimed %q; want %q", f.name, got.ID, id)
	}
	return got
}

// activitySpec returns the spec of call pos of parent to fn.
func activitySpec(parent domain.Task, pos int, fn string) ports.StepSpec {
	return ports.StepSpec{
		ID:          domain.StepID(parent.ExecutionID, parent.ID, pos),
		Position:    pos,
		Kind:        domain.KindActivity,
		StepName:    fn,
		Input:       js(fmt.Sprintf(`{"call": %d}`, pos)),
		RetryPolicy: storePolicy,
	}
}

// sleepSpec returns the spec of a sleep at pos waking at wake.
func sleepSpec(parent domain.Task, pos int, wake time.Time) ports.StepSpec {
	return ports.StepSpec{
		ID:           domain.StepID(parent.ExecutionID, parent.ID, pos),
		Position:     pos,
		Kind:         domain.KindSleep,
		StepName:     domain.SleepStepName,
		ScheduledFor: &wake,
	}
}

// signalSpec returns the spec of a wait for the signal name at pos.
func signalSpec(parent domain.Task, pos int, name string) ports.StepSpec {
	return ports.StepSpec{
		ID:       domain.StepID(parent.ExecutionID, parent.ID, pos),
		Position: pos,
		Kind:     domain.KindSignal,
		StepName: domain.SignalStepName(name),
	}
}

// steps creates specs under the running parent at now, without ops.
func (f *fixture) steps(parent domain.Task, now time.Time, specs ...ports.StepSpec) []domain.Task {
	f.t.Helper()
	got, err := ports.CreateSteps(f.ctx, f.s, parent.Fence(), specs, nil, now)
	f.noErr(err, "CreateSteps")
	if len(got) != len(specs) {
		f.t.Fatalf("%s: CreateSteps returned %d records for %d specs", f.name, len(got), len(specs))
	}
	return got
}

// runChild creates call pos of parent to fn (a function name no other
// task uses) and claims it as workerA.
func (f *fixture) runChild(parent domain.Task, pos int, fn string, now time.Time) domain.Task {
	f.t.Helper()
	rec := f.steps(parent, now, activitySpec(parent, pos, fn))[0]
	return f.claimID(now, rec.ID)
}

func (f *fixture) task(id string) domain.Task {
	f.t.Helper()
	t, err := f.s.GetTask(f.ctx, id)
	f.noErr(err, "GetTask")
	return t
}

func (f *fixture) exec(id string) domain.Execution {
	f.t.Helper()
	e, err := f.s.GetExecution(f.ctx, id)
	f.noErr(err, "GetExecution")
	return e
}

// complete completes the claimed task with result at now.
func (f *fixture) complete(t domain.Task, result string, now time.Time) {
	f.t.Helper()
	f.noErr(ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: t.Fence(), Result: js(result), Now: now}), "CompleteTask")
}

// storeError returns a stored error with code.
func storeError(code string) *domain.TaskError {
	return &domain.TaskError{Type: "*errors.errorString", Code: code, Codes: []string{code}, Message: "boom: " + code}
}

// fail fails the claimed task terminally with code at now.
func (f *fixture) fail(t domain.Task, code string, now time.Time) {
	f.t.Helper()
	err := f.s.FailTask(f.ctx, ports.FailParams{Fence: t.Fence(), Error: storeError(code), Reason: "reason " + code, Now: now})
	f.noErr(err, "FailTask")
}

func (f *fixture) countDeadLetters() int64 {
	f.t.Helper()
	n, err := f.s.CountDeadLetters(f.ctx)
	f.noErr(err, "CountDeadLetters")
	return n
}

func (f *fixture) data(execID string) domain.ExecutionData {
	f.t.Helper()
	d, err := f.s.GetExecutionData(f.ctx, execID)
	f.noErr(err, "GetExecutionData")
	return d
}

func (f *fixture) signals(execID string) []domain.Signal {
	f.t.Helper()
	s, err := f.insp.ListSignals(f.ctx, execID)
	f.noErr(err, "ListSignals")
	return s
}

// tasksOf lists every task of an execution.
func (f *fixture) tasksOf(execID string) []domain.Task {
	f.t.Helper()
	var all []domain.Task
	for off := 0; ; off += 100 {
		page, err := f.s.ListTasks(f.ctx, ports.TaskFilter{ExecutionID: execID, Limit: 100, Offset: off})
		f.noErr(err, "ListTasks")
		all = append(all, page...)
		if len(page) < 100 {
			return all
		}
	}
}

// snapshot renders everything the store holds about the executions (and
// the global counts) as JSON, to prove an operation changed nothing.
func (f *fixture) snapshot(execIDs ...string) string {
	f.t.Helper()
	byState, err := f.s.CountExecutionsByState(f.ctx)
	f.noErr(err, "CountExecutionsByState")
	b, err := json.Marshal(struct {
		Views   json.RawMessage
		ByState map[domain.ExecutionState]int64
		Groups  []ports.TaskCount
		Dead    int64
	}{json.RawMessage(f.views(execIDs...)), byState, f.taskCounts(), f.countDeadLetters()})
	f.noErr(err, "encoding a snapshot")
	return string(b)
}

// views renders everything the store holds about the executions as JSON.
func (f *fixture) views(execIDs ...string) string {
	f.t.Helper()
	type execView struct {
		Exec        domain.Execution
		Tasks       []domain.Task
		Data        domain.ExecutionData
		Signals     []domain.Signal
		DeadLetters []domain.DeadLetter
	}
	var views []execView
	for _, id := range execIDs {
		dls, err := f.s.ListDeadLetters(f.ctx, ports.DeadLetterFilter{ExecutionID: id, Limit: 1000})
		f.noErr(err, "ListDeadLetters")
		views = append(views, execView{f.exec(id), f.tasksOf(id), f.data(id), f.signals(id), dls})
	}
	b, err := json.Marshal(views)
	f.noErr(err, "encoding execution views")
	return string(b)
}

// taskCounts returns CountTasks sorted.
func (f *fixture) taskCounts() []ports.TaskCount {
	f.t.Helper()
	groups, err := f.s.CountTasks(f.ctx)
	f.noErr(err, "CountTasks")
	slices.SortFunc(groups, func(a, b ports.TaskCount) int {
		return cmp.Or(cmp.Compare(a.State, b.State), cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Kind, b.Kind))
	})
	return groups
}

// unchanged fails if the snapshot of execIDs differs from before.
func (f *fixture) unchanged(before string, what string, execIDs ...string) {
	f.t.Helper()
	if after := f.snapshot(execIDs...); after != before {
		f.t.Errorf("%s: %s changed the store:\nbefore %s\nafter  %s", f.name, what, before, after)
	}
}

func (f *fixture) noErr(err error, what string) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %s: unexpected error: %v", f.name, what, err)
	}
}

// isErr fails unless errors.Is(err, target).
func (f *fixture) isErr(err, target error, what string) {
	f.t.Helper()
	if !errors.Is(err, target) {
		f.t.Errorf("%s: %s: error %v; want one matching %v", f.name, what, err, target)
	}
}

// errNames fails unless err matches target and its message contains name.
func (f *fixture) errNames(err, target error, name, what string) {
	f.t.Helper()
	f.isErr(err, target, what)
	if err != nil && !strings.Contains(err.Error(), name) {
		f.t.Errorf("%s: %s: error %q does not name %q", f.name, what, err, name)
	}
}

func (f *fixture) eq(what string, got, want any) {
	f.t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		f.t.Errorf("%s: %s = %v; want %v", f.name, what, got, want)
	}
}

// eqRaw compares storePayloads byte for byte; a nil want requires nil.
func (f *fixture) eqRaw(what string, got, want json.RawMessage) {
	f.t.Helper()
	if want == nil && got != nil || !bytes.Equal(got, want) {
		f.t.Errorf("%s: %s = %s (nil=%v); want %s (nil=%v)", f.name, what, got, got == nil, want, want == nil)
	}
}

// eqTime compares instants and requires UTC.
func (f *fixture) eqTime(what string, got, want time.Time) {
	f.t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		f.t.Errorf("%s: %s = %s; want %s (UTC)", f.name, what, got, want.UTC())
	}
}

func (f *fixture) eqTimePtr(what string, got, want *time.Time) {
	f.t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		f.t.Errorf("%s: %s = %v; want %v", f.name, what, got, want)
	default:
		f.eqTime(what, *got, *want)
	}
}

func (f *fixture) state(id string, want domain.TaskState) {
	f.t.Helper()
	if got := f.task(id); got.State != want {
		f.t.Errorf("%s: task %s (%s) state = %s; want %s", f.name, id, got.StepName, got.State, want)
	}
}

func (f *fixture) execState(id string, want domain.ExecutionState) {
	f.t.Helper()
	if got := f.exec(id); got.State != want {
		f.t.Errorf("%s: execution %s state = %s; want %s", f.name, id, got.State, want)
	}
}

func taskIDs(ts []domain.Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func sortedTaskIDs(ts []domain.Task) []string {
	out := taskIDs(ts)
	slices.Sort(out)
	return out
}
