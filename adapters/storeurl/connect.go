package storeurl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Connector is a store opened before its database answered (Options.Lazy
// on PostgreSQL): Connect makes one attempt to reach the database and
// ready its schema, after which the store serves (see
// pgxstore.Store.Connect).
type Connector interface {
	Connect(ctx context.Context) error
}

// ConnectOptions tunes Connect's retries.
type ConnectOptions struct {
	// InitialBackoff is the first wait after a failed attempt (default
	// 200ms); it doubles up to MaxBackoff (default 5s).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// OnRetry is called after each failed attempt that will be retried.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// Connect readies st: a store that implements Connector is connected,
// retrying with backoff while the attempt fails with ErrUnavailable, until
// it succeeds or ctx ends (then the last error is returned, wrapped with
// ctx's). Any other error (a schema newer than the code, an older one
// without auto-migration, a closed store) is returned at once. A store
// opened eagerly (SQLite, or PostgreSQL without Lazy) is ready: Connect
// returns nil at once.
func Connect(ctx context.Context, st ports.Store, o ConnectOptions) error {
	c, ok := st.(Connector)
	if !ok {
		return nil
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	wait := o.InitialBackoff
	for attempt := 1; ; attempt++ {
		err := c.Connect(ctx)
		if err == nil || !errors.Is(err, domain.ErrUnavailable) {
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
