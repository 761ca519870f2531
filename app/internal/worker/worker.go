// Package worker is the claim loop: a worker claims due tasks up to its
// free slots, starts a run for each (package run), renews their leases,
// reacts to notifications, records its liveness, runs maintenance, and
// drains or stops. app.Worker is its public face.
//
// Files: worker.go (the worker and its claim loop, drain and stop),
// heartbeat.go (lease renewal and notifications), liveness.go (the worker
// registry, fast adoption, parked tasks' wake-ups), maintenance.go.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/app/internal/durable"
	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/app/internal/slots"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Options are app.WorkerOptions with the defaults applied (same fields).
type Options struct {
	ID                  string
	Name                string
	Queues              []string
	Tags                []string
	Functions           []string
	Versions            domain.VersionPolicy
	MaxConcurrency      int
	LeaseDuration       time.Duration
	HeartbeatInterval   time.Duration
	PollInterval        time.Duration
	PollBackoff         float64
	PollIntervalMax     time.Duration
	ClaimCooldown       time.Duration
	DrainTimeout        time.Duration
	CleanupInterval     time.Duration
	Retention           time.Duration
	ExpirySweepInterval time.Duration
	LivenessInterval    time.Duration
	DeadAfter           time.Duration
}

// Env is what the workers of an engine share.
type Env struct {
	Run *run.Env
	// CheckOpen fails once the engine is closed.
	CheckOpen func() error
	// Catalogue is the registry's function catalogue.
	Catalogue func() []domain.FunctionInfo
	// NextDueIn is how long until the earliest known due time.
	NextDueIn func() (time.Duration, bool)
	// SweepOverdue times out overdue executions; Cleanup deletes what is
	// older than before.
	SweepOverdue func(ctx context.Context)
	Cleanup      func(ctx context.Context, before time.Time) error
	// WorkerDeclaredDead is the optional metrics hook (nil: none).
	WorkerDeclaredDead func(workerID string, tasks int)
}

// State is a worker's lifecycle state (app.WorkerState).
type State int32

// Worker states, in order.
const (
	Starting State = iota
	Ready
	Draining
	Stopped
)

// hardStopGrace bounds how long a hard stop waits for cancelled runs.
const hardStopGrace = 2 * time.Second

// Worker claims and runs tasks.
type Worker struct {
	env  *Env
	opts Options
	pace ports.Clock

	state   atomic.Int32
	ready   chan struct{}
	stopped chan struct{}
	started atomic.Bool

	drainOnce sync.Once
	draining  chan struct{}
	drainDone chan struct{}

	wake chan struct{} // pokes the claim loop

	slots *slots.Pool

	runsMu sync.Mutex
	runs   map[string]*run.Run
	runsWG sync.WaitGroup
	// claimMu is held by each claim from its drain check until its runs
	// are started (runsWG.Add), and taken once by Drain after it closes
	// draining: Drain's runsWG.Wait then never races a claim's Add.
	claimMu sync.Mutex
	// short: a claim found no free slot (set before it reads the free
	// slots), so the next slot given back wakes the claim loop.
	short atomic.Bool

	host  string
	wakes wakeCache // the store's next wake-up time of parked tasks
	// versions maps the worker's versioned functions to their version.
	versions map[string]string
}

// New builds a worker with effective options o.
func New(env *Env, o Options) *Worker {
	w := &Worker{
		env: env, opts: o, pace: env.Run.Pace, host: Hostname(),
		ready: make(chan struct{}), stopped: make(chan struct{}),
		draining: make(chan struct{}), drainDone: make(chan struct{}),
		wake: make(chan struct{}, 1), runs: map[string]*run.Run{},
	}
	w.slots = slots.New(o.MaxConcurrency, w.slotFreed)
	var catalogue []domain.FunctionInfo
	if env.Catalogue != nil {
		catalogue = env.Catalogue()
	}
	for _, fi := range catalogue {
		if fi.Version != "" && slices.Contains(o.Functions, fi.Name) {
			if w.versions == nil {
				w.versions = map[string]string{}
			}
			w.versions[fi.Name] = fi.Version
		}
	}
	return w
}

// claimParams is the worker's claim filter: functions, their versions and
// the version policy, queues and tags.
func (w *Worker) claimParams(limit int) ports.ClaimParams {
	return ports.ClaimParams{
		WorkerID: w.opts.ID, Queues: w.opts.Queues, Tags: w.opts.Tags, Functions: w.opts.Functions,
		Versions: w.versions, AnyVersion: w.opts.Versions == domain.VersionAny,
		Limit: limit, Lease: w.opts.LeaseDuration,
	}
}

// ID returns the worker id used in leases.
func (w *Worker) ID() string { return w.opts.ID }

// State returns the lifecycle state.
func (w *Worker) State() State { return State(w.state.Load()) }

// ReadyC is closed once the worker claims work.
func (w *Worker) ReadyC() <-chan struct{} { return w.ready }

// Stopped is closed once Run has returned.
func (w *Worker) Stopped() <-chan struct{} { return w.stopped }

// Active returns the number of tasks this worker is running or waiting on.
func (w *Worker) Active() int {
	w.runsMu.Lock()
	defer w.runsMu.Unlock()
	return len(w.runs)
}

// Poke wakes the claim loop.
func (w *Worker) Poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// The run.Host side of the worker.

// LeaseDuration is the lease of a claim.
func (w *Worker) LeaseDuration() time.Duration { return w.opts.LeaseDuration }

// Slots are the worker's task slots.
func (w *Worker) Slots() *slots.Pool { return w.slots }

// Draining is closed once the worker starts draining.
func (w *Worker) Draining() <-chan struct{} { return w.draining }

// IsDraining reports whether the worker is draining.
func (w *Worker) IsDraining() bool { return w.State() == Draining }

// Inlines reports whether the worker is ready and runs def: its function
// (at its version, unless the worker claims any version), one of its queues, and a tag it has (when both have tags).
func (w *Worker) Inlines(def *durable.Func) bool {
	if !slices.Contains(w.opts.Functions, def.Name) {
		return false
	}
	if w.opts.Versions != domain.VersionAny && def.Version != w.versions[def.Name] {
		return false
	}
	if len(w.opts.Queues) > 0 && !slices.Contains(w.opts.Queues, def.Queue) {
		return false
	}
	if len(w.opts.Tags) > 0 && len(def.Tags) > 0 &&
		!slices.ContainsFunc(def.Tags, func(t string) bool { return slices.Contains(w.opts.Tags, t) }) {
		return false
	}
	return w.State() == Ready
}

// Track lists r among the worker's runs.
func (w *Worker) Track(r *run.Run) {
	w.runsMu.Lock()
	w.runs[r.Task().ID] = r
	w.runsMu.Unlock()
}

// Untrack removes r if it is still the run listed for its task.
func (w *Worker) Untrack(r *run.Run) {
	id := r.Task().ID
	w.runsMu.Lock()
	if w.runs[id] == r {
		delete(w.runs, id)
	}
	w.runsMu.Unlock()
}

func (w *Worker) activeRuns() []*run.Run {
	w.runsMu.Lock()
	defer w.runsMu.Unlock()
	out := make([]*run.Run, 0, len(w.runs))
	for _, r := range w.runs {
		out = append(out, r)
	}
	return out
}

func (w *Worker) log() *slog.Logger { return w.env.Run.Log.With("worker_id", w.opts.ID) }

// Run claims and runs tasks until Drain completes (returns nil) or ctx ends
// (hard stop: running tasks are cancelled with ErrLeaseLost and their
// leases released; returns nil). A worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return domain.InvalidArgument("worker %q: Run called twice", w.opts.ID)
	}
	defer close(w.stopped)
	env := w.env.Run
	if err := w.env.CheckOpen(); err != nil {
		w.state.Store(int32(Stopped))
		return err
	}
	base, stopBase := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBase()
	log := w.log()

	sub := env.Hints.Subscribe(base, domain.TopicReady, domain.TopicCancel)
	if err := env.Store.UpsertFunctions(ctx, w.env.Catalogue(), env.Now()); err != nil {
		log.WarnContext(ctx, "publishing the function catalogue failed", "error", err)
	}
	w.register(base, log)
	var bg sync.WaitGroup
	bg.Add(4)
	go func() { defer bg.Done(); w.heartbeatLoop(base) }()
	go func() { defer bg.Done(); w.maintenanceLoop(base) }()
	go func() { defer bg.Done(); w.livenessLoop(base, log) }()
	go func() { defer bg.Done(); w.eventLoop(base, sub) }() // owns sub from here on
	defer func() {
		stopBase()
		bg.Wait()
		w.unregister(context.WithoutCancel(ctx), log)
	}()
	w.state.Store(int32(Ready))
	close(w.ready)
	log.InfoContext(ctx, "worker ready", "queues", w.opts.Queues, "tags", w.opts.Tags,
		"max_concurrency", w.opts.MaxConcurrency, "functions", len(w.opts.Functions))

	backoff := w.opts.PollInterval
	var claimErrLogged bool
	var lastClaim time.Time
	for {
		select {
		case <-ctx.Done():
			w.hardStop(base, log)
			return nil
		case <-w.draining:
			<-w.drainDone
			return nil
		default:
		}
		if cd := w.opts.ClaimCooldown; cd > 0 && !lastClaim.IsZero() {
			if left := cd - w.pace.Now().Sub(lastClaim); left > 0 {
				t := w.pace.NewTimer(left)
				select {
				case <-t.C():
				case <-ctx.Done():
					t.Stop()
					continue // handled at the top of the loop
				case <-w.draining:
					t.Stop()
					continue
				}
			}
		}
		claimed, full, err := w.claimOnce(base)
		if claimed > 0 {
			lastClaim = w.pace.Now()
		}
		if err != nil {
			if !claimErrLogged && !errors.Is(err, domain.ErrClosed) {
				log.WarnContext(ctx, "claiming failed; retrying with backoff", "error", err)
				claimErrLogged = true
			}
		} else {
			claimErrLogged = false
		}
		if claimed > 0 {
			backoff = w.opts.PollInterval
			if full {
				// Every free slot was filled: there may be more.
				continue
			}
		}
		sleep := backoff
		if due, ok := w.env.NextDueIn(); ok && due < sleep {
			sleep = max(due, time.Millisecond)
		}
		if due, ok := w.nextWakeIn(base); ok && due < sleep {
			sleep = max(due, time.Millisecond)
		}
		timer := w.pace.NewTimer(sleep)
		select {
		case <-ctx.Done():
			timer.Stop()
			w.hardStop(base, log)
			return nil
		case <-w.draining:
			timer.Stop()
			<-w.drainDone
			return nil
		case <-w.wake:
			timer.Stop()
			backoff = w.opts.PollInterval
		case <-timer.C():
			if claimed == 0 {
				backoff = min(time.Duration(float64(backoff)*w.opts.PollBackoff), w.opts.PollIntervalMax)
			}
		}
	}
}

// claimOnce claims up to the free slots and starts the tasks. full reports
// whether the claim filled every free slot.
func (w *Worker) claimOnce(base context.Context) (claimed int, full bool, err error) {
	w.claimMu.Lock()
	defer w.claimMu.Unlock()
	select {
	case <-w.draining:
		return 0, false, nil // Drain waits for the runs started so far
	default:
	}
	w.short.Store(true)
	free := w.slots.Free()
	if free <= 0 {
		return 0, false, nil
	}
	w.short.Store(false)
	env := w.env.Run
	p := w.claimParams(free)
	p.Now = env.Now()
	tasks, err := env.Store.ClaimTasks(base, p)
	if err != nil {
		return 0, false, err
	}
	steps := w.loadSteps(base, tasks)
	for _, t := range tasks {
		w.start(base, t.Task, t.FirstClaim, steps)
	}
	return len(tasks), len(tasks) == free, nil
}

// stepsPage is the page size of loadSteps.
const stepsPage = 1000

// loadSteps reads the step records of the claimed tasks that ran before
// (resumes, recoveries, retries) in one query per 1,000 records, by task
// and position, so that each resumed run replays its completed steps
// without a read of its own. A task absent from the map has none. nil on
// an error: each run then reads its own.
func (w *Worker) loadSteps(ctx context.Context, tasks []ports.ClaimedTask) map[string]map[int]domain.Task {
	var parents []string
	for _, t := range tasks {
		if !t.FirstClaim {
			parents = append(parents, t.Task.ID)
		}
	}
	if len(parents) == 0 {
		return nil
	}
	out := make(map[string]map[int]domain.Task, len(parents))
	for offset := 0; ; offset += stepsPage {
		ts, err := w.env.Run.Store.ListTasks(ctx, ports.TaskFilter{ParentTaskIDs: parents, Limit: stepsPage, Offset: offset})
		if err != nil {
			return nil
		}
		for _, t := range ts {
			m := out[t.ParentTaskID]
			if m == nil {
				m = map[int]domain.Task{}
				out[t.ParentTaskID] = m
			}
			m[t.Position] = t
		}
		if len(ts) < stepsPage {
			return out
		}
	}
}

// slotFreed wakes the claim loop for a slot given back when that may let
// it claim: a claim found no free slot since the last wake-up (short), or
// the slot's task counted against a concurrency limit, which may have held
// back a task of its group. Otherwise the last claim took every claimable
// task, and new work announces itself with a ready hint; a wake-up per
// finished task was an empty claim per job (features/091).
func (w *Worker) slotFreed(h *slots.Holder) {
	if h.Limited || w.short.Swap(false) {
		w.Poke()
	}
}

// start runs a claimed task in its own goroutine, holding a slot. steps
// are the claimed tasks' step records read by loadSteps (nil: not read).
func (w *Worker) start(base context.Context, t domain.Task, firstClaim bool, steps map[string]map[int]domain.Task) {
	r := run.New(w.env.Run, w, base, t, firstClaim)
	r.Slot().Limited = t.MaxConcurrent > 0
	if steps != nil && !firstClaim {
		r.UseSteps(steps[t.ID])
	}
	w.slots.Take(r.Slot())
	w.runsWG.Add(1)
	go func() {
		defer w.runsWG.Done()
		defer w.slots.GiveBack(r.Slot())
		r.Execute()
	}()
}

// Drain stops claiming, waits for in-flight tasks until ctx ends (or
// DrainTimeout when ctx has no deadline), then cancels the rest with
// ErrLeaseLost and releases their leases with the attempt restored, so
// another worker takes them at once. Run then returns nil.
func (w *Worker) Drain(ctx context.Context) error {
	first := false
	w.drainOnce.Do(func() {
		first = true
		w.state.Store(int32(Draining))
		close(w.draining)
	})
	if !first {
		select {
		case <-w.drainDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(w.drainDone)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.opts.DrainTimeout)
		defer cancel()
	}
	// A claim in flight finishes starting its runs first; a later one
	// sees draining closed and starts none.
	w.claimMu.Lock()
	//lint:ignore SA2001 an empty critical section is the barrier here
	w.claimMu.Unlock()
	idle := make(chan struct{})
	go func() {
		w.runsWG.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		w.releaseAll(context.WithoutCancel(ctx), w.log())
	}
	w.state.Store(int32(Stopped))
	return nil
}

// hardStop cancels every run and releases its lease.
func (w *Worker) hardStop(ctx context.Context, log *slog.Logger) {
	w.state.Store(int32(Stopped))
	w.releaseAll(ctx, log)
	// The cancelled runs end quickly unless user code ignores its context;
	// wait a moment so no run still writes after Run has returned.
	done := make(chan struct{})
	go func() {
		w.runsWG.Wait()
		close(done)
	}()
	t := w.pace.NewTimer(hardStopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C():
	}
}

// releaseAll cancels the remaining runs with ErrLeaseLost and gives their
// tasks back (pending, due now, attempt restored), then says work is ready.
func (w *Worker) releaseAll(ctx context.Context, log *slog.Logger) {
	runs := w.activeRuns()
	if len(runs) == 0 {
		return
	}
	for _, r := range runs {
		r.Cancel(run.ErrReleased)
	}
	env := w.env.Run
	released := 0
	for _, r := range runs {
		err := env.Store.ReleaseTask(ctx, r.Fence(), env.Now(), true)
		switch {
		case err == nil:
			released++
		case errors.Is(err, domain.ErrLeaseLost):
		default:
			log.WarnContext(ctx, "releasing a lease failed; it will expire", "task_id", r.Task().ID, "error", err)
		}
	}
	if released > 0 {
		env.Hints.Publish(ctx, hint.Ready("", ""))
	}
}
