package sqlstore

import (
	"context"
	"sync"
	"time"
)

// Statistics refresh. PostgreSQL caches a generic plan per prepared
// statement; a plan made while the tasks table was tiny (a sequential scan
// is cheapest then) stays until the table is analyzed, which autovacuum
// does only after a while. The store therefore analyzes its growing tables
// itself each time the rows it inserted double, from firstAnalyzeAt up to
// lastAnalyzeAt; past that autovacuum keeps up. The planner scales the row
// counts it knows by the tables' current size, so the plans made by then
// hold; and an ANALYZE of a table past its 30,000-row sample takes a core
// for 200-600 ms on a small machine, a stall every dispatch would see.
//
// The doubling counts from what the tables already held when the store
// opened (the planner's estimate, read once at the first threshold): a
// store opened over a million rows has plans that fit from the start, and
// analyzing them again as it inserts its first rows only cost each worker
// process a core for seconds after every start (W5, features/090).
const (
	firstAnalyzeAt = 512
	lastAnalyzeAt  = 1 << 16
)

type growth struct {
	// ctx is cancelled by Close, which then waits for a running Analyze.
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	inserted int64
	next     int64
	running  bool
	// held is the tables' row estimate when first read (heldKnown).
	held      int64
	heldKnown bool
	wg        sync.WaitGroup
}

// noteInserted counts n new task or execution rows and starts a
// background Analyze when the count passes the next threshold.
func (s *Store) noteInserted(n int) {
	g := &s.growth
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.next == 0 {
		g.next = firstAnalyzeAt
	}
	g.inserted += int64(n)
	if g.inserted < g.next || g.next > lastAnalyzeAt || g.running || g.ctx.Err() != nil || s.readOnly {
		return
	}
	for g.next <= g.inserted {
		g.next *= 2
	}
	g.running = true
	inserted, known := g.inserted, g.heldKnown
	g.wg.Go(func() {
		ctx, cancel := context.WithTimeout(g.ctx, time.Minute)
		defer cancel()
		var held int64
		if !known {
			held, _ = s.d.TableRows(ctx, s.w) // unknown counts as empty: analyze as before
		}
		g.mu.Lock()
		if !g.heldKnown {
			g.held, g.heldKnown = held, true
		}
		grown := inserted >= g.held
		for !grown && g.next < g.held {
			g.next *= 2 // the next threshold the tables double at
		}
		g.mu.Unlock()
		if grown {
			_ = s.d.Analyze(ctx, s.w) // best effort: a failure only leaves plans to autovacuum
		}
		g.mu.Lock()
		g.running = false
		g.mu.Unlock()
	})
}
