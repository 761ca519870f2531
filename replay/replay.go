package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Outcome is how a replay ended.
type Outcome string

const (
	// Clean: the body replayed every recorded call it made and ended as
	// the recorded run did (or, for a run that had not finished, reached
	// the end of the recorded history: see Continues).
	Clean Outcome = "clean"
	// Diverged: the body made a call that differs from the recorded one at
	// the same call number (another function, or a new call past the
	// end of a finished run's history). Report.Divergence names it.
	Diverged Outcome = "diverged"
	// Continues: the recorded run had not finished, and the body replayed
	// every recorded call and then issued the next one (or met a step that
	// was still in progress when the history was taken): what the run
	// would do when it resumes. Not a divergence.
	Continues Outcome = "continues"
	// Failed: the body ended with an error other than a divergence while
	// the recorded run had not failed. Report.Error holds it.
	Failed Outcome = "failed"
)

// Divergence is the first call that differs from the recorded history.
type Divergence struct {
	// Position is the call number (1-based) within the root.
	Position int `json:"position"`
	// Recorded is the recorded step's name at Position; empty when the
	// history holds nothing there (a new call past its end).
	Recorded string `json:"recorded,omitempty"`
	// New is the call the current code made there.
	New string `json:"new"`
}

// String reads like the engine's non-determinism error.
func (d Divergence) String() string {
	if d.Recorded == "" {
		return fmt.Sprintf("call #%d: recorded nothing (the run had finished), now %q", d.Position, d.New)
	}
	return fmt.Sprintf("call #%d: recorded %q, now %q", d.Position, d.Recorded, d.New)
}

// Report is the result of replaying one history.
type Report struct {
	ExecutionID string      `json:"execution_id"`
	Function    string      `json:"function"`
	Outcome     Outcome     `json:"outcome"`
	Divergence  *Divergence `json:"divergence,omitempty"`
	// Next is the call a Continues replay stopped at.
	Next  *Divergence `json:"next,omitempty"`
	Error string      `json:"error,omitempty"`
}

// OK reports whether the replay found nothing wrong (Clean or Continues).
func (r Report) OK() bool { return r.Outcome == Clean || r.Outcome == Continues }

// String is one line for people.
func (r Report) String() string {
	s := fmt.Sprintf("%s %s: %s", r.ExecutionID, r.Function, r.Outcome)
	switch {
	case r.Divergence != nil:
		s += " at " + r.Divergence.String()
	case r.Next != nil:
		s += fmt.Sprintf(" (next call #%d %q)", r.Next.Position, r.Next.New)
	case r.Error != "":
		s += ": " + r.Error
	}
	return s
}

// Replay runs the root function body of reg registered under h.Function
// against h's recorded steps, with no side effects: every durable call,
// sleep, signal wait and patch marker is answered from the history, and
// nothing runs a step or writes to any store but a throwaway in-memory
// one. Only the root's body runs; a recorded child's result is returned
// as recorded (its own body is not replayed).
//
// The error is for a replay that could not run (the function is not
// registered in reg, ctx ended); a divergence is a Report.
func Replay(ctx context.Context, reg *app.Registry, h History) (Report, error) {
	rep := Report{ExecutionID: h.ExecutionID, Function: h.Function}
	st := &recorded{Store: memstore.New(), h: h, done: make(chan struct{})}
	for _, s := range h.Steps {
		if st.byPos == nil {
			st.byPos = map[int]Step{}
		}
		st.byPos[s.Position] = s
	}
	eng, err := app.New(app.Deps{Store: st, Registry: reg}, app.Config{NoInlineSteps: true, ParkAfter: -1})
	if err != nil {
		return rep, err
	}
	defer func() { _ = eng.Close() }()
	input := h.Input
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	if _, err := eng.DispatchByName(ctx, h.Function, input, app.WithExecutionID(h.ExecutionID)); err != nil {
		return rep, fmt.Errorf("stent: replay of %s: %w", h.ExecutionID, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- eng.Serve(sctx, app.WorkerOptions{Functions: []string{h.Function}, MaxConcurrency: 1,
			CleanupInterval: -1, ExpirySweepInterval: -1})
	}()
	select {
	case <-st.done:
	case <-ctx.Done():
	case err := <-served:
		cancel()
		if err == nil {
			err = errors.New("the worker stopped")
		}
		return rep, fmt.Errorf("stent: replay of %s: %w", h.ExecutionID, err)
	}
	cancel()
	<-served
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case st.div != nil:
		rep.Outcome, rep.Divergence = Diverged, st.div
	case st.next != nil:
		rep.Outcome, rep.Next = Continues, st.next
	case st.failure != nil:
		if d, ok := divergenceOf(st.failure); ok {
			rep.Outcome, rep.Divergence = Diverged, &d
		} else if h.State == domain.ExecutionFailed || !h.Finished() {
			rep.Outcome = Clean
			if !h.Finished() {
				rep.Outcome = Continues
			}
			rep.Error = st.failure.Message
		} else {
			rep.Outcome, rep.Error = Failed, st.failure.Message
		}
	default:
		rep.Outcome = Clean
	}
	return rep, nil
}

// divergenceOf reads the details of a stored non-determinism error.
func divergenceOf(te *domain.TaskError) (Divergence, bool) {
	if !slices.Contains(te.Codes, app.ErrNonDeterministic.ErrorCode()) && te.Code != app.ErrNonDeterministic.ErrorCode() {
		return Divergence{}, false
	}
	var d struct {
		Call     int    `json:"call"`
		Recorded string `json:"recorded"`
		Now      string `json:"now"`
	}
	if json.Unmarshal(te.Details, &d) != nil || d.Call == 0 {
		return Divergence{}, false
	}
	return Divergence{Position: d.Call, Recorded: d.Recorded, New: d.Now}, true
}

// ReplayAll replays every history and returns one report each, in order.
func ReplayAll(ctx context.Context, reg *app.Registry, hs []History) ([]Report, error) {
	out := make([]Report, 0, len(hs))
	for _, h := range hs {
		r, err := Replay(ctx, reg, h)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ReplayDir replays every exported history (*.json) of dir against reg:
// the check a user's `go test` runs before deploying.
func ReplayDir(ctx context.Context, reg *app.Registry, dir string) ([]Report, error) {
	hs, err := LoadDir(dir)
	if err != nil {
		return nil, err
	}
	return ReplayAll(ctx, reg, hs)
}

// recorded is the throwaway store a replay runs on: an in-memory store
// whose root task sees the history as its step records. A step the
// history does not answer ends the replay (its write is refused as a lost
// lease, so the run stops and writes nothing).
type recorded struct {
	ports.Store
	h     History
	byPos map[int]Step

	mu      sync.Mutex
	rootID  string
	gen     int
	div     *Divergence
	next    *Divergence
	failure *domain.TaskError
	once    sync.Once
	done    chan struct{}
}

func (s *recorded) finish() { s.once.Do(func() { close(s.done) }) }

func (s *recorded) root() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rootID
}

// ClaimTasks marks the root's claim as a replay (not a first claim), so
// the run loads its step records: the history.
func (s *recorded) ClaimTasks(ctx context.Context, p ports.ClaimParams) ([]ports.ClaimedTask, error) {
	ts, err := s.Store.ClaimTasks(ctx, p)
	for i := range ts {
		if ts[i].ParentTaskID == "" {
			ts[i].FirstClaim = false
			s.mu.Lock()
			s.rootID, s.gen = ts[i].ID, ts[i].Generation
			s.mu.Unlock()
		}
	}
	return ts, err
}

func (s *recorded) task(st Step) domain.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return domain.Task{ID: domain.StepID(s.h.ExecutionID, s.rootID, st.Position), ExecutionID: s.h.ExecutionID,
		ParentTaskID: s.rootID, Position: st.Position, Kind: st.Kind, StepName: st.Name, State: st.State,
		Result: st.Result, Error: st.Error, ParentGeneration: s.gen, Attempt: 1}
}

// ListTasks serves the root's step records from the history, asked by the
// root's id alone or among several (a worker reads a claim batch's records
// at once; a replay claims only the root).
func (s *recorded) ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error) {
	root := s.root()
	if root == "" || f.ParentTaskID != root && (f.ParentTaskID != "" || !slices.Contains(f.ParentTaskIDs, root)) {
		return s.Store.ListTasks(ctx, f)
	}
	var out []domain.Task
	for i, st := range s.h.Steps {
		if i < f.Offset || (f.Limit > 0 && len(out) >= f.Limit) {
			continue
		}
		out = append(out, s.task(st))
	}
	return out, nil
}

// CreateStepsBatch answers the root's step writes from the history; a
// write the history cannot answer ends the replay.
func (s *recorded) CreateStepsBatch(ctx context.Context, reqs []ports.CreateStepsRequest) ([]ports.CreateStepsResult, error) {
	root := s.root()
	out := make([]ports.CreateStepsResult, len(reqs))
	for i, req := range reqs {
		if req.Parent.TaskID != root {
			out[i].Err = fmt.Errorf("%w: replay runs only the root", domain.ErrLeaseLost)
			s.finish()
			continue
		}
		for _, spec := range req.Specs {
			st, ok := s.byPos[spec.Position]
			switch {
			case ok && st.Name != spec.StepName:
				s.stop(&Divergence{Position: spec.Position, Recorded: st.Name, New: spec.StepName}, nil)
			case ok && (st.State == domain.TaskCompleted || st.State == domain.TaskFailed):
				out[i].Tasks = append(out[i].Tasks, s.task(st))
				continue
			case !ok && s.h.Finished():
				s.stop(&Divergence{Position: spec.Position, New: spec.StepName}, nil)
			default: // the end of an unfinished run's history
				s.stop(nil, &Divergence{Position: spec.Position, Recorded: st.Name, New: spec.StepName})
			}
			out[i] = ports.CreateStepsResult{Err: fmt.Errorf("%w: replay stopped at call #%d", domain.ErrLeaseLost, spec.Position)}
			break
		}
	}
	return out, nil
}

func (s *recorded) stop(div, next *Divergence) {
	s.mu.Lock()
	if s.div == nil && s.next == nil {
		s.div, s.next = div, next
	}
	s.mu.Unlock()
	s.finish()
}

func (s *recorded) fail(te *domain.TaskError) {
	s.mu.Lock()
	if s.failure == nil {
		s.failure = te
	}
	s.mu.Unlock()
	s.finish()
}

// CompleteTasks ends the replay when the root completes.
func (s *recorded) CompleteTasks(ctx context.Context, ps []ports.CompleteParams) ([]ports.CompleteResult, error) {
	res, err := s.Store.CompleteTasks(ctx, ps)
	root := s.root()
	for _, p := range ps {
		if p.Fence.TaskID == root {
			s.finish()
		}
	}
	return res, err
}

// FailTask and RetryTask end the replay with the root's error.
func (s *recorded) FailTask(ctx context.Context, p ports.FailParams) error {
	err := s.Store.FailTask(ctx, p)
	if p.Fence.TaskID == s.root() {
		s.fail(p.Error)
	}
	return err
}

func (s *recorded) RetryTask(ctx context.Context, p ports.RetryParams) error {
	err := s.Store.RetryTask(ctx, p)
	if p.Fence.TaskID == s.root() {
		s.fail(p.Error)
	}
	return err
}
