package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// DefaultRetention is how long finished executions, dead letters and
// consumed signals are kept by default: WorkerOptions.Retention, stentd's
// STENT_RETENTION and `stent cleanup --older-than` share it.
const DefaultRetention = 7 * 24 * time.Hour

// WorkerOptions configures a worker. Zero fields take the defaults noted.
type WorkerOptions struct {
	// ID identifies the worker in leases and in the worker registry;
	// default host-pid-random (a new id per start).
	ID string
	// Name is a stable name for the worker (e.g. the service instance). A
	// worker that starts on the same host with the same Name as a
	// registered worker of another process that is gone (its process no
	// longer runs, or it had this process's pid, as after a container
	// restart) takes over at once: the predecessor is declared dead and
	// its tasks are reclaimed without waiting for their leases. Give each
	// concurrently running worker of a host its own name. Default none.
	Name string
	// Queues served; default all queues.
	Queues []string
	// Tags the worker has; default none (it takes any task). When set it
	// takes untagged tasks and tasks sharing a tag.
	Tags []string
	// Functions it runs; default the whole registry.
	Functions []string
	// MaxConcurrency is the number of task slots; default 10. A task
	// waiting on a child, a sleep or a signal gives its slot back.
	MaxConcurrency int
	// LeaseDuration is how long a claim lasts without a heartbeat; default
	// 5 minutes.
	LeaseDuration time.Duration
	// HeartbeatInterval renews leases; default min(lease/3, 30s), at least
	// 100ms.
	HeartbeatInterval time.Duration
	// PollInterval is the first idle poll interval (default 100ms); it
	// grows by PollBackoff (default 2) up to PollIntervalMax (default 5s)
	// and resets on activity. Notifications wake the worker sooner.
	PollInterval    time.Duration
	PollBackoff     float64
	PollIntervalMax time.Duration
	// ClaimCooldown is the least time between two claims while work keeps
	// coming, so that slots freed one by one are refilled by one batched
	// claim instead of many single ones; default 2ms, negative disables. An
	// idle worker claims at once when work arrives.
	ClaimCooldown time.Duration
	// DrainTimeout bounds Drain when its context has no deadline; default
	// 30s.
	DrainTimeout time.Duration
	// CleanupInterval runs retention cleanup; default 1h, negative
	// disables.
	CleanupInterval time.Duration
	// Retention is how long finished executions, dead letters and consumed
	// signals are kept; default DefaultRetention.
	Retention time.Duration
	// ExpirySweepInterval times out overdue executions; default 5s,
	// negative disables.
	ExpirySweepInterval time.Duration
	// LivenessInterval is how often the worker records its heartbeat in
	// the worker registry and looks for dead workers; default 3s.
	LivenessInterval time.Duration
	// DeadAfter declares another worker dead once its registry heartbeat
	// is older than this: its running tasks' leases are ended so live
	// workers reclaim them at once (within about DeadAfter +
	// LivenessInterval of a crash, 15s by default, instead of a whole
	// lease). Default 4 x LivenessInterval. Clocks of the machines must
	// agree to well within it.
	DeadAfter time.Duration
}

func (o WorkerOptions) withDefaults(reg *Registry) (WorkerOptions, error) {
	switch {
	case o.MaxConcurrency < 0:
		return o, domain.InvalidArgument("worker: max concurrency %d; must be at least 1 (0 means 10)", o.MaxConcurrency)
	case o.LeaseDuration < 0:
		return o, domain.InvalidArgument("worker: lease duration %s; must be positive (0 means 5m)", o.LeaseDuration)
	case o.HeartbeatInterval < 0:
		return o, domain.InvalidArgument("worker: heartbeat interval %s; must be positive", o.HeartbeatInterval)
	case o.PollInterval < 0 || o.PollIntervalMax < 0:
		return o, domain.InvalidArgument("worker: poll interval %s..%s; must be positive", o.PollInterval, o.PollIntervalMax)
	case o.PollBackoff != 0 && o.PollBackoff < 1:
		return o, domain.InvalidArgument("worker: poll backoff %v; must be at least 1", o.PollBackoff)
	case o.DrainTimeout < 0:
		return o, domain.InvalidArgument("worker: drain timeout %s; must be positive", o.DrainTimeout)
	case o.Retention < 0:
		return o, domain.InvalidArgument("worker: retention %s; must be positive", o.Retention)
	case o.LivenessInterval < 0:
		return o, domain.InvalidArgument("worker: liveness interval %s; must be positive (0 means 3s)", o.LivenessInterval)
	case o.DeadAfter < 0:
		return o, domain.InvalidArgument("worker: dead-after %s; must be positive (0 means 4 x the liveness interval)", o.DeadAfter)
	}
	if o.Name != "" {
		if err := domain.ValidateName("worker name", o.Name); err != nil {
			return o, err
		}
	}
	if o.ID == "" {
		o.ID = fmt.Sprintf("%s-%d-%s", hostname(), os.Getpid(), domain.NewID()[:8])
	}
	if err := domain.ValidateName("worker id", o.ID); err != nil {
		return o, err
	}
	for _, q := range o.Queues {
		if err := domain.ValidateName("queue", q); err != nil {
			return o, err
		}
	}
	if len(o.Queues) > 0 && !slices.Contains(o.Queues, domain.DefaultQueue) {
		o.Queues = append(slices.Clone(o.Queues), domain.DefaultQueue)
	}
	if len(o.Functions) == 0 {
		o.Functions = reg.Names()
	} else {
		for _, f := range o.Functions {
			if _, err := reg.lookup(f); err != nil {
				return o, err
			}
		}
	}
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = 10
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = 5 * time.Minute
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = min(o.LeaseDuration/3, 30*time.Second)
	}
	o.HeartbeatInterval = max(o.HeartbeatInterval, 100*time.Millisecond)
	if o.PollInterval == 0 {
		o.PollInterval = 100 * time.Millisecond
	}
	if o.PollBackoff == 0 {
		o.PollBackoff = 2
	}
	if o.PollIntervalMax == 0 {
		o.PollIntervalMax = 5 * time.Second
	}
	o.PollIntervalMax = max(o.PollIntervalMax, o.PollInterval)
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.ClaimCooldown == 0 {
		o.ClaimCooldown = 2 * time.Millisecond
	}
	if o.CleanupInterval == 0 {
		o.CleanupInterval = time.Hour
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.ExpirySweepInterval == 0 {
		o.ExpirySweepInterval = 5 * time.Second
	}
	if o.LivenessInterval == 0 {
		o.LivenessInterval = 3 * time.Second
	}
	if o.DeadAfter == 0 {
		o.DeadAfter = 4 * o.LivenessInterval
	}
	if o.DeadAfter <= o.LivenessInterval {
		return o, domain.InvalidArgument("worker: dead-after %s must be longer than the liveness interval %s", o.DeadAfter, o.LivenessInterval)
	}
	return o, nil
}

// WorkerState is a worker's lifecycle state.
type WorkerState int32

// Worker states, in order.
const (
	WorkerStarting WorkerState = iota
	WorkerReady
	WorkerDraining
	WorkerStopped
)

func (s WorkerState) String() string {
	switch s {
	case WorkerStarting:
		return "starting"
	case WorkerReady:
		return "ready"
	case WorkerDraining:
		return "draining"
	case WorkerStopped:
		return "stopped"
	}
	return fmt.Sprintf("WorkerState(%d)", int32(s))
}

// Worker claims and runs tasks. Create one with Engine.NewWorker, start it
// with Run, stop it with Drain (graceful) or by cancelling Run's context
// (hard stop; leases are released either way).
type Worker struct {
	e    *Engine
	opts WorkerOptions
	id   string

	state   atomic.Int32
	ready   chan struct{}
	stopped chan struct{}
	started atomic.Bool

	drainOnce sync.Once
	draining  chan struct{}
	drainDone chan struct{}

	wake chan struct{} // pokes the claim loop

	slots slotPool

	runsMu sync.Mutex
	runs   map[string]*taskRun
	runsWG sync.WaitGroup

	host  string
	wakes wakeCache // the store's next wake-up time of parked tasks
}

// NewWorker builds a worker for the engine's registry.
func (e *Engine) NewWorker(opts WorkerOptions) (*Worker, error) {
	o, err := opts.withDefaults(e.reg)
	if err != nil {
		return nil, err
	}
	w := &Worker{
		e: e, opts: o, id: o.ID, host: hostname(),
		ready: make(chan struct{}), stopped: make(chan struct{}),
		draining: make(chan struct{}), drainDone: make(chan struct{}),
		wake: make(chan struct{}, 1), runs: map[string]*taskRun{},
	}
	w.slots.init(o.MaxConcurrency, w.poke)
	e.workersMu.Lock()
	e.workers = append(e.workers, w)
	e.workersMu.Unlock()
	return w, nil
}

// Serve runs a worker with opts until ctx ends (hard stop) or the worker
// is drained. It is NewWorker followed by Run.
func (e *Engine) Serve(ctx context.Context, opts WorkerOptions) error {
	w, err := e.NewWorker(opts)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// Workers returns the engine's workers.
func (e *Engine) Workers() []*Worker {
	e.workersMu.Lock()
	defer e.workersMu.Unlock()
	return slices.Clone(e.workers)
}

// WaitUntilReady waits until every worker created so far is ready (or
// stopped), or ctx ends.
func (e *Engine) WaitUntilReady(ctx context.Context) error {
	for _, w := range e.Workers() {
		select {
		case <-w.Ready():
		case <-w.stopped:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ID returns the worker id used in leases.
func (w *Worker) ID() string { return w.id }

// Options returns the worker's effective options.
func (w *Worker) Options() WorkerOptions { return w.opts }

// State returns the lifecycle state.
func (w *Worker) State() WorkerState { return WorkerState(w.state.Load()) }

// Ready is closed once the worker claims work.
func (w *Worker) Ready() <-chan struct{} { return w.ready }

// Stopped is closed once Run has returned.
func (w *Worker) Stopped() <-chan struct{} { return w.stopped }

// Active returns the number of tasks this worker is running or waiting on.
func (w *Worker) Active() int {
	w.runsMu.Lock()
	defer w.runsMu.Unlock()
	return len(w.runs)
}

func (w *Worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run claims and runs tasks until Drain completes (returns nil) or ctx ends
// (hard stop: running tasks are cancelled with ErrLeaseLost and their
// leases released; returns nil). A worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return domain.InvalidArgument("worker %q: Run called twice", w.id)
	}
	defer close(w.stopped)
	e := w.e
	if err := e.checkOpen(); err != nil {
		w.state.Store(int32(WorkerStopped))
		return err
	}
	base, stopBase := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBase()
	log := e.log.With("worker_id", w.id)

	sub := e.subscribe(base, domain.TopicReady, domain.TopicCancel)
	if err := e.store.UpsertFunctions(ctx, e.reg.Infos(), e.now()); err != nil {
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
	w.state.Store(int32(WorkerReady))
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
			if wait := cd - time.Since(lastClaim); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
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
			lastClaim = time.Now()
		}
		if err != nil {
			if !claimErrLogged && !errors.Is(err, ErrClosed) {
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
		wait := backoff
		if due, ok := e.nextDueIn(); ok && due < wait {
			wait = max(due, time.Millisecond)
		}
		if due, ok := w.nextWakeIn(base); ok && due < wait {
			wait = max(due, time.Millisecond)
		}
		timer := time.NewTimer(wait)
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
		case <-timer.C:
			if claimed == 0 {
				backoff = min(time.Duration(float64(backoff)*w.opts.PollBackoff), w.opts.PollIntervalMax)
			}
		}
	}
}

// claimOnce claims up to the free slots and starts the tasks. full reports
// whether the claim filled every free slot.
func (w *Worker) claimOnce(base context.Context) (claimed int, full bool, err error) {
	free := w.slots.free()
	if free <= 0 {
		return 0, false, nil
	}
	e := w.e
	now := e.now()
	tasks, err := e.store.ClaimTasks(base, ports.ClaimParams{
		WorkerID: w.id, Queues: w.opts.Queues, Tags: w.opts.Tags, Functions: w.opts.Functions,
		Limit: free, Now: now, Lease: w.opts.LeaseDuration,
	})
	if err != nil {
		return 0, false, err
	}
	for _, t := range tasks {
		// A first claim's task has never run, so it has no step records
		// yet.
		w.start(base, t.Task, t.FirstClaim)
	}
	return len(tasks), len(tasks) == free, nil
}

// start runs a claimed task in its own goroutine, holding a slot.
func (w *Worker) start(base context.Context, t domain.Task, firstRun bool) {
	tr := w.newRun(base, t, nil)
	if firstRun {
		tr.children = map[int]domain.Task{}
	}
	w.slots.take(tr)
	w.runsWG.Add(1)
	go func() {
		defer w.runsWG.Done()
		defer w.slots.giveBack(tr)
		w.execute(tr)
	}()
}

// newRun registers a run of t. parent is set for an inline step.
func (w *Worker) newRun(base context.Context, t domain.Task, parent *taskRun) *taskRun {
	e := w.e
	ctx := base
	if parent != nil {
		ctx = parent.ctx
	}
	ctx, cancel := context.WithCancelCause(ctx)
	tr := &taskRun{e: e, w: w, task: t, cancel: cancel, parent: parent, done: make(chan struct{})}
	if t.LeaseExpiresAt != nil {
		tr.leaseExpires = *t.LeaseExpiresAt
	}
	tr.ctx = context.WithValue(ctx, runKey{}, tr)
	w.runsMu.Lock()
	w.runs[t.ID] = tr
	w.runsMu.Unlock()
	e.metrics.TaskClaimed(tr.info())
	return tr
}

func (w *Worker) endRun(tr *taskRun) {
	w.runsMu.Lock()
	if w.runs[tr.task.ID] == tr {
		delete(w.runs, tr.task.ID)
	}
	w.runsMu.Unlock()
	tr.cancel(context.Canceled)
	close(tr.done)
}

func (w *Worker) activeRuns() []*taskRun {
	w.runsMu.Lock()
	defer w.runsMu.Unlock()
	out := make([]*taskRun, 0, len(w.runs))
	for _, tr := range w.runs {
		out = append(out, tr)
	}
	return out
}

// Drain stops claiming, waits for in-flight tasks until ctx ends (or
// DrainTimeout when ctx has no deadline), then cancels the rest with
// ErrLeaseLost and releases their leases with the attempt restored, so
// another worker takes them at once. Run then returns nil.
func (w *Worker) Drain(ctx context.Context) error {
	first := false
	w.drainOnce.Do(func() {
		first = true
		w.state.Store(int32(WorkerDraining))
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
	idle := make(chan struct{})
	go func() {
		w.runsWG.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		w.releaseAll(context.WithoutCancel(ctx), w.e.log.With("worker_id", w.id))
	}
	w.state.Store(int32(WorkerStopped))
	return nil
}

// hardStop cancels every run and releases its lease.
func (w *Worker) hardStop(ctx context.Context, log *slog.Logger) {
	w.state.Store(int32(WorkerStopped))
	w.releaseAll(ctx, log)
	// The cancelled runs end quickly unless user code ignores its context;
	// wait a moment so no run still writes after Run has returned.
	w.waitRuns(hardStopGrace)
}

// hardStopGrace bounds how long a hard stop waits for cancelled runs.
const hardStopGrace = 2 * time.Second

// waitRuns waits until every run goroutine has ended, or d has passed.
func (w *Worker) waitRuns(d time.Duration) {
	done := make(chan struct{})
	go func() {
		w.runsWG.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// errReleased is the cause a stopping worker cancels its remaining runs
// with: their tasks are given back at once (it matches ErrLeaseLost).
var errReleased = fmt.Errorf("%w: the worker stopped and released the task", ErrLeaseLost)

// releaseAll cancels the remaining runs with ErrLeaseLost and gives their
// tasks back (pending, due now, attempt restored), then says work is ready.
func (w *Worker) releaseAll(ctx context.Context, log *slog.Logger) {
	runs := w.activeRuns()
	if len(runs) == 0 {
		return
	}
	for _, tr := range runs {
		tr.cancel(errReleased)
	}
	e := w.e
	released := 0
	for _, tr := range runs {
		err := e.store.ReleaseTask(ctx, tr.fence(), e.now(), true)
		switch {
		case err == nil:
			released++
		case errors.Is(err, ErrLeaseLost):
		default:
			log.WarnContext(ctx, "releasing a lease failed; it will expire", "task_id", tr.task.ID, "error", err)
		}
	}
	if released > 0 {
		e.publish(ctx, readyEvent("", ""))
	}
}
