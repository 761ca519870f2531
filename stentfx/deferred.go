package stentfx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// DeferredStore is a ports.Store whose backend is opened later, by
// Connect, so a service can start (and answer /healthz) while its database
// is still unreachable: until Connect succeeds every method returns
// ErrUnavailable. After that it forwards every call to the backend.
type DeferredStore struct {
	open func(context.Context) (ports.Store, error)

	mu        sync.RWMutex
	backend   ports.Store
	closed    bool
	connected chan struct{}
}

var (
	_ ports.Store    = (*DeferredStore)(nil)
	_ ports.Migrator = (*DeferredStore)(nil)
)

// NewDeferredStore returns a store that opens its backend with open when
// Connect is called.
func NewDeferredStore(open func(context.Context) (ports.Store, error)) *DeferredStore {
	return &DeferredStore{open: open, connected: make(chan struct{})}
}

// NewDeferredStoreFor wraps a store that is already open: it is connected
// at once. Handy in tests and for embedders that open their own store.
func NewDeferredStoreFor(st ports.Store) *DeferredStore {
	d := &DeferredStore{backend: st, connected: make(chan struct{})}
	close(d.connected)
	return d
}

// ConnectOptions tunes Connect's retries.
type ConnectOptions struct {
	// InitialBackoff is the first wait after a failed open (default
	// 200ms); it doubles up to MaxBackoff (default 5s).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// OnRetry is called after each failed attempt that will be retried.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// Connect opens the backend, retrying with backoff while the open fails
// with ErrUnavailable, until it succeeds or ctx ends (then the last open
// error is returned, wrapped with ctx's). Any other open error (a bad DSN,
// a schema mismatch) is returned at once. Connecting a connected store is
// a no-op; connecting a closed one is ErrClosed.
func (d *DeferredStore) Connect(ctx context.Context, o ConnectOptions) error {
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	wait := o.InitialBackoff
	for attempt := 1; ; attempt++ {
		if _, err := d.get(); err == nil {
			return nil
		} else if errors.Is(err, domain.ErrClosed) {
			return err
		}
		st, err := d.open(ctx)
		if err == nil {
			return d.set(st)
		}
		if !errors.Is(err, domain.ErrUnavailable) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		}
		if o.OnRetry != nil {
			o.OnRetry(attempt, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, o.MaxBackoff)
	}
}

func (d *DeferredStore) set(st ports.Store) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		_ = st.Close()
		return fmt.Errorf("stentfx: store closed while connecting: %w", domain.ErrClosed)
	}
	if d.backend == nil {
		d.backend = st
		close(d.connected)
	}
	return nil
}

// Connected is closed once the backend is open.
func (d *DeferredStore) Connected() <-chan struct{} { return d.connected }

// Backend returns the open backend, or nil before Connect succeeds.
func (d *DeferredStore) Backend() ports.Store {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.backend
}

func (d *DeferredStore) get() (ports.Store, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	switch {
	case d.closed:
		return nil, fmt.Errorf("stentfx: store: %w", domain.ErrClosed)
	case d.backend == nil:
		return nil, fmt.Errorf("stentfx: store not connected yet: %w", domain.ErrUnavailable)
	}
	return d.backend, nil
}

// Close closes the backend if it was opened; later calls return ErrClosed.
// Idempotent.
func (d *DeferredStore) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.backend != nil {
		return d.backend.Close()
	}
	return nil
}

// Migrate migrates a backend with a versioned schema; others have nothing
// to migrate.
func (d *DeferredStore) Migrate(ctx context.Context) error {
	st, err := d.get()
	if err != nil {
		return err
	}
	if m, ok := st.(ports.Migrator); ok {
		return m.Migrate(ctx)
	}
	return nil
}

// SchemaVersion returns the backend's schema versions; a backend without a
// versioned schema reports 0, 0.
func (d *DeferredStore) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	st, err := d.get()
	if err != nil {
		return 0, 0, err
	}
	if m, ok := st.(ports.Migrator); ok {
		return m.SchemaVersion(ctx)
	}
	return 0, 0, nil
}

// call forwards to the backend.
func call[T any](d *DeferredStore, f func(ports.Store) (T, error)) (T, error) {
	st, err := d.get()
	if err != nil {
		var zero T
		return zero, err
	}
	return f(st)
}

func call0(d *DeferredStore, f func(ports.Store) error) error {
	st, err := d.get()
	if err != nil {
		return err
	}
	return f(st)
}

// CreateExecutions forwards to the backend.
func (d *DeferredStore) CreateExecutions(ctx context.Context, items []ports.NewExecution) ([]ports.CreatedExecution, error) {
	return call(d, func(s ports.Store) ([]ports.CreatedExecution, error) { return s.CreateExecutions(ctx, items) })
}

// GetExecution forwards to the backend.
func (d *DeferredStore) GetExecution(ctx context.Context, id string) (domain.Execution, error) {
	return call(d, func(s ports.Store) (domain.Execution, error) { return s.GetExecution(ctx, id) })
}

// ListExecutions forwards to the backend.
func (d *DeferredStore) ListExecutions(ctx context.Context, f ports.ExecutionFilter) ([]domain.Execution, error) {
	return call(d, func(s ports.Store) ([]domain.Execution, error) { return s.ListExecutions(ctx, f) })
}

// ListProgress forwards to the backend.
func (d *DeferredStore) ListProgress(ctx context.Context, executionID string) ([]domain.ProgressEntry, error) {
	return call(d, func(s ports.Store) ([]domain.ProgressEntry, error) { return s.ListProgress(ctx, executionID) })
}

// GetExecutionData forwards to the backend.
func (d *DeferredStore) GetExecutionData(ctx context.Context, executionID string) (domain.ExecutionData, error) {
	return call(d, func(s ports.Store) (domain.ExecutionData, error) { return s.GetExecutionData(ctx, executionID) })
}

// CancelExecution forwards to the backend.
func (d *DeferredStore) CancelExecution(ctx context.Context, id string, now time.Time) (domain.Execution, bool, error) {
	st, err := d.get()
	if err != nil {
		return domain.Execution{}, false, err
	}
	return st.CancelExecution(ctx, id, now)
}

// TimeoutExecution forwards to the backend.
func (d *DeferredStore) TimeoutExecution(ctx context.Context, id string, now time.Time) (domain.Execution, bool, error) {
	st, err := d.get()
	if err != nil {
		return domain.Execution{}, false, err
	}
	return st.TimeoutExecution(ctx, id, now)
}

// ExpireOverdue forwards to the backend.
func (d *DeferredStore) ExpireOverdue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return call(d, func(s ports.Store) ([]string, error) { return s.ExpireOverdue(ctx, now, limit) })
}

// GetTask forwards to the backend.
func (d *DeferredStore) GetTask(ctx context.Context, id string) (domain.Task, error) {
	return call(d, func(s ports.Store) (domain.Task, error) { return s.GetTask(ctx, id) })
}

// GetTasks forwards to the backend.
func (d *DeferredStore) GetTasks(ctx context.Context, ids []string) ([]domain.Task, error) {
	return call(d, func(s ports.Store) ([]domain.Task, error) { return s.GetTasks(ctx, ids) })
}

// ListTasks forwards to the backend.
func (d *DeferredStore) ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error) {
	return call(d, func(s ports.Store) ([]domain.Task, error) { return s.ListTasks(ctx, f) })
}

// CreateStepsBatch forwards to the backend.
func (d *DeferredStore) CreateStepsBatch(ctx context.Context, reqs []ports.CreateStepsRequest) ([]ports.CreateStepsResult, error) {
	return call(d, func(s ports.Store) ([]ports.CreateStepsResult, error) { return s.CreateStepsBatch(ctx, reqs) })
}

// ResetStep forwards to the backend.
func (d *DeferredStore) ResetStep(ctx context.Context, parent domain.Fence, spec ports.StepSpec, now time.Time) (domain.Task, error) {
	return call(d, func(s ports.Store) (domain.Task, error) { return s.ResetStep(ctx, parent, spec, now) })
}

// CompleteSleep forwards to the backend.
func (d *DeferredStore) CompleteSleep(ctx context.Context, parent domain.Fence, taskID string, now time.Time) (domain.Task, error) {
	return call(d, func(s ports.Store) (domain.Task, error) { return s.CompleteSleep(ctx, parent, taskID, now) })
}

// ClaimTasks forwards to the backend.
func (d *DeferredStore) ClaimTasks(ctx context.Context, p ports.ClaimParams) ([]ports.ClaimedTask, error) {
	return call(d, func(s ports.Store) ([]ports.ClaimedTask, error) { return s.ClaimTasks(ctx, p) })
}

// NextWake forwards to the backend.
func (d *DeferredStore) NextWake(ctx context.Context, p ports.ClaimParams) (time.Time, bool, error) {
	st, err := d.get()
	if err != nil {
		return time.Time{}, false, err
	}
	return st.NextWake(ctx, p)
}

// ParkTask forwards to the backend.
func (d *DeferredStore) ParkTask(ctx context.Context, p ports.ParkParams) (bool, error) {
	return call(d, func(s ports.Store) (bool, error) { return s.ParkTask(ctx, p) })
}

// RegisterWorker forwards to the backend.
func (d *DeferredStore) RegisterWorker(ctx context.Context, w domain.WorkerInfo, now time.Time) error {
	return call0(d, func(s ports.Store) error { return s.RegisterWorker(ctx, w, now) })
}

// TouchWorker forwards to the backend.
func (d *DeferredStore) TouchWorker(ctx context.Context, id string, now time.Time) error {
	return call0(d, func(s ports.Store) error { return s.TouchWorker(ctx, id, now) })
}

// StopWorker forwards to the backend.
func (d *DeferredStore) StopWorker(ctx context.Context, id string, now time.Time) error {
	return call0(d, func(s ports.Store) error { return s.StopWorker(ctx, id, now) })
}

// ExpireWorkers forwards to the backend.
func (d *DeferredStore) ExpireWorkers(ctx context.Context, p ports.ExpireWorkersParams) ([]ports.ExpiredWorker, error) {
	return call(d, func(s ports.Store) ([]ports.ExpiredWorker, error) { return s.ExpireWorkers(ctx, p) })
}

// ListWorkers forwards to the backend.
func (d *DeferredStore) ListWorkers(ctx context.Context) ([]domain.WorkerInfo, error) {
	return call(d, func(s ports.Store) ([]domain.WorkerInfo, error) { return s.ListWorkers(ctx) })
}

// RenewLeases forwards to the backend.
func (d *DeferredStore) RenewLeases(ctx context.Context, fences []domain.Fence, now time.Time, lease time.Duration) ([]ports.LeaseStatus, error) {
	return call(d, func(s ports.Store) ([]ports.LeaseStatus, error) { return s.RenewLeases(ctx, fences, now, lease) })
}

// CompleteTasks forwards to the backend.
func (d *DeferredStore) CompleteTasks(ctx context.Context, ps []ports.CompleteParams) ([]ports.CompleteResult, error) {
	return call(d, func(s ports.Store) ([]ports.CompleteResult, error) { return s.CompleteTasks(ctx, ps) })
}

// FailTask forwards to the backend.
func (d *DeferredStore) FailTask(ctx context.Context, p ports.FailParams) error {
	return call0(d, func(s ports.Store) error { return s.FailTask(ctx, p) })
}

// RetryTask forwards to the backend.
func (d *DeferredStore) RetryTask(ctx context.Context, p ports.RetryParams) error {
	return call0(d, func(s ports.Store) error { return s.RetryTask(ctx, p) })
}

// ReleaseTask forwards to the backend.
func (d *DeferredStore) ReleaseTask(ctx context.Context, fence domain.Fence, now time.Time, restoreAttempt bool) error {
	return call0(d, func(s ports.Store) error { return s.ReleaseTask(ctx, fence, now, restoreAttempt) })
}

// SendSignal forwards to the backend.
func (d *DeferredStore) SendSignal(ctx context.Context, executionID, name string, payload json.RawMessage, now time.Time) (*domain.Task, error) {
	return call(d, func(s ports.Store) (*domain.Task, error) { return s.SendSignal(ctx, executionID, name, payload, now) })
}

// ListDeadLetters forwards to the backend.
func (d *DeferredStore) ListDeadLetters(ctx context.Context, f ports.DeadLetterFilter) ([]domain.DeadLetter, error) {
	return call(d, func(s ports.Store) ([]domain.DeadLetter, error) { return s.ListDeadLetters(ctx, f) })
}

// GetDeadLetter forwards to the backend.
func (d *DeferredStore) GetDeadLetter(ctx context.Context, taskID string) (domain.DeadLetter, error) {
	return call(d, func(s ports.Store) (domain.DeadLetter, error) { return s.GetDeadLetter(ctx, taskID) })
}

// DiscardDeadLetter forwards to the backend.
func (d *DeferredStore) DiscardDeadLetter(ctx context.Context, taskID string) error {
	return call0(d, func(s ports.Store) error { return s.DiscardDeadLetter(ctx, taskID) })
}

// ReplayDeadLetter forwards to the backend.
func (d *DeferredStore) ReplayDeadLetter(ctx context.Context, p ports.ReplayParams) (domain.Task, error) {
	return call(d, func(s ports.Store) (domain.Task, error) { return s.ReplayDeadLetter(ctx, p) })
}

// CountExecutionsByState forwards to the backend.
func (d *DeferredStore) CountExecutionsByState(ctx context.Context) (map[domain.ExecutionState]int64, error) {
	return call(d, func(s ports.Store) (map[domain.ExecutionState]int64, error) { return s.CountExecutionsByState(ctx) })
}

// CountTasks forwards to the backend.
func (d *DeferredStore) CountTasks(ctx context.Context) ([]ports.TaskCount, error) {
	return call(d, func(s ports.Store) ([]ports.TaskCount, error) { return s.CountTasks(ctx) })
}

// CountDeadLetters forwards to the backend.
func (d *DeferredStore) CountDeadLetters(ctx context.Context) (int64, error) {
	return call(d, func(s ports.Store) (int64, error) { return s.CountDeadLetters(ctx) })
}

// Cleanup forwards to the backend.
func (d *DeferredStore) Cleanup(ctx context.Context, p ports.CleanupParams) (ports.CleanupResult, error) {
	return call(d, func(s ports.Store) (ports.CleanupResult, error) { return s.Cleanup(ctx, p) })
}

// UpsertFunctions forwards to the backend.
func (d *DeferredStore) UpsertFunctions(ctx context.Context, fns []domain.FunctionInfo, now time.Time) error {
	return call0(d, func(s ports.Store) error { return s.UpsertFunctions(ctx, fns, now) })
}

// ListFunctions forwards to the backend.
func (d *DeferredStore) ListFunctions(ctx context.Context) ([]domain.FunctionInfo, error) {
	return call(d, func(s ports.Store) ([]domain.FunctionInfo, error) { return s.ListFunctions(ctx) })
}

// Ping forwards to the backend; ErrUnavailable before Connect succeeds.
func (d *DeferredStore) Ping(ctx context.Context) error {
	return call0(d, func(s ports.Store) error { return s.Ping(ctx) })
}
