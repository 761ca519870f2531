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
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Notifier is the PostgreSQL LISTEN/NOTIFY notifier. It is safe for
// concurrent use.
type Notifier struct {
	pool       *pgxpool.Pool
	connConfig *pgx.ConnConfig
	cfg        Config
	log        *slog.Logger

	mu        sync.RWMutex
	closed    bool
	subs      map[*subscription]struct{}
	topics    map[domain.Topic]map[*subscription]struct{}
	wanted    map[string]int // channel -> subscriptions that want it
	gen       *listener      // the listening connection; nil while disconnected
	health    error          // why the notifier is not ready; nil when it is
	dirty     bool           // a channel waits for LISTEN
	interrupt context.CancelCauseFunc

	runCtx    context.Context // cancelled by Close
	runCancel context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	malformed       atomic.Uint64
	malformedLogged atomic.Bool
}

var (
	_ ports.Notifier       = (*Notifier)(nil)
	_ ports.NotifierHealth = (*Notifier)(nil)
)

var errNotConnected = errors.New("not connected yet")

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
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cc := pool.Config().ConnConfig.Copy()
	cc.RuntimeParams["application_name"] = cfg.ApplicationName
	// Interrupting a wait must leave the connection usable: a deadline does,
	// whatever the pool's own cancellation policy.
	cc.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	runCtx, runCancel := context.WithCancel(context.Background())
	n := &Notifier{
		pool: pool, connConfig: cc, cfg: cfg, log: cfg.Logger,
		subs:   map[*subscription]struct{}{},
		topics: map[domain.Topic]map[*subscription]struct{}{},
		wanted: map[string]int{},
		health: errNotConnected,
		runCtx: runCtx, runCancel: runCancel,
	}
	first := make(chan error, 1)
	n.wg.Add(1)
	go n.run(first)
	timer := time.NewTimer(cfg.ConfirmTimeout)
	defer timer.Stop()
	select {
	case err = <-first:
	case <-timer.C:
		err = fmt.Errorf("no connection within %v", cfg.ConfirmTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		if cfg.Required {
			_ = n.Close()
			return nil, fmt.Errorf("pgnotify: the listening connection cannot be opened and Config.Required is set: %w: %w", domain.ErrUnavailable, err)
		}
		n.log.Warn("postgres notifier unreachable at start; waiters poll until it connects", "error", err)
	}
	return n, nil
}

// Prefix returns the channel prefix in use.
func (n *Notifier) Prefix() string { return n.cfg.Prefix }

// Channel returns the PostgreSQL channel that carries topic.
func (n *Notifier) Channel(topic domain.Topic) string {
	return channelName(n.cfg.Prefix, topicKind(topic))
}

// Malformed returns how many received payloads were ignored because they
// did not decode to an event of their channel.
func (n *Notifier) Malformed() uint64 { return n.malformed.Load() }

// Health returns nil while the listening connection is up and listening,
// else an error matching ErrUnavailable that says why.
func (n *Notifier) Health() error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	switch {
	case n.closed:
		return fmt.Errorf("pgnotify: %w", domain.ErrClosed)
	case n.health != nil:
		return fmt.Errorf("pgnotify: %w: %w", domain.ErrUnavailable, n.health)
	}
	return nil
}

// Publish sends ev with pg_notify through the pool, bounded by ctx and
// Config.PublishTimeout. An event whose payload would reach PostgreSQL's
// 8000-byte limit is rejected with ErrInvalidArgument; a database error
// matches ErrUnavailable.
func (n *Notifier) Publish(ctx context.Context, ev domain.Event) error {
	if ev.Topic == "" {
		return fmt.Errorf("pgnotify: publish %s event: empty topic: %w", ev.Kind, domain.ErrInvalidArgument)
	}
	n.mu.RLock()
	closed := n.closed
	n.mu.RUnlock()
	if closed {
		return fmt.Errorf("pgnotify: publish: %w", domain.ErrClosed)
	}
	payload, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	if len(payload) >= MaxPayloadBytes {
		return fmt.Errorf("pgnotify: publish on %.80s: the payload is %d bytes; PostgreSQL allows fewer than %d: %w",
			ev.Topic, len(payload), MaxPayloadBytes, domain.ErrInvalidArgument)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.PublishTimeout)
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
	s := &subscription{n: n, ch: make(chan domain.Event, n.cfg.BufferSize)}
	for _, t := range topics {
		if t == "" {
			return nil, fmt.Errorf("pgnotify: subscribe: empty topic in %q: %w", topics, domain.ErrInvalidArgument)
		}
		if !slices.Contains(s.topics, t) {
			s.topics = append(s.topics, t)
		}
		if c := n.Channel(t); !slices.Contains(s.channels, c) {
			s.channels = append(s.channels, c)
		}
	}

	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, fmt.Errorf("pgnotify: subscribe: %w", domain.ErrClosed)
	}
	l := n.gen
	if l == nil || !l.ready {
		cause := n.health
		n.mu.Unlock()
		return nil, fmt.Errorf("pgnotify: subscribe: %w: %w", domain.ErrUnavailable, cause)
	}
	n.subs[s] = struct{}{}
	for _, t := range s.topics {
		set := n.topics[t]
		if set == nil {
			set = map[*subscription]struct{}{}
			n.topics[t] = set
		}
		set[s] = struct{}{}
	}
	var pending []chan struct{}
	for _, c := range s.channels {
		n.wanted[c]++
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
		_ = s.Close()
		n.mu.RLock()
		closed := n.closed
		n.mu.RUnlock()
		if closed {
			return nil, fmt.Errorf("pgnotify: subscribe: %w", domain.ErrClosed)
		}
		return nil, fmt.Errorf("pgnotify: subscribe: %w", err)
	}
	return s, nil
}

// Close ends every subscription (their channels are closed) and the
// listening connection. The pool passed to New is not closed. Idempotent.
func (n *Notifier) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		for s := range n.subs {
			s.closed = true
			close(s.ch)
		}
		n.subs, n.topics = nil, nil
		n.mu.Unlock()
		n.runCancel()
		n.wg.Wait()
	})
	return nil
}

// route decodes a notification and hands it to its topic's subscribers.
func (n *Notifier) route(channel, payload string) {
	ev, err := decodeEvent(payload)
	if err == nil && n.Channel(ev.Topic) != channel {
		err = fmt.Errorf("topic %q does not belong to channel %q", ev.Topic, channel)
	}
	if err != nil {
		n.malformed.Add(1)
		if !n.malformedLogged.Swap(true) {
			const maxShown = 200
			if len(payload) > maxShown {
				payload = payload[:maxShown] + "..."
			}
			n.log.Warn("postgres notifier ignored a malformed payload (further ones are only counted)",
				"channel", channel, "payload", payload, "error", err)
		}
		return
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	for s := range n.topics[ev.Topic] {
		s.deliver(ev)
	}
}

// resetAll tells every subscriber that events may have been missed.
func (n *Notifier) resetAll() {
	n.mu.RLock()
	defer n.mu.RUnlock()
	ev := resetEvent()
	for s := range n.subs {
		s.deliver(ev)
	}
}
