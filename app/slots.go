package app

import (
	"context"
	"sync"
)

// slotPool counts a worker's task slots. Claimed tasks take a slot at once
// (the claim was sized to the free slots); a task that waits gives its slot
// back and later queues to re-acquire one, ahead of new claims.
type slotPool struct {
	mu      sync.Mutex
	cap     int
	held    int
	waiting int
	freed   chan struct{} // closed and replaced whenever a slot frees
	onFree  func()
}

func (p *slotPool) init(n int, onFree func()) {
	p.cap, p.freed, p.onFree = n, make(chan struct{}), onFree
}

// free is the number of slots new claims may use: waiting tasks come first.
func (p *slotPool) free() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cap - p.held - p.waiting
}

// take gives a freshly claimed run a slot.
func (p *slotPool) take(tr *taskRun) {
	p.mu.Lock()
	p.held++
	tr.holdsSlot = true
	p.mu.Unlock()
}

// giveBack returns the run's slot if it holds one (end of the run).
func (p *slotPool) giveBack(tr *taskRun) {
	p.mu.Lock()
	if !tr.holdsSlot {
		p.mu.Unlock()
		return
	}
	tr.holdsSlot = false
	p.held--
	close(p.freed)
	p.freed = make(chan struct{})
	p.mu.Unlock()
	p.onFree()
}

// acquire waits for a slot for a run that gave its own back.
func (p *slotPool) acquire(ctx context.Context, tr *taskRun) error {
	p.mu.Lock()
	if tr.holdsSlot {
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
	tr.holdsSlot = true
	p.mu.Unlock()
	return nil
}

// releaseSlot gives a waiting run's slot back so the worker can claim.
func (w *Worker) releaseSlot(tr *taskRun) {
	if tr.parent != nil {
		// An inline step runs in its parent's slot.
		w.releaseSlot(tr.parent)
		return
	}
	w.slots.giveBack(tr)
}

// acquireSlot takes a slot again for a run that waited.
func (w *Worker) acquireSlot(ctx context.Context, tr *taskRun) error {
	if tr.parent != nil {
		return w.acquireSlot(ctx, tr.parent)
	}
	return w.slots.acquire(ctx, tr)
}
