package contract

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

// Bad text and numbers the database would refuse in its own way
// (PostgreSQL rejects NUL bytes and invalid UTF-8 in text, and integers
// beyond int4) while another store takes them: every store must refuse
// them the same way, with ErrInvalidArgument naming the field and what is
// allowed, on read paths as on writes, and write nothing.

const (
	nulText   = "bad\x00value"
	badUTF8   = "bad\xffvalue"
	notUTF8   = "UTF-8"
	noNUL     = "without NUL"
	int32Span = "-2147483648 to 2147483647"
	validJSON = "a JSON document"
)

var (
	longID  = strings.Repeat("i", 256)  // one byte over MaxIDBytes
	longKey = strings.Repeat("k", 1025) // one byte over MaxKeyBytes
)

const (
	idTooLong  = "at most 255 bytes"
	keyTooLong = "at most 1024 bytes"
	beyond32   = math.MaxInt32 + 1
)

// textCase is one call with bad text or a number out of range: its error
// must match ErrInvalidArgument and name the field and what is allowed.
type textCase struct {
	name, field, allowed string
	call                 func() error
}

func (f *fixture) checkText(cases []textCase) {
	f.t.Helper()
	for _, tc := range cases {
		err := tc.call()
		if !errors.Is(err, domain.ErrInvalidArgument) {
			f.t.Errorf("%s: %s: error %v; want one matching %v", f.name, tc.name, err, domain.ErrInvalidArgument)
			continue
		}
		f.errNames(err, domain.ErrInvalidArgument, tc.field, tc.name+" (the field)")
		f.errNames(err, domain.ErrInvalidArgument, tc.allowed, tc.name+" (what is allowed)")
	}
}

func testBadTextInput(t *testing.T, h storeSuite) {
	h.run(t, "reads with ids, filters or keys that hold NUL, are not UTF-8 or are too long are invalid", func(t *testing.T, f *fixture) {
		exec, root := f.start(execOpts{Fn: "parent"})
		now := at(time.Minute)
		f.steps(root, now, activitySpec(root, 1, "job"))
		cases := []textCase{
			{"get an execution with a NUL byte", "execution id", noNUL, func() error { _, err := f.s.GetExecution(f.ctx, nulText); return err }},
			{"get an execution that is not UTF-8", "execution id", notUTF8, func() error { _, err := f.s.GetExecution(f.ctx, badUTF8); return err }},
			{"get an execution with a 256-byte id", "execution id", idTooLong, func() error { _, err := f.s.GetExecution(f.ctx, longID); return err }},
			{"get a task with a NUL byte", "task id", noNUL, func() error { _, err := f.s.GetTask(f.ctx, nulText); return err }},
			{"get tasks, one not UTF-8", "task id", notUTF8, func() error { _, err := f.s.GetTasks(f.ctx, []string{root.ID, badUTF8}); return err }},
			{"progress of an execution with a NUL byte", "execution id", noNUL, func() error { _, err := f.s.ListProgress(f.ctx, nulText); return err }},
			{"data of an execution that is not UTF-8", "execution id", notUTF8, func() error { _, err := f.s.GetExecutionData(f.ctx, badUTF8); return err }},
			{"executions of a function with a NUL byte", "function filter", noNUL, func() error {
				_, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Function: nulText})
				return err
			}},
			{"executions of a queue that is not UTF-8", "queue filter", notUTF8, func() error {
				_, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Queue: badUTF8})
				return err
			}},
			{"tasks of an execution with a NUL byte", "execution id filter", noNUL, func() error {
				_, err := f.s.ListTasks(f.ctx, ports.TaskFilter{ExecutionID: nulText})
				return err
			}},
			{"tasks of a parent with a 256-byte id", "parent task id filter", idTooLong, func() error {
				_, err := f.s.ListTasks(f.ctx, ports.TaskFilter{ParentTaskID: longID})
				return err
			}},
			{"tasks of parents one of which has a 256-byte id", "parent task ids filter", idTooLong, func() error {
				_, err := f.s.ListTasks(f.ctx, ports.TaskFilter{ParentTaskIDs: []string{"ok", longID}})
				return err
			}},
			{"tasks of a step name that is not UTF-8", "step name filter", notUTF8, func() error {
				_, err := f.s.ListTasks(f.ctx, ports.TaskFilter{StepName: badUTF8})
				return err
			}},
			{"tasks of a queue with a NUL byte", "queue filter", noNUL, func() error {
				_, err := f.s.ListTasks(f.ctx, ports.TaskFilter{Queue: nulText})
				return err
			}},
			{"dead letters of a function with a NUL byte", "step name filter", noNUL, func() error {
				_, err := f.s.ListDeadLetters(f.ctx, ports.DeadLetterFilter{StepName: nulText})
				return err
			}},
			{"dead letters of an execution that is not UTF-8", "execution id filter", notUTF8, func() error {
				_, err := f.s.ListDeadLetters(f.ctx, ports.DeadLetterFilter{ExecutionID: badUTF8})
				return err
			}},
			{"dead letters of a queue with a NUL byte", "queue filter", noNUL, func() error {
				_, err := f.s.ListDeadLetters(f.ctx, ports.DeadLetterFilter{Queue: nulText})
				return err
			}},
			{"a dead letter with a NUL byte", "task id", noNUL, func() error { _, err := f.s.GetDeadLetter(f.ctx, nulText); return err }},
			{"a discard that is not UTF-8", "task id", notUTF8, func() error { return f.s.DiscardDeadLetter(f.ctx, badUTF8) }},
			{"a replay with a NUL byte", "task id", noNUL, func() error {
				_, err := f.s.ReplayDeadLetter(f.ctx, ports.ReplayParams{TaskID: nulText, Now: now})
				return err
			}},
			{"a replay to a queue that is not UTF-8", "replay queue", notUTF8, func() error {
				_, err := f.s.ReplayDeadLetter(f.ctx, ports.ReplayParams{TaskID: root.ID, Queue: badUTF8, Now: now})
				return err
			}},
			{"cancel an execution with a NUL byte", "execution id", noNUL, func() error { _, _, err := f.s.CancelExecution(f.ctx, nulText, now); return err }},
			{"time out an execution that is not UTF-8", "execution id", notUTF8, func() error { _, _, err := f.s.TimeoutExecution(f.ctx, badUTF8, now); return err }},
			{"cache entries with a NUL byte", "cache key", noNUL, func() error { _, err := f.insp.GetCacheEntries(f.ctx, []string{"ok", nulText}, now); return err }},
			{"cache entries with a 1025-byte key", "cache key", keyTooLong, func() error { _, err := f.insp.GetCacheEntries(f.ctx, []string{longKey}, now); return err }},
			{"idempotency records not UTF-8", "idempotency key", notUTF8, func() error { _, err := f.insp.GetIdempotencyRecords(f.ctx, []string{badUTF8}); return err }},
			{"signals of an execution with a NUL byte", "execution id", noNUL, func() error { _, err := f.insp.ListSignals(f.ctx, nulText); return err }},
		}
		before := f.snapshot(exec.ID)
		f.checkText(cases)
		f.unchanged(before, "reads with bad text", exec.ID)
	})

	h.run(t, "executions with bad text, payloads or numbers beyond int32 are invalid and write nothing", func(t *testing.T, f *fixture) {
		exec, _ := f.create(execOpts{Fn: "job"})
		create := func(mutate func(*domain.Execution, *domain.Task)) func() error {
			e, r := buildExecution(execOpts{Fn: "job"})
			mutate(&e, &r)
			return func() error { _, _, err := ports.CreateExecution(f.ctx, f.s, e, r); return err }
		}
		cases := []textCase{
			{"an execution id with a NUL byte", "execution id", noNUL, create(func(e *domain.Execution, r *domain.Task) { e.ID, r.ExecutionID = nulText, nulText })},
			{"an execution id of 256 bytes", "execution id", idTooLong, create(func(e *domain.Execution, r *domain.Task) { e.ID, r.ExecutionID = longID, longID })},
			{"a root task id that is not UTF-8", "root task id", notUTF8, create(func(e *domain.Execution, r *domain.Task) { e.RootTaskID, r.ID = badUTF8, badUTF8 })},
			{"a function with a NUL byte", "root function", noNUL, create(func(e *domain.Execution, r *domain.Task) { e.RootFunction, r.StepName = nulText, nulText })},
			{"a function of 256 bytes", "root function", idTooLong, create(func(e *domain.Execution, r *domain.Task) { e.RootFunction, r.StepName = longID, longID })},
			{"a queue that is not UTF-8", "queue", notUTF8, create(func(e *domain.Execution, r *domain.Task) { e.Queue, r.Queue = badUTF8, badUTF8 })},
			{"a tag with a NUL byte", "tag", noNUL, create(func(e *domain.Execution, r *domain.Task) {
				e.Tags, r.Tags = []string{"ok", nulText}, []string{"ok", nulText}
			})},
			{"an idempotency key with a NUL byte", "idempotency key", noNUL, create(func(e *domain.Execution, r *domain.Task) { e.IdempotencyKey = nulText })},
			{"an idempotency key of 1025 bytes", "idempotency key", keyTooLong, create(func(e *domain.Execution, r *domain.Task) { e.IdempotencyKey = longKey })},
			{"a priority beyond int32", "priority", int32Span, create(func(e *domain.Execution, r *domain.Task) { e.Priority, r.Priority = beyond32, beyond32 })},
			{"a priority below int32", "priority", int32Span, create(func(e *domain.Execution, r *domain.Task) { e.Priority, r.Priority = math.MinInt32-1, math.MinInt32-1 })},
			{"a max concurrent beyond int32", "max concurrent", int32Span, create(func(e *domain.Execution, r *domain.Task) { r.MaxConcurrent = beyond32 })},
			{"an input that is not JSON", "input", validJSON, create(func(e *domain.Execution, r *domain.Task) { e.Input, r.Input = js(`{"a":`), js(`{"a":`) })},
			{"an input that is not UTF-8", "input", validJSON, create(func(e *domain.Execution, r *domain.Task) {
				e.Input, r.Input = json.RawMessage("\"\xff\""), json.RawMessage("\"\xff\"")
			})},
			{"a trace context with a NUL byte", "trace context", noNUL, create(func(e *domain.Execution, r *domain.Task) { r.TraceContext = map[string]string{"traceparent": nulText} })},
		}
		before := f.snapshot(exec.ID)
		f.checkText(cases)
		n, err := f.s.CountExecutionsByState(f.ctx)
		f.noErr(err, "CountExecutionsByState")
		f.eq("executions after bad creates", n[domain.ExecutionPending], 1)
		f.unchanged(before, "executions with bad text", exec.ID)
	})

	h.run(t, "steps, finishes and signals with bad text, payloads or numbers beyond int32 are invalid and write nothing", func(t *testing.T, f *fixture) {
		now := at(time.Minute)
		exec, root := f.start(execOpts{Fn: "parent"})
		done := f.steps(root, now, activitySpec(root, 1, "job"))[0]
		spec := func(mutate func(*ports.StepSpec)) func() error {
			sp := activitySpec(root, 2, "job")
			mutate(&sp)
			return func() error {
				_, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{sp}, nil, now)
				return err
			}
		}
		badFence := func(mutate func(*domain.Fence)) domain.Fence { fe := root.Fence(); mutate(&fe); return fe }
		cases := []textCase{
			{"a step name with a NUL byte", "step name", noNUL, spec(func(sp *ports.StepSpec) { sp.StepName = nulText })},
			{"a step id that is not UTF-8", "id", notUTF8, spec(func(sp *ports.StepSpec) { sp.ID = badUTF8 })},
			{"a step queue of 256 bytes", "queue", idTooLong, spec(func(sp *ports.StepSpec) { sp.Queue = longID })},
			{"a step tag that is not UTF-8", "tag", notUTF8, spec(func(sp *ports.StepSpec) { sp.Tags = []string{badUTF8} })},
			{"a step idempotency key of 1025 bytes", "idempotency key", keyTooLong, spec(func(sp *ports.StepSpec) { sp.IdempotencyKey = longKey })},
			{"a step cache key with a NUL byte", "cache key", noNUL, spec(func(sp *ports.StepSpec) { sp.CacheKey = nulText })},
			{"a step position beyond int32", "position", int32Span, spec(func(sp *ports.StepSpec) { sp.Position = beyond32 })},
			{"a step priority beyond int32", "priority", int32Span, spec(func(sp *ports.StepSpec) { sp.Priority = beyond32 })},
			{"a step max concurrent beyond int32", "max concurrent", int32Span, spec(func(sp *ports.StepSpec) { sp.MaxConcurrent = beyond32 })},
			{"a step input that is not JSON", "input", validJSON, spec(func(sp *ports.StepSpec) { sp.Input = js(`nope`) })},
			{"a step trace context key with a NUL byte", "trace context", noNUL, spec(func(sp *ports.StepSpec) { sp.TraceContext = map[string]string{nulText: "x"} })},
			{"a data op key with a NUL byte", "key", noNUL, func() error {
				_, err := ports.CreateSteps(f.ctx, f.s, root.Fence(), []ports.StepSpec{activitySpec(root, 2, "job")},
					[]domain.DataOp{{Kind: domain.OpSetState, Key: nulText, Value: js(`1`)}}, now)
				return err
			}},
			{"a fence whose worker id has a NUL byte", "worker id", noNUL, func() error {
				_, err := ports.CreateSteps(f.ctx, f.s, badFence(func(fe *domain.Fence) { fe.WorkerID = nulText }), []ports.StepSpec{activitySpec(root, 2, "job")}, nil, now)
				return err
			}},
			{"a reset of a step with a NUL byte in its name", "step name", noNUL, func() error {
				sp := activitySpec(root, 1, nulText)
				_, err := f.s.ResetStep(f.ctx, root.Fence(), sp, now)
				return err
			}},
			{"a sleep to complete with a NUL byte", "sleep task id", noNUL, func() error {
				_, err := f.s.CompleteSleep(f.ctx, root.Fence(), nulText, now)
				return err
			}},
			{"a park awaiting a child that is not UTF-8", "child task id", notUTF8, func() error {
				_, err := f.s.ParkTask(f.ctx, ports.ParkParams{Fence: root.Fence(), Children: []string{done.ID, badUTF8}, Now: now})
				return err
			}},
			{"a renewal of a fence whose token has a NUL byte", "token", noNUL, func() error {
				_, err := f.s.RenewLeases(f.ctx, []domain.Fence{badFence(func(fe *domain.Fence) { fe.Token = nulText })}, now, time.Minute)
				return err
			}},
			{"a completion with a result that is not JSON", "result", validJSON, func() error {
				_, err := f.s.CompleteTasks(f.ctx, []ports.CompleteParams{{Fence: root.Fence(), Result: js(`{`), Now: now}})
				return err
			}},
			{"a completion whose fence task id is not UTF-8", "task id", notUTF8, func() error {
				_, err := f.s.CompleteTasks(f.ctx, []ports.CompleteParams{{Fence: badFence(func(fe *domain.Fence) { fe.TaskID = badUTF8 }), Result: js(`1`), Now: now}})
				return err
			}},
			{"a failure whose fence token is 256 bytes", "token", idTooLong, func() error {
				return f.s.FailTask(f.ctx, ports.FailParams{Fence: badFence(func(fe *domain.Fence) { fe.Token = longID }), Error: storeError("x"), Now: now})
			}},
			{"a retry whose fence worker is not UTF-8", "worker id", notUTF8, func() error {
				return f.s.RetryTask(f.ctx, ports.RetryParams{Fence: badFence(func(fe *domain.Fence) { fe.WorkerID = badUTF8 }), Error: storeError("x"), RunAt: now, Now: now})
			}},
			{"a release whose fence task id has a NUL byte", "task id", noNUL, func() error {
				return f.s.ReleaseTask(f.ctx, badFence(func(fe *domain.Fence) { fe.TaskID = nulText }), now, true)
			}},
			{"a signal whose name has a NUL byte", "signal name", noNUL, func() error {
				_, err := f.s.SendSignal(f.ctx, exec.ID, nulText, js(`1`), now)
				return err
			}},
			{"a signal to an execution id that is not UTF-8", "execution id", notUTF8, func() error {
				_, err := f.s.SendSignal(f.ctx, badUTF8, "go", js(`1`), now)
				return err
			}},
			{"a signal whose payload is not JSON", "signal payload", validJSON, func() error {
				_, err := f.s.SendSignal(f.ctx, exec.ID, "go", js(`{"ok":`), now)
				return err
			}},
		}
		before := f.snapshot(exec.ID)
		f.checkText(cases)
		f.unchanged(before, "steps and finishes with bad text", exec.ID)
	})

	h.run(t, "claims, workers and the catalogue with bad text or numbers beyond int32 are invalid and write nothing", func(t *testing.T, f *fixture) {
		now := at(time.Minute)
		exec, _ := f.create(execOpts{Fn: "job"})
		claim := func(mutate func(*ports.ClaimParams)) func() error {
			p := ports.ClaimParams{WorkerID: workerA, Functions: []string{"job"}, Limit: 1, Now: now, Lease: time.Minute}
			mutate(&p)
			return func() error { _, err := f.s.ClaimTasks(f.ctx, p); return err }
		}
		worker := func(mutate func(*domain.WorkerInfo)) func() error {
			w := domain.WorkerInfo{ID: workerA, Name: "w", Host: "h", PID: 1, Process: "p", Queues: []string{"q"}, Functions: []string{"job"}}
			mutate(&w)
			return func() error { return f.s.RegisterWorker(f.ctx, w, now) }
		}
		function := func(mutate func(*domain.FunctionInfo)) func() error {
			fn := domain.FunctionInfo{Name: "job", Queue: "q", RetryPolicy: storePolicy}
			mutate(&fn)
			return func() error { return f.s.UpsertFunctions(f.ctx, []domain.FunctionInfo{fn}, now) }
		}
		cases := []textCase{
			{"a claim by a worker id with a NUL byte", "worker id", noNUL, claim(func(p *ports.ClaimParams) { p.WorkerID = nulText })},
			{"a claim of a queue that is not UTF-8", "queue", notUTF8, claim(func(p *ports.ClaimParams) { p.Queues = []string{badUTF8} })},
			{"a claim with a tag with a NUL byte", "tag", noNUL, claim(func(p *ports.ClaimParams) { p.Tags = []string{nulText} })},
			{"a claim of a function of 256 bytes", "function", idTooLong, claim(func(p *ports.ClaimParams) { p.Functions = []string{"job", longID} })},
			{"the next wake of a queue with a NUL byte", "queue", noNUL, func() error {
				_, _, err := f.s.NextWake(f.ctx, ports.ClaimParams{WorkerID: workerA, Functions: []string{"job"}, Queues: []string{nulText}, Limit: 1, Now: now, Lease: time.Minute})
				return err
			}},
			{"a worker id with a NUL byte", "worker id", noNUL, worker(func(w *domain.WorkerInfo) { w.ID = nulText })},
			{"a worker name that is not UTF-8", "worker name", notUTF8, worker(func(w *domain.WorkerInfo) { w.Name = badUTF8 })},
			{"a worker host with a NUL byte", "worker host", noNUL, worker(func(w *domain.WorkerInfo) { w.Host = nulText })},
			{"a worker process of 256 bytes", "worker process", idTooLong, worker(func(w *domain.WorkerInfo) { w.Process = longID })},
			{"a worker queue with a NUL byte", "worker queue", noNUL, worker(func(w *domain.WorkerInfo) { w.Queues = []string{nulText} })},
			{"a worker function that is not UTF-8", "worker function", notUTF8, worker(func(w *domain.WorkerInfo) { w.Functions = []string{badUTF8} })},
			{"a worker pid beyond int32", "worker pid", int32Span, worker(func(w *domain.WorkerInfo) { w.PID = beyond32 })},
			{"a heartbeat of a worker id with a NUL byte", "worker id", noNUL, func() error { return f.s.TouchWorker(f.ctx, nulText, now) }},
			{"a stop of a worker id that is not UTF-8", "worker id", notUTF8, func() error { return f.s.StopWorker(f.ctx, badUTF8, now) }},
			{"an expiry of a worker id with a NUL byte", "worker id", noNUL, func() error {
				_, err := f.s.ExpireWorkers(f.ctx, ports.ExpireWorkersParams{IDs: []string{nulText}, Now: now})
				return err
			}},
			{"an expiry except a process that is not UTF-8", "except process", notUTF8, func() error {
				_, err := f.s.ExpireWorkers(f.ctx, ports.ExpireWorkersParams{StaleBefore: now, ExceptProcess: badUTF8, Now: now})
				return err
			}},
			{"a catalogue name with a NUL byte", "function 0: name", noNUL, function(func(fn *domain.FunctionInfo) { fn.Name = nulText })},
			{"a catalogue queue that is not UTF-8", `function "job": queue`, notUTF8, function(func(fn *domain.FunctionInfo) { fn.Queue = badUTF8 })},
			{"a catalogue tag with a NUL byte", `function "job": tag`, noNUL, function(func(fn *domain.FunctionInfo) { fn.Tags = []string{nulText} })},
			{"a catalogue version of 256 bytes", `function "job": version`, idTooLong, function(func(fn *domain.FunctionInfo) { fn.Version = longID })},
			{"a catalogue priority beyond int32", `function "job": priority`, int32Span, function(func(fn *domain.FunctionInfo) { fn.Priority = beyond32 })},
			{"a catalogue max concurrent beyond int32", `function "job": max concurrent`, int32Span, function(func(fn *domain.FunctionInfo) { fn.MaxConcurrent = beyond32 })},
		}
		before := f.snapshot(exec.ID)
		f.checkText(cases)
		f.unchanged(before, "claims and workers with bad text", exec.ID)
		f.eq("workers after bad calls", len(f.workers()), 0)
		fns, err := f.s.ListFunctions(f.ctx)
		f.noErr(err, "ListFunctions")
		f.eq("catalogue entries after bad calls", len(fns), 0)
	})
}
