package worker

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/stenthq/stent/app/internal/hint"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Fast adoption. Every worker registers in the store's worker registry and
// records a heartbeat there every LivenessInterval. A worker that finds
// another's heartbeat older than DeadAfter declares it dead, which ends
// the leases of its running tasks in the same transaction: live workers
// reclaim them at once (a recovery, not an attempt) instead of waiting for
// the whole lease, and fencing rejects anything the dead worker still
// writes. A worker restarting under the same Name on the same host takes
// over its predecessor's tasks as it starts.

// processID identifies this operating-system process in the registry, so
// that workers of one process never declare each other dead.
var processID = domain.NewID()

// Hostname is the host name workers register with.
func Hostname() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "worker"
	}
	return host
}

// info is the worker's registry row.
func (w *Worker) info() domain.WorkerInfo {
	return domain.WorkerInfo{ID: w.opts.ID, Name: w.opts.Name, Host: w.host, PID: os.Getpid(), Process: processID,
		Queues: w.opts.Queues, Functions: w.opts.Functions, Versions: w.versions, VersionPolicy: w.opts.Versions}
}

// register records the worker in the registry and, when it has a Name,
// adopts the tasks of a predecessor of that name on this host.
func (w *Worker) register(ctx context.Context, log *slog.Logger) {
	env := w.env.Run
	if err := env.Store.RegisterWorker(ctx, w.info(), env.Now()); err != nil {
		log.WarnContext(ctx, "registering the worker failed; it will retry", "error", err)
		return
	}
	if w.opts.Name == "" {
		return
	}
	all, err := env.Store.ListWorkers(ctx)
	if err != nil {
		log.WarnContext(ctx, "listing workers to adopt a predecessor failed", "error", err)
		return
	}
	var preds []string
	for _, o := range all {
		if o.State == domain.WorkerLive && o.ID != w.opts.ID && o.Name == w.opts.Name && o.Host == w.host &&
			o.Process != processID && (o.PID == os.Getpid() || !processAlive(o.PID)) {
			preds = append(preds, o.ID)
		}
	}
	if len(preds) > 0 {
		w.expire(ctx, log, ports.ExpireWorkersParams{IDs: preds, Except: w.opts.ID, ExceptProcess: processID, Now: env.Now()})
	}
}

// livenessLoop records the heartbeat and declares dead the workers whose
// heartbeat is too old, every LivenessInterval on the pacing clock.
func (w *Worker) livenessLoop(ctx context.Context, log *slog.Logger) {
	t := w.pace.NewTicker(w.opts.LivenessInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		env := w.env.Run
		now := env.Now()
		err := env.Store.TouchWorker(ctx, w.opts.ID, now)
		if errors.Is(err, domain.ErrNotFound) { // cleaned up meanwhile, or never registered
			err = env.Store.RegisterWorker(ctx, w.info(), now)
		}
		if err != nil {
			if !failing && ctx.Err() == nil {
				log.WarnContext(ctx, "worker heartbeat failed", "error", err)
			}
			failing = true
			continue // a worker whose own heartbeat fails judges no one
		}
		failing = false
		w.expire(ctx, log, ports.ExpireWorkersParams{StaleBefore: now.Add(-w.opts.DeadAfter), Except: w.opts.ID,
			ExceptProcess: processID, Now: now})
	}
}

// expire declares workers dead and wakes the claim loops for their tasks.
func (w *Worker) expire(ctx context.Context, log *slog.Logger, p ports.ExpireWorkersParams) {
	env := w.env.Run
	dead, err := env.Store.ExpireWorkers(ctx, p)
	if err != nil {
		if ctx.Err() == nil {
			log.WarnContext(ctx, "looking for dead workers failed", "error", err)
		}
		return
	}
	adopted := 0
	for _, d := range dead {
		adopted += d.Tasks
		log.InfoContext(ctx, "worker declared dead; its tasks are reclaimed now", "dead_worker_id", d.Worker.ID,
			"dead_worker_host", d.Worker.Host, "last_heartbeat", d.Worker.HeartbeatAt, "tasks", d.Tasks)
		if w.env.WorkerDeclaredDead != nil {
			w.env.WorkerDeclaredDead(d.Worker.ID, d.Tasks)
		}
	}
	if adopted > 0 {
		env.Hints.Publish(ctx, hint.Ready("", ""))
		w.Poke()
	}
}

// unregister marks the worker stopped as Run returns.
func (w *Worker) unregister(ctx context.Context, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	env := w.env.Run
	if err := env.Store.StopWorker(ctx, w.opts.ID, env.Now()); err != nil && !errors.Is(err, domain.ErrNotFound) && !errors.Is(err, domain.ErrClosed) {
		log.WarnContext(ctx, "marking the worker stopped failed; others will declare it dead", "error", err)
	}
}

// wakeCache remembers the store's next wake-up time of parked tasks this
// worker could claim, read at most once per PollInterval.
type wakeCache struct {
	mu      sync.Mutex
	at      time.Time
	ok      bool
	fetched time.Time // pacing clock
	dueRead bool      // at had already come when it was read
	// retried is the due time read last that was claimed at once: read
	// again unchanged, a limit holds its task back and the worker polls.
	retried time.Time
}

// wakeRefetch is the least time between two reads of the next wake-up
// once the one read last has come.
const wakeRefetch = 5 * time.Millisecond

// nextWakeIn returns how long until the earliest parked task this worker
// could claim wakes up, from the store (cached for PollInterval).
func (w *Worker) nextWakeIn(ctx context.Context) (time.Duration, bool) {
	c := &w.wakes
	c.mu.Lock()
	defer c.mu.Unlock()
	env := w.env.Run
	now := env.Clock.Now()
	sinceFetch := w.pace.Now().Sub(c.fetched)
	// Read again after PollInterval, or at once when the time read last
	// has come (the next timer behind it is wanted now).
	passed := c.ok && !c.at.After(now)
	if passed && !c.dueRead && sinceFetch < wakeRefetch {
		// The time came within wakeRefetch of its read: this worker has
		// most likely just claimed that task, and the next timer is
		// wanted. Wait until it may be read, not for the poll interval
		// (the spread timers of bench W6 were up to 100 ms late).
		return wakeRefetch - sinceFetch, true
	}
	if (passed && sinceFetch >= wakeRefetch) || sinceFetch >= w.opts.PollInterval {
		at, ok, err := env.Store.NextWake(ctx, w.claimParams(1))
		c.fetched = w.pace.Now()
		if err != nil {
			c.ok = false
			return 0, false
		}
		c.at, c.ok = at, ok
		c.dueRead = ok && !at.After(now)
		if c.dueRead && !at.Equal(c.retried) {
			// Newly due: most likely it came due while the last claim ran
			// (a claim longer than the gap between two timers). Claim at
			// once, once; the same time read again is a held task.
			c.retried = at
			return 0, true
		}
	}
	if !c.ok {
		return 0, false
	}
	d := c.at.Sub(now)
	if d <= 0 {
		// Due but not claimed (a limit holds it back): poll as usual.
		return 0, false
	}
	return d, true
}
