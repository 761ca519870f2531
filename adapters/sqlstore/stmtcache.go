package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the statement cache; statements past it run
// unprepared.
const maxCachedStatements = 512

// stmtCache keeps write statements prepared on the single writer
// connection. A statement cannot be prepared on the writer DB while a
// transaction holds its only connection, so a statement missing from the
// cache is noted during the transaction and prepared right after it.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]struct{}
	closed  bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]struct{}{}}
}

// get returns the prepared statement of q, or nil after noting q.
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[q]; ok {
		return st
	}
	if !c.closed && len(c.stmts)+len(c.pending) < maxCachedStatements {
		c.pending[q] = struct{}{}
	}
	return nil
}

// preparePending prepares the statements noted since the last call. It
// must run while the caller holds no writer transaction.
func (c *stmtCache) preparePending(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 || c.closed {
		c.mu.Unlock()
		return
	}
	todo := make([]string, 0, len(c.pending))
	for q := range c.pending {
		todo = append(todo, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range todo {
		st, err := c.db.PrepareContext(context.WithoutCancel(ctx), q)
		if err != nil {
			continue // it runs unprepared; a failing statement reports its error there
		}
		c.mu.Lock()
		if _, dup := c.stmts[q]; dup || c.closed {
			_ = st.Close()
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, st := range c.stmts {
		_ = st.Close()
	}
	clear(c.stmts)
}
