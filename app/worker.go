package app

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/stenthq/stent/app/internal/worker"
	"github.com/stenthq/stent/domain"
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
	// Versions is the version policy of its claims. VersionStrict (the
	// default, also ""): a task of function f at version v (app.WithVersion
	// of the registry that created it) is claimed only if this worker's
	// registry registers f at v; unversioned tasks have version "".
	// VersionAny: claim the tasks of its functions whatever their version.
	Versions VersionPolicy
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
	policy, err := domain.ParseVersionPolicy(string(o.Versions))
	if err != nil {
		return o, fmt.Errorf("worker: %w", err)
	}
	o.Versions = policy
	if o.Name != "" {
		if err := domain.ValidateName("worker name", o.Name); err != nil {
			return o, err
		}
	}
	if o.ID == "" {
		o.ID = fmt.Sprintf("%s-%d-%s", worker.Hostname(), os.Getpid(), domain.NewID()[:8])
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
	w    *worker.Worker
	eng  *Engine
	opts WorkerOptions
}

// NewWorker builds a worker for the engine's registry.
func (e *Engine) NewWorker(opts WorkerOptions) (*Worker, error) {
	o, err := opts.withDefaults(e.reg)
	if err != nil {
		return nil, err
	}
	w := &Worker{w: worker.New(e.workerE, worker.Options(o)), eng: e, opts: o}
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
		case <-w.Stopped():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ID returns the worker id used in leases.
func (w *Worker) ID() string { return w.w.ID() }

// Options returns the worker's effective options.
func (w *Worker) Options() WorkerOptions { return w.opts }

// State returns the lifecycle state.
func (w *Worker) State() WorkerState { return WorkerState(w.w.State()) }

// Ready is closed once the worker claims work.
func (w *Worker) Ready() <-chan struct{} { return w.w.ReadyC() }

// Stopped is closed once Run has returned.
func (w *Worker) Stopped() <-chan struct{} { return w.w.Stopped() }

// Active returns the number of tasks this worker is running or waiting on.
func (w *Worker) Active() int { return w.w.Active() }

// Run claims and runs tasks until Drain completes (returns nil) or ctx ends
// (hard stop: running tasks are cancelled with ErrLeaseLost and their
// leases released; returns nil). A worker runs once. Beside it runs the
// scheduler, which fires due cron schedules (Config.ScheduleInterval).
func (w *Worker) Run(ctx context.Context) error {
	stop := w.eng.startScheduler(ctx)
	defer stop()
	return w.w.Run(ctx)
}

// Drain stops claiming, waits for in-flight tasks until ctx ends (or
// DrainTimeout when ctx has no deadline), then cancels the rest with
// ErrLeaseLost and releases their leases with the attempt restored, so
// another worker takes them at once. Run then returns nil.
func (w *Worker) Drain(ctx context.Context) error { return w.w.Drain(ctx) }
