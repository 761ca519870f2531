package app

import (
	"time"

	"github.com/stenthq/stent/app/internal/run"
)

// TaskInfo identifies a task in metrics hooks.
type TaskInfo struct {
	ExecutionID string
	TaskID      string
	Function    string
	Kind        string
	Queue       string
	Attempt     int
	WorkerID    string
	// ConcurrencyKey and RateKey are the task's flow-limit groups
	// (WithConcurrency, WithRateLimit; empty when none), so a hook can
	// count claims and run times per limit.
	ConcurrencyKey string
	RateKey        string
}

// Metrics receives the engine's observations. Every hook must be cheap and
// safe for concurrent use; a panicking hook is recovered and ignored.
// NopMetrics is the default.
type Metrics interface {
	TaskClaimed(t TaskInfo)
	TaskCompleted(t TaskInfo, d time.Duration)
	// TaskFailed reports a failed attempt; retrying says whether another
	// attempt was scheduled.
	TaskFailed(t TaskInfo, code string, retrying bool, d time.Duration)
	DeadLettered(t TaskInfo, code string)
	TaskCancelled(t TaskInfo)
	ExecutionTimedOut(executionID string)
	LeaseRenewed(t TaskInfo)
}

// WorkerMetrics is an optional extension of Metrics: a Metrics value that
// also implements it is told when a worker declares another dead and how
// many running tasks it freed for reclaiming.
type WorkerMetrics interface {
	WorkerDeclaredDead(workerID string, tasks int)
}

// NopMetrics ignores every observation.
type NopMetrics struct{}

func (NopMetrics) TaskClaimed(TaskInfo)                             {}
func (NopMetrics) TaskCompleted(TaskInfo, time.Duration)            {}
func (NopMetrics) TaskFailed(TaskInfo, string, bool, time.Duration) {}
func (NopMetrics) DeadLettered(TaskInfo, string)                    {}
func (NopMetrics) TaskCancelled(TaskInfo)                           {}
func (NopMetrics) ExecutionTimedOut(string)                         {}
func (NopMetrics) LeaseRenewed(TaskInfo)                            {}

// safeMetrics recovers panics in user-supplied hooks.
type safeMetrics struct{ m Metrics }

func (s safeMetrics) do(f func()) {
	defer func() { _ = recover() }()
	f()
}

func (s safeMetrics) TaskClaimed(t TaskInfo) { s.do(func() { s.m.TaskClaimed(t) }) }
func (s safeMetrics) TaskCompleted(t TaskInfo, d time.Duration) {
	s.do(func() { s.m.TaskCompleted(t, d) })
}
func (s safeMetrics) TaskFailed(t TaskInfo, code string, retrying bool, d time.Duration) {
	s.do(func() { s.m.TaskFailed(t, code, retrying, d) })
}
func (s safeMetrics) DeadLettered(t TaskInfo, code string) {
	s.do(func() { s.m.DeadLettered(t, code) })
}
func (s safeMetrics) TaskCancelled(t TaskInfo)    { s.do(func() { s.m.TaskCancelled(t) }) }
func (s safeMetrics) ExecutionTimedOut(id string) { s.do(func() { s.m.ExecutionTimedOut(id) }) }
func (s safeMetrics) LeaseRenewed(t TaskInfo)     { s.do(func() { s.m.LeaseRenewed(t) }) }

// workerDeclaredDead calls the optional WorkerMetrics hook.
func (s safeMetrics) workerDeclaredDead(id string, tasks int) {
	if wm, ok := s.m.(WorkerMetrics); ok {
		s.do(func() { wm.WorkerDeclaredDead(id, tasks) })
	}
}

// runMetrics gives the runs' hooks (package run) to the engine's Metrics.
type runMetrics struct{ m Metrics }

func (r runMetrics) TaskClaimed(t run.Info)                    { r.m.TaskClaimed(TaskInfo(t)) }
func (r runMetrics) TaskCompleted(t run.Info, d time.Duration) { r.m.TaskCompleted(TaskInfo(t), d) }
func (r runMetrics) TaskFailed(t run.Info, code string, retrying bool, d time.Duration) {
	r.m.TaskFailed(TaskInfo(t), code, retrying, d)
}
func (r runMetrics) DeadLettered(t run.Info, code string) { r.m.DeadLettered(TaskInfo(t), code) }
func (r runMetrics) TaskCancelled(t run.Info)             { r.m.TaskCancelled(TaskInfo(t)) }
func (r runMetrics) LeaseRenewed(t run.Info)              { r.m.LeaseRenewed(TaskInfo(t)) }
