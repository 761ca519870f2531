// Package memstore is the in-memory reference implementation of
// ports.Store. One mutex guards plain maps; every value is deep-copied on
// the way in and out, and every time is normalised with domain.NormalizeTime,
// so it behaves like the SQL stores (see tests/contract) without a database.
// It is the executable definition the SQL stores are compared against:
// simplicity beats speed here (most operations scan every row).
package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Store keeps executions, tasks, signals, cache and idempotency entries,
// dead letters and the function catalogue in memory. The zero value is not
// usable; call New.
type Store struct {
	mu     sync.Mutex
	closed bool

	executions  map[string]*domain.Execution
	tasks       map[string]*domain.Task
	signals     map[string][]*domain.Signal // by execution id, every name, in send order
	data        map[string]*domain.ExecutionData
	cache       map[string]cacheEntry
	idempotency map[string]json.RawMessage
	deadLetters map[string]*domain.DeadLetter // by task id
	functions   map[string]domain.FunctionInfo
	workers     map[string]*domain.WorkerInfo
	schedules   map[string]*domain.Schedule
	rateStarts  map[string][]time.Time // fresh claims per rate key, sorted (the sliding-window log)
	rateSpecs   map[string]rateSpec    // per rate key: the limit and a task of it, for ListLimitUsage
	queues      map[string]*queueRow
}

type cacheEntry struct {
	value     json.RawMessage
	expiresAt *time.Time // nil: never
}

var (
	_ ports.Store     = (*Store)(nil)
	_ ports.Inspector = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{
		executions:  map[string]*domain.Execution{},
		tasks:       map[string]*domain.Task{},
		signals:     map[string][]*domain.Signal{},
		data:        map[string]*domain.ExecutionData{},
		cache:       map[string]cacheEntry{},
		idempotency: map[string]json.RawMessage{},
		deadLetters: map[string]*domain.DeadLetter{},
		functions:   map[string]domain.FunctionInfo{},
		workers:     map[string]*domain.WorkerInfo{},
		schedules:   map[string]*domain.Schedule{},
		rateStarts:  map[string][]time.Time{},
		rateSpecs:   map[string]rateSpec{},
		queues:      map[string]*queueRow{},
	}
}

// lock takes the store mutex and reports ErrClosed or a done context. On a
// nil error the caller must call s.mu.Unlock (usually deferred).
func (s *Store) lock(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("memstore: %w", domain.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

// Ping reports ErrClosed after Close, else nil.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// Close marks the store closed; later calls return ErrClosed. Closing twice
// is fine. The data is dropped.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.executions, s.tasks, s.signals, s.data = nil, nil, nil, nil
	s.cache, s.idempotency, s.deadLetters, s.functions, s.workers = nil, nil, nil, nil, nil
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("memstore: %w", domain.InvalidArgument(format, args...))
}

// valid prefixes the error of a ports validator (nil stays nil).
func valid(err error) error {
	if err != nil {
		return fmt.Errorf("memstore: %w", err)
	}
	return nil
}

func notFound(what, id string) error {
	return fmt.Errorf("memstore: %s %q: %w", what, id, domain.ErrNotFound)
}

func leaseLost(f domain.Fence) error {
	return fmt.Errorf("memstore: task %q (worker %q): %w", f.TaskID, f.WorkerID, domain.ErrLeaseLost)
}

// page applies offset and limit to an already sorted slice.
// afterKeyset reports whether a row keyed (at, id) comes after k in a
// newest-first order (time desc, id desc); every row does for a nil k.
func afterKeyset(k *ports.Keyset, at time.Time, id string) bool {
	if k == nil {
		return true
	}
	switch domain.NormalizeTime(at).Compare(domain.NormalizeTime(k.At)) {
	case -1:
		return true
	case 0:
		return id < k.ID
	}
	return false
}

func page[T any](rows []T, limit, offset int) []T {
	if offset >= len(rows) {
		return nil
	}
	rows = rows[offset:]
	if len(rows) > limit {
		rows = rows[:limit]
	}
	return rows
}
