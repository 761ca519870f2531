package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// WaitOption configures WaitFor and Await.
type WaitOption interface{ applyWait(*waitOptions) }

type waitOptions struct{ timeout time.Duration }

type waitOptionFunc func(*waitOptions)

func (f waitOptionFunc) applyWait(o *waitOptions) { f(o) }

// WithWaitTimeout bounds the wait; when it runs out the error matches
// ErrExpired (and ErrDeadline, never ErrTimedOut). The execution itself
// keeps running.
func WithWaitTimeout(d time.Duration) WaitOption {
	return waitOptionFunc(func(o *waitOptions) { o.timeout = d })
}

// WaitFor waits until execution id is terminal and returns its Result,
// exactly what ResultOf returns then. An unknown id is ErrNotFound. When the
// wait runs out (ctx deadline or WithWaitTimeout) the error names the id
// and matches ErrExpired (and context.DeadlineExceeded for a ctx deadline);
// a non-terminal state is never returned. A cancelled ctx wraps
// context.Canceled. A waiter that finds the execution past its deadline
// times it out.
func (e *Engine) WaitFor(ctx context.Context, id string, opts ...WaitOption) (domain.Result, error) {
	var o waitOptions
	for _, opt := range opts {
		if opt != nil {
			opt.applyWait(&o)
		}
	}
	if o.timeout < 0 {
		return domain.Result{}, domain.InvalidArgument("wait timeout %s; must not be negative", o.timeout)
	}
	var res domain.Result
	var deadline *time.Time
	// carried is the result a completion event brought (see
	// domain.Event.Result): the next check takes it instead of reading.
	var carried *domain.Result
	seen := func(ev domain.Event) {
		if r, ok := ev.CompletedResult(id); ok {
			carried = &r
		}
	}
	check := func(ctx context.Context, _ []string, _ bool) (bool, error) {
		if carried != nil {
			res = *carried
			return true, nil
		}
		ex, err := e.store.GetExecution(ctx, id)
		if err != nil {
			return false, err
		}
		if ex.Overdue(e.now()) {
			if ex, _, err = e.timeoutExecution(ctx, id); err != nil {
				return false, err
			}
		}
		deadline = ex.Deadline
		if ex.State.Terminal() {
			res = ex.Outcome()
			return true, nil
		}
		return false, nil
	}
	capWait := func() time.Duration {
		if deadline == nil {
			return -1
		}
		return max(deadline.Sub(e.clock.Now()), time.Millisecond)
	}
	// Subscribe before the first read, so that one read both answers a
	// finished execution at once (however short the timeout) and is the
	// wait's check after subscribing: a completion after it is announced
	// by an event this subscription gets.
	topics := []domain.Topic{domain.ExecutionTopic(id)}
	sub := e.hints.Subscribe(ctx, topics...)
	if done, err := check(ctx, nil, true); done || err != nil && ctx.Err() == nil {
		if sub != nil {
			_ = sub.Close()
		}
		if done {
			return res, nil
		}
		return domain.Result{}, fmt.Errorf("stent: waiting for execution %q: %w", id, err)
	}
	wctx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	err := e.waits.Resume(wctx, sub, topics, check, capWait, seen)
	if err == nil {
		return res, nil
	}
	if wctx.Err() != nil {
		if errors.Is(wctx.Err(), context.DeadlineExceeded) {
			return domain.Result{}, &expiredError{what: "execution", id: id, ctx: context.DeadlineExceeded}
		}
		return domain.Result{}, fmt.Errorf("stent: waiting for execution %q: %w", id, wctx.Err())
	}
	return domain.Result{}, fmt.Errorf("stent: waiting for execution %q: %w", id, err)
}

// ResultOf returns the Result of a terminal execution, ErrStillRunning for
// a live one and ErrNotFound for an unknown id. For completed executions
// Value is set (possibly null, 0 or false); for failed ones Error is the
// root's error; timed_out matches ErrTimedOut and ErrDeadline (not ErrExpired, which is a wait that ran out); cancelled
// matches ErrCancelled ("execution cancelled").
func (e *Engine) ResultOf(ctx context.Context, id string) (domain.Result, error) {
	ex, err := e.store.GetExecution(ctx, id)
	if err != nil {
		return domain.Result{}, fmt.Errorf("stent: result of execution %q: %w", id, err)
	}
	if ex.Overdue(e.now()) {
		if ex, _, err = e.timeoutExecution(ctx, id); err != nil {
			return domain.Result{}, err
		}
	}
	if !ex.State.Terminal() {
		return domain.Result{ExecutionID: id, State: ex.State}, fmt.Errorf("stent: execution %q is %s: %w", id, ex.State, ErrStillRunning)
	}
	return ex.Outcome(), nil
}

// ExecutionView is everything StateOf knows about an execution.
type ExecutionView struct {
	domain.Execution
	// Outcome is set once the execution is terminal.
	Outcome *domain.Result `json:"outcome,omitempty"`
	// RootAttempts is the root task's attempt count.
	RootAttempts int `json:"root_attempts"`
	// RootRecoveries counts the root's reclaims after a lost worker.
	RootRecoveries int `json:"root_recoveries"`
	// WaitReason says why a live execution is not running code right now
	// ("sleeping until ...", "waiting for signal approval", "waiting for
	// 37 of 100 children", "no worker registers charge", ...); empty once
	// it is terminal. See domain.WaitReason.
	WaitReason string `json:"wait_reason,omitempty"`
	// Progress is the step timeline.
	Progress    []domain.ProgressEntry     `json:"progress"`
	Counters    map[string]float64         `json:"counters"`
	CustomState map[string]json.RawMessage `json:"custom_state"`
}

// StateOf returns the execution with its outcome, root attempts and
// recoveries, routing, deadline, timestamps, why it waits, step timeline,
// counters and custom state.
func (e *Engine) StateOf(ctx context.Context, id string) (ExecutionView, error) {
	ex, err := e.store.GetExecution(ctx, id)
	if err != nil {
		return ExecutionView{}, fmt.Errorf("stent: state of execution %q: %w", id, err)
	}
	v := ExecutionView{Execution: ex}
	if ex.State.Terminal() {
		r := ex.Outcome()
		v.Outcome = &r
	}
	if root, err := e.store.GetTask(ctx, ex.RootTaskID); err == nil {
		v.RootAttempts, v.RootRecoveries = root.Attempt, root.Recoveries
	} else if !errors.Is(err, ErrNotFound) {
		return v, err
	}
	if v.Progress, err = e.store.ListProgress(ctx, id); err != nil {
		return v, err
	}
	if !ex.State.Terminal() {
		served, err := e.servedFunctions(ctx)
		if err != nil {
			return v, err
		}
		var pausedErr, usageErr error
		paused := e.pausedQueues(ctx, &pausedErr)
		conc := e.concurrencyUsage(ctx, v.Progress, &usageErr)
		v.WaitReason = domain.WaitReasonWith(ex.State, v.Progress, domain.Serving{Served: served, Paused: paused, Concurrency: conc}, e.now())
		if pausedErr != nil {
			return v, pausedErr
		}
		if usageErr != nil {
			return v, usageErr
		}
	}
	data, err := e.store.GetExecutionData(ctx, id)
	if err != nil {
		return v, err
	}
	v.Counters, v.CustomState = data.Counters, data.State
	return v, nil
}

// servedFunctions reports whether a live worker of the registry claims a
// function at a version (domain.WorkerInfo.Serves: its registry has the
// function at that version, or it claims any version).
func (e *Engine) servedFunctions(ctx context.Context) (func(fn, version string) bool, error) {
	workers, err := e.store.ListWorkers(ctx)
	if err != nil {
		return nil, err
	}
	var live []domain.WorkerInfo
	for _, w := range workers {
		if w.State == domain.WorkerLive {
			live = append(live, w)
		}
	}
	return func(fn, version string) bool {
		for _, w := range live {
			if w.Serves(fn, version) {
				return true
			}
		}
		return false
	}, nil
}

// pausedQueues reports whether a queue is paused. The queues are read on
// the first question only (a run with no due task asks none); a failed
// read answers false and is left in *errp.
func (e *Engine) pausedQueues(ctx context.Context, errp *error) func(string) bool {
	var paused map[string]bool
	return func(q string) bool {
		if paused == nil {
			paused = map[string]bool{}
			qs, err := e.store.ListQueues(ctx)
			if err != nil {
				*errp = err
			}
			for _, x := range qs {
				if x.Paused {
					paused[x.Name] = true
				}
			}
		}
		return paused[q]
	}
}

// concurrencyUsage returns the current use of the concurrency groups of
// the timeline's live tasks, read on the first question only (one
// ListLimitUsage limited to those groups); a failed read answers false
// and is left in *errp.
func (e *Engine) concurrencyUsage(ctx context.Context, steps []domain.ProgressEntry, errp *error) func(string) (domain.LimitUsage, bool) {
	var byGroup map[string]domain.LimitUsage
	return func(g string) (domain.LimitUsage, bool) {
		if byGroup == nil {
			byGroup = map[string]domain.LimitUsage{}
			seen := map[string]bool{}
			var groups []string
			for _, s := range steps {
				if cg := s.ConcurrencyGroup(); cg != "" && s.State.Live() && !seen[cg] {
					seen[cg] = true
					groups = append(groups, cg)
				}
			}
			if len(groups) == 0 {
				return domain.LimitUsage{}, false
			}
			list, err := e.store.ListLimitUsage(ctx, ports.LimitUsageFilter{Now: e.now(), Groups: groups, Limit: 2 * len(groups)})
			if err != nil {
				*errp = err
			}
			for _, u := range list {
				if u.Kind == domain.LimitConcurrency {
					byGroup[u.Group] = u
				}
			}
		}
		u, ok := byGroup[g]
		return u, ok
	}
}

// ListWorkers returns the worker registry: live workers first, then stopped
// and dead ones (until retention cleanup removes them).
func (e *Engine) ListWorkers(ctx context.Context) ([]domain.WorkerInfo, error) {
	return e.store.ListWorkers(ctx)
}

// ListExecutions lists executions, newest first.
func (e *Engine) ListExecutions(ctx context.Context, f ports.ExecutionFilter) ([]domain.Execution, error) {
	return e.store.ListExecutions(ctx, f)
}

// ListTasks lists tasks, newest first.
func (e *Engine) ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error) {
	return e.store.ListTasks(ctx, f)
}

// Task returns one task.
func (e *Engine) Task(ctx context.Context, id string) (domain.Task, error) {
	return e.store.GetTask(ctx, id)
}

// QueueDepth returns the number of pending orchestrator and activity tasks
// per queue, from count queries.
func (e *Engine) QueueDepth(ctx context.Context) (map[string]int64, error) {
	counts, err := e.store.CountTasks(ctx)
	if err != nil {
		return nil, err
	}
	return queueDepth(counts), nil
}

func queueDepth(counts []ports.TaskCount) map[string]int64 {
	out := map[string]int64{}
	for _, c := range counts {
		if c.State == domain.TaskPending && c.Kind.Claimable() {
			out[c.Queue] += c.N
		}
	}
	return out
}

// Stats summarises the store with count queries only (never list scans).
type Stats struct {
	Executions  map[domain.ExecutionState]int64 `json:"executions"`
	Tasks       map[domain.TaskState]int64      `json:"tasks"`
	QueueDepth  map[string]int64                `json:"queue_depth"`
	DeadLetters int64                           `json:"dead_letters"`
}

// Stats returns counts by state, queue depths and the dead-letter count.
func (e *Engine) Stats(ctx context.Context) (Stats, error) {
	ex, err := e.store.CountExecutionsByState(ctx)
	if err != nil {
		return Stats{}, err
	}
	counts, err := e.store.CountTasks(ctx)
	if err != nil {
		return Stats{}, err
	}
	dl, err := e.store.CountDeadLetters(ctx)
	if err != nil {
		return Stats{}, err
	}
	s := Stats{Executions: ex, Tasks: map[domain.TaskState]int64{}, QueueDepth: queueDepth(counts), DeadLetters: dl}
	for _, c := range counts {
		s.Tasks[c.State] += c.N
	}
	return s, nil
}

// Cancel cancels a live execution: in one transaction the execution and
// every live task of it become cancelled; running tasks' contexts are then
// cancelled (ErrCancelled) on every worker, promptly with a notifier or at
// their next heartbeat without. Waiters get ErrCancelled. Cancelling a
// finished execution returns nil and changes nothing; an unknown id is
// ErrNotFound.
func (e *Engine) Cancel(ctx context.Context, id string) error {
	if err := e.checkOpen(); err != nil {
		return err
	}
	ex, changed, err := e.store.CancelExecution(ctx, id, e.now())
	if err != nil {
		return fmt.Errorf("stent: cancel execution %q: %w", id, err)
	}
	if changed {
		e.hints.Publish(ctx, hint.Cancel(id), hint.Execution(id, ex.State), hint.Ready("", ""))
		e.log.InfoContext(ctx, "execution cancelled", "execution_id", id)
	}
	return nil
}

// timeoutExecution times out an overdue execution and tells everyone.
func (e *Engine) timeoutExecution(ctx context.Context, id string) (domain.Execution, bool, error) {
	ex, changed, err := e.store.TimeoutExecution(ctx, id, e.now())
	if err != nil {
		return ex, false, fmt.Errorf("stent: time out execution %q: %w", id, err)
	}
	if changed {
		e.metrics.ExecutionTimedOut(id)
		e.hints.Publish(ctx, hint.Cancel(id), hint.Execution(id, ex.State), hint.Ready("", ""))
		e.log.InfoContext(ctx, "execution timed out", "execution_id", id)
	}
	return ex, changed, nil
}
