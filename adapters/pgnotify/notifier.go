// Package pgnotify is the PostgreSQL LISTEN/NOTIFY Notifier (SPEC §7) on
// github.com/jackc/pgx/v5, so a multi-process PostgreSQL deployment gets
// low-latency wake-ups without Redis.
//
// Publish sends pg_notify through the pool given to New. One dedicated
// listening connection per Notifier (opened with the pool's connection
// settings, outside the pool) serves every subscriber of the process.
//
// Channels: a few per deployment, not one per topic. A topic's channel is
// Prefix + its kind, the part before the first colon: "stent:task" carries
// every "task:<id>" topic, "stent:ready" the ready topic. The payload
// carries the full topic and the reader routes by it. This keeps LISTEN
// off the hot path (after warm-up, Subscribe is local: the kinds are
// already listened to; LISTEN and UNLISTEN interrupt the reader) and
// bounds the channels a session holds, at the cost of each process
// receiving the task and execution events of the whole deployment, which
// at PostgreSQL NOTIFY rates is cheap. A channel nobody wants any more is
// unlistened lazily, at the next idle health check. Channel names longer
// than PostgreSQL's 63-byte identifier limit are shortened with a hash.
//
// Subscribe returns once LISTEN has run on the listening connection, so an
// event published after it returns is delivered. One reader goroutine fans
// events out to buffered per-subscriber channels and never blocks; a
// subscriber that falls behind gets its oldest pending event replaced by
// an EventReset. When the listening connection is lost, every subscriber
// gets an EventReset; the notifier reconnects with backoff, listens again
// and delivers a second EventReset. Subscribe fails with an error matching
// ErrUnavailable meanwhile, and callers poll.
//
// The listening session must be a real session: a transaction-pooling
// proxy (PgBouncer in transaction mode) does not keep LISTEN.
package pgnotify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore"
	"github.com/stenthq/stent/ports"
)

// Notifier is the PostgreSQL LISTEN/NOTIFY notifier. It is safe for
// concurrent use.
type Notifier struct {
	pool       *pgxpool.Pool
	connConfig *pgx.ConnConfig
	cfg        notifycore.Config

	// mu guards the fan-out (subscriptions, and how many want each
	// channel) and the listening connection's state below.
	mu        sync.RWMutex
	fan       *notifycore.Fanout
	link      *notifycore.Link
	gen       *listener // the listening connection; nil while disconnected
	dirty     bool      // a channel waits for LISTEN
	interrupt context.CancelCauseFunc

	closeOnce sync.Once
}

var (
	_ ports.Notifier       = (*Notifier)(nil)
	_ ports.NotifierHealth = (*Notifier)(nil)
)

// New returns a notifier publishing through pool, which stays owned by the
// caller (Close does not close it), and listening on a dedicated connection
// opened with pool's connection settings. It waits for that connection up
// to ctx and cfg.ConfirmTimeout: if it cannot be opened, New fails when
// cfg.Required is set, else it logs a warning and returns a notifier that
// keeps reconnecting in the background.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Notifier, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgnotify: New: pool is nil: %w", domain.ErrInvalidArgument)
	}
	core, err := cfg.WithDefaults("pgnotify")
	if err != nil {
		return nil, err
	}
	if core.ApplicationName == "" {
		core.ApplicationName = DefaultApplicationName
	}
	cc := pool.Config().ConnConfig.Copy()
	cc.RuntimeParams["application_name"] = core.ApplicationName
	// Interrupting a wait must leave the connection usable: a deadline does,
	// whatever the pool's own cancellation policy.
	cc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	n := &Notifier{pool: pool, connConfig: cc, cfg: core}
	// A channel nobody wants any more is unlistened lazily, at the next
	// idle health check: no OnGone.
	n.fan = notifycore.NewFanout(&n.mu, notifycore.Options{Buffer: core.BufferSize, Key: n.Channel})
	n.link = notifycore.NewLink(core, notifycore.LinkSpec{Pkg: "pgnotify", Name: "postgres notifier",
		Conn: "listening connection", Fanout: n.fan, Session: n.session})
	if err := n.link.Start(ctx); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

// Prefix returns the channel prefix in use.
func (n *Notifier) Prefix() string { return n.cfg.Prefix }

// Channel returns the PostgreSQL channel that carries topic.
func (n *Notifier) Channel(topic domain.Topic) string {
	return channelName(n.cfg.Prefix, topicKind(topic))
}

// Publish sends ev with pg_notify through the pool, bounded by ctx and
// Config.PublishTimeout. An event whose payload would reach PostgreSQL's
// 8000-byte limit is rejected with ErrInvalidArgument; a database error
// matches ErrUnavailable. The pool does not need the listening connection,
// so Publish works while it is down.
func (n *Notifier) Publish(ctx context.Context, ev domain.Event) error {
	payload, err := n.link.Payload(ev, true)
	if err != nil {
		return err
	}
	if len(payload) >= MaxPayloadBytes {
		return fmt.Errorf("pgnotify: publish on %.80s: the payload is %d bytes; PostgreSQL allows fewer than %d: %w",
			ev.Topic, len(payload), MaxPayloadBytes, domain.ErrInvalidArgument)
	}
	ctx, cancel := n.link.PublishContext(ctx)
	defer cancel()
	if _, err := n.pool.Exec(ctx, "SELECT pg_notify($1, $2)", n.Channel(ev.Topic), string(payload)); err != nil {
		return fmt.Errorf("pgnotify: publish on %.80s: %w: %w", ev.Topic, domain.ErrUnavailable, err)
	}
	return nil
}

// Subscribe subscribes to topics and returns once their channels are
// listened to. It fails with an error matching ErrUnavailable while the
// listening connection is down or when LISTEN does not complete within
// Config.ConfirmTimeout, and with ErrClosed after Close.
func (n *Notifier) Subscribe(ctx context.Context, topics ...domain.Topic) (ports.Subscription, error) {
	n.mu.Lock()
	s, _, err := n.link.Subscribe(topics)
	if err != nil {
		n.mu.Unlock()
		return nil, err
	}
	l := n.gen // up: the listening connection is ready
	var pending []chan struct{}
	for _, c := range s.Keys() {
		st := l.channels[c]
		if st == nil {
			st = &channelState{done: make(chan struct{})}
			l.channels[c] = st
			n.dirty = true
		}
		if !st.listening {
			pending = append(pending, st.done)
		}
	}
	if len(pending) > 0 && n.interrupt != nil {
		n.interrupt(errWake)
		n.interrupt = nil
	}
	n.mu.Unlock()
	if len(pending) == 0 {
		return s, nil
	}

	timer := time.NewTimer(n.cfg.ConfirmTimeout)
	defer timer.Stop()
	for _, done := range pending {
		var err error
		select {
		case <-done:
			continue
		case <-l.lost:
			err = fmt.Errorf("%w: the listening connection was lost before LISTEN ran", domain.ErrUnavailable)
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
			err = fmt.Errorf("%w: LISTEN did not run within %v", domain.ErrUnavailable, n.cfg.ConfirmTimeout)
		}
		return nil, fmt.Errorf("pgnotify: subscribe: %w", s.Abandon(err))
	}
	return s, nil
}

// Close ends every subscription (their channels are closed) and the
// listening connection. The pool passed to New is not closed. Idempotent.
func (n *Notifier) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.fan.Close()
		n.mu.Unlock()
		n.link.Stop()
	})
	return nil
}

// Malformed returns how many received payloads were ignored because they
// did not decode to an event of their channel.
func (n *Notifier) Malformed() uint64 { return n.link.MalformedCount() }

// Health returns nil while the listening connection is up and listening,
// else an error matching ErrUnavailable that says why.
func (n *Notifier) Health() error { return n.link.Health() }

// route decodes a notification and hands it to its topic's subscribers.
func (n *Notifier) route(channel, payload string) {
	ev, err := n.decodeEvent(channel, payload)
	if err != nil {
		n.link.Malformed(channel, payload, err)
		return
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	n.fan.Deliver(ev)
}
