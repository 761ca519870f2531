package sqlitestore

import (
	"context"
	"database/sql"
	"time"
)

// WAL checkpoints. SQLite's default runs a checkpoint inside the commit
// that takes the WAL past 1,000 pages: the one writer then copies those
// pages into the database file and fsyncs it before it returns. Under a
// steady load that is a stall of every write, of about 20 ms on a small
// machine every 200-300 ms (bench W8 at 200 jobs/s: p99 23.7 ms against
// 5.0 ms without it). The store therefore checkpoints in the background,
// on a connection of its own, a little after writes committed: a PASSIVE
// checkpoint runs beside the writer and never blocks it. The writer keeps
// an automatic checkpoint at walSafetyPages as a bound on the WAL for
// writes the background checkpointer does not see (another process's).

const (
	// walSafetyPages is the writer's wal_autocheckpoint: far above what
	// the background checkpointer lets the WAL reach.
	walSafetyPages = 10000
	// checkpointEvery is the least time between two background
	// checkpoints, so that a busy writer is followed by a few checkpoints
	// a second, not one per commit.
	checkpointEvery = 20 * time.Millisecond
)

// checkpointer runs PASSIVE checkpoints on its own connection when kicked.
type checkpointer struct {
	db     *sql.DB
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	// ran is signalled (without blocking) after each checkpoint, for tests.
	ran chan struct{}
}

func newCheckpointer(db *sql.DB) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}),
		ran: make(chan struct{}, 1)}
	go c.run(ctx)
	return c
}

// kicker returns Kick, or nil for a nil checkpointer (a read-only store).
func (c *checkpointer) kicker() func() {
	if c == nil {
		return nil
	}
	return c.Kick
}

// Kick asks for a checkpoint; it never blocks.
func (c *checkpointer) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		// Best effort: a failed checkpoint leaves the pages in the WAL for
		// the next one (or the writer's safety checkpoint).
		_, _ = c.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case c.ran <- struct{}{}:
		default:
		}
		t := time.NewTimer(checkpointEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Close stops the checkpointer and closes its connection.
func (c *checkpointer) Close() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
