// Package slots counts a worker's task slots. A claimed task takes a slot
// at once (the claim was sized to the free slots); a task that waits gives
// its slot back and later queues to take one again, ahead of new claims.
package slots

import (
	"context"
	"sync"
)

// Holder is what holds a slot (one per claimed run). Its state is guarded
// by the pool.
type Holder struct {
	holds bool
	// Limited: the holder's task counts against a concurrency limit, so
	// its slot given back may let a held-back task be claimed.
	Limited bool
}

// Pool is a worker's slots.
type Pool struct {
	mu      sync.Mutex
	cap     int
	held    int
	waiting int
	freed   chan struct{} // closed and replaced whenever a slot frees
	onFree  func(h *Holder)
}

// New returns a pool of n slots; onFree runs after each slot given back, with
// its holder.
func New(n int, onFree func(h *Holder)) *Pool {
	return &Pool{cap: n, freed: make(chan struct{}), onFree: onFree}
}

// Free is the number of slots new claims may use: waiting holders come
// first.
func (p *Pool) Free() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cap - p.held - p.waiting
}

// Take gives a freshly claimed run a slot.
func (p *Pool) Take(h *Holder) {
	p.mu.Lock()
	p.held++
	h.holds = true
	p.mu.Unlock()
}

// GiveBack returns h's slot if it holds one.
func (p *Pool) GiveBack(h *Holder) {
	p.mu.Lock()
	if !h.holds {
		p.mu.Unlock()
		return
	}
	h.holds = false
	p.held--
	close(p.freed)
	p.freed = make(chan struct{})
	p.mu.Unlock()
	p.onFree(h)
}

// Acquire waits for a slot for a holder that gave its own back.
func (p *Pool) Acquire(ctx context.Context, h *Holder) error {
	p.mu.Lock()
	if h.holds {
		p.mu.Unlock()
		return nil
	}
	p.waiting++
	for p.held >= p.cap {
		ch := p.freed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			p.waiting--
			p.mu.Unlock()
			return ctx.Err()
		}
		p.mu.Lock()
	}
	p.waiting--
	p.held++
	h.holds = true
	p.mu.Unlock()
	return nil
}
