package notifycore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/stenthq/stent/domain"
)

// Link keeps a networked notifier's one backend connection alive and says
// whether it is up. It runs Session again and again, with a backoff that
// doubles from Config.ReconnectMin to ReconnectMax between failures,
// until Stop. Every time a session is ready every subscription gets an
// EventReset (its subscriptions are active again: re-read what may have
// been missed); the session itself resets them when it loses a connection
// it had announced.
//
// The notifier is up (Health is nil) from the moment the session reports
// it ready until it is marked down again; up and down are recorded with
// the Fanout's write lock held, by SetUp and SetDown.
type Link struct {
	spec   LinkSpec
	cfg    Config
	log    *slog.Logger
	health error // nil while up; guarded by the Fanout's lock

	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc
	done   chan struct{}

	malformed       atomic.Uint64
	malformedLogged atomic.Bool
}

// LinkSpec describes one networked notifier to its Link.
type LinkSpec struct {
	// Pkg prefixes errors ("redisnotify").
	Pkg string
	// Name is the subject of log lines ("redis notifier").
	Name string
	// Conn names the connection in log lines ("connection",
	// "listening connection").
	Conn string
	// Fanout is the notifier's fan-out; the Link resets it and shares its
	// lock.
	Fanout *Fanout
	// Session dials the backend, serves the connection until it fails and
	// returns why. It calls ready, from its own goroutine, once the
	// connection is up and every wanted key is subscribed again (after
	// SetUp). ctx ends when the notifier closes.
	Session func(ctx context.Context, ready func()) error
}

var (
	// errNotConnected is the health of a notifier that has not connected yet.
	errNotConnected = errors.New("not connected yet")
	// errSessionEnded stands for a session that ended without saying why:
	// down always has a cause.
	errSessionEnded = errors.New("the connection ended")
)

// NewLink returns a stopped Link; Start starts it.
func NewLink(cfg Config, spec LinkSpec) *Link {
	ctx, cancel := context.WithCancel(context.Background())
	return &Link{spec: spec, cfg: cfg, log: cfg.Logger, health: errNotConnected,
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// Start runs the sessions in the background and waits for the first one
// to be ready, up to ctx and Config.ConfirmTimeout. When it is not, Start
// fails with an error matching ErrUnavailable if Config.Required is set
// (the caller then closes the notifier); otherwise it logs one warning and
// returns nil, and the Link keeps reconnecting while callers poll.
func (l *Link) Start(ctx context.Context) error {
	first := make(chan error, 1)
	go l.run(first)
	timer := time.NewTimer(l.cfg.ConfirmTimeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-first:
	case <-timer.C:
		err = fmt.Errorf("no connection within %v", l.cfg.ConfirmTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		return nil
	}
	if l.cfg.Required {
		return fmt.Errorf("%s: the %s cannot be opened and Config.Required is set: %w: %w",
			l.spec.Pkg, l.spec.Conn, domain.ErrUnavailable, err)
	}
	l.log.Warn(l.spec.Name+" unreachable at start; waiters poll until it connects", "error", err)
	return nil
}

// Stop ends the current session (its ctx is cancelled) and waits for the
// Link's goroutine. Call it after the Fanout closed. Idempotent; a Link
// never started must not be stopped.
func (l *Link) Stop() {
	l.cancel()
	<-l.done
}

// run runs sessions until Stop. first receives the outcome of the first
// attempt.
func (l *Link) run(first chan<- error) {
	defer close(l.done)
	report := func(err error) {
		if first != nil {
			first <- err
			first = nil
		}
	}
	backoff := l.cfg.ReconnectMin
	outage := false // an outage is in progress and was logged
	for {
		err := l.spec.Session(l.ctx, func() {
			if outage {
				l.log.Info(l.spec.Name + " reconnected; subscriptions restored")
				outage = false
			}
			l.resetAll()
			report(nil)
			backoff = l.cfg.ReconnectMin
		})
		if l.ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errSessionEnded
		}
		l.spec.Fanout.mu.Lock()
		l.health = err
		l.spec.Fanout.mu.Unlock()
		if first == nil && !outage {
			l.log.Warn(l.spec.Name+" lost its "+l.spec.Conn+"; waiters poll until it reconnects", "error", err)
		} else {
			l.log.Debug(l.spec.Name+" reconnection failed", "error", err, "retry_in", backoff)
		}
		outage = true
		report(err)
		timer := time.NewTimer(backoff)
		select {
		case <-l.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(backoff*2, l.cfg.ReconnectMax)
	}
}

// Lost tells every subscription that events may have been missed because
// the connection was lost. Takes the read lock.
func (l *Link) Lost() { l.resetAll() }

func (l *Link) resetAll() {
	f := l.spec.Fanout
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.ResetAll(time.Now().UTC())
}

// SetUp marks the notifier up. Write lock.
func (l *Link) SetUp() { l.health = nil }

// SetDown marks the notifier down because of err. Write lock.
func (l *Link) SetDown(err error) {
	if err == nil {
		err = errSessionEnded
	}
	l.health = err
}

// Up reports whether the notifier is up. Read lock.
func (l *Link) Up() bool { return l.health == nil }

// Health returns nil while the notifier is up, else an error matching
// ErrClosed after Close or ErrUnavailable that says why. Takes the read
// lock.
func (l *Link) Health() error {
	f := l.spec.Fanout
	f.mu.RLock()
	defer f.mu.RUnlock()
	switch {
	case f.closed:
		return fmt.Errorf("%s: %w", l.spec.Pkg, domain.ErrClosed)
	case l.health != nil:
		return fmt.Errorf("%s: %w: %w", l.spec.Pkg, domain.ErrUnavailable, l.health)
	}
	return nil
}

// Subscribe validates topics and registers a subscription to them while
// the notifier is up; it returns the keys that became wanted, which the
// caller subscribes on the backend before it releases the lock. It fails
// with ErrInvalidArgument for an empty topic, ErrClosed after Close and
// ErrUnavailable while the notifier is down. Errors are prefixed
// "pkg: subscribe". Write lock.
func (l *Link) Subscribe(topics []domain.Topic) (*Subscription, []string, error) {
	var err error
	switch f := l.spec.Fanout; {
	case CheckTopics(topics) != nil:
		err = CheckTopics(topics)
	case f.closed:
		err = domain.ErrClosed
	case l.health != nil:
		err = fmt.Errorf("%w: %w", domain.ErrUnavailable, l.health)
	default:
		return f.Subscribe(topics)
	}
	return nil, nil, fmt.Errorf("%s: subscribe: %w", l.spec.Pkg, err)
}

// Payload checks that ev can be published and encodes it. It fails with
// ErrInvalidArgument for an empty topic, ErrClosed after Close and, unless
// whileDown, ErrUnavailable while the notifier is down. Takes the read
// lock.
func (l *Link) Payload(ev domain.Event, whileDown bool) ([]byte, error) {
	if ev.Topic == "" {
		return nil, fmt.Errorf("%s: publish %s event: empty topic: %w", l.spec.Pkg, ev.Kind, domain.ErrInvalidArgument)
	}
	f := l.spec.Fanout
	f.mu.RLock()
	closed, cause := f.closed, l.health
	f.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("%s: publish: %w", l.spec.Pkg, domain.ErrClosed)
	}
	if cause != nil && !whileDown {
		return nil, fmt.Errorf("%s: publish on %.80s: %w: %w", l.spec.Pkg, ev.Topic, domain.ErrUnavailable, cause)
	}
	b, err := Encode(ev)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.spec.Pkg, err)
	}
	return b, nil
}

// PublishContext bounds one publish by Config.PublishTimeout.
func (l *Link) PublishContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, l.cfg.PublishTimeout)
}

// Malformed counts a received payload that is not an event of its channel;
// the first one is logged, later ones only counted.
func (l *Link) Malformed(channel, payload string, err error) {
	l.malformed.Add(1)
	if l.malformedLogged.Swap(true) {
		return
	}
	const maxShown = 200
	if len(payload) > maxShown {
		payload = payload[:maxShown] + "..."
	}
	l.log.Warn(l.spec.Name+" ignored a malformed payload (further ones are only counted)",
		"channel", channel, "payload", payload, "error", err)
}

// MalformedCount returns how many payloads Malformed counted.
func (l *Link) MalformedCount() uint64 { return l.malformed.Load() }
