package app

import (
	"context"
	"time"

	"github.com/stenthq/stent/app/internal/run"
	"github.com/stenthq/stent/ports"
)

// Sleep pauses for d. Inside a running task it is a durable step: the first
// run stores the wake-up time, a re-run after a crash waits only for the
// remainder, and the task gives its worker slot back while it sleeps. A
// d <= 0 writes nothing and returns at once. Outside a task it is a plain
// sleep that ends early with ctx's error. time.Sleep is never intercepted.
func Sleep(ctx context.Context, d time.Duration) error {
	r := run.From(ctx)
	if r == nil {
		if d <= 0 {
			return ctx.Err()
		}
		t := ports.SystemClock{}.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if d <= 0 {
		return nil
	}
	defer r.Enter()()
	return r.Sleep(ctx, d)
}
