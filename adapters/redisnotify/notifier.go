// Package redisnotify is the Redis pub/sub Notifier (SPEC §7) on
// github.com/redis/go-redis/v9.
//
// One pub/sub connection per Notifier serves every subscriber of the
// process: each topic is one Redis channel, Prefix+topic, subscribed once
// (reference-counted) however many local subscribers want it. One reader
// goroutine fans messages out to buffered per-subscriber channels and never
// blocks; a subscriber that falls behind gets its oldest pending event
// replaced by an EventReset.
//
// Subscribe returns once Redis has confirmed the SUBSCRIBE, so an event
// published after it returns is delivered. When the connection is lost,
// every subscriber gets an EventReset; the notifier reconnects with
// backoff, subscribes every channel still wanted, and delivers a second
// EventReset once that is confirmed. Subscriptions survive the outage;
// Subscribe and Publish fail fast with an error matching ErrUnavailable
// until the connection is back, and callers poll meanwhile.
package redisnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Notifier is the Redis pub/sub notifier. It is safe for concurrent use.
type Notifier struct {
	client redis.UniversalClient
	cfg    Config
	log    *slog.Logger

	mu       sync.RWMutex
	closed   bool
	subs     map[*subscription]struct{}
	channels map[string]map[*subscription]struct{} // by full channel name
	gen      *generation                           // the current connection; nil while disconnected
	health   error                                 // why the notifier is not ready; nil when it is

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	malformed       atomic.Uint64
	malformedLogged atomic.Bool
}

var (
	_ ports.Notifier       = (*Notifier)(nil)
	_ ports.NotifierHealth = (*Notifier)(nil)
)

// errNotConnected is the health of a notifier that has not connected yet.
var errNotConnected = errors.New("not connected yet")

// New returns a notifier on client, which stays owned by the caller (Close
// does not close it). It opens the pub/sub connection and waits for it up
// to cfg.ConfirmTimeout: if Redis cannot be reached, New fails when
// cfg.Required is set, else it logs a warning and returns a notifier that
// keeps reconnecting in the background.
func New(client redis.UniversalClient, cfg Config) (*Notifier, error) {
	if client == nil {
		return nil, fmt.Errorf("redisnotify: New: client is nil: %w", domain.ErrInvalidArgument)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		client: client, cfg: cfg, log: cfg.Logger,
		subs:     map[*subscription]struct{}{},
		channels: map[string]map[*subscription]struct{}{},
		health:   errNotConnected,
		stop:     make(chan struct{}),
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
	}
	if err != nil {
		if cfg.Required {
			_ = n.Close()
			return nil, fmt.Errorf("redisnotify: redis is unreachable and Config.Required is set: %w: %w", domain.ErrUnavailable, err)
		}
		n.log.Warn("redis notifier unreachable at start; waiters poll until it connects", "error", err)
	}
	return n, nil
}

// Prefix returns the channel prefix in use.
func (n *Notifier) Prefix() string { return n.cfg.Prefix }

// Malformed returns how many received payloads were ignored because they
// did not decode to an event of their channel.
func (n *Notifier) Malformed() uint64 { return n.malformed.Load() }

// Health returns nil while the notifier is connected and its subscriptions
// are confirmed, else an error matching ErrUnavailable that says why.
func (n *Notifier) Health() error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	switch {
	case n.closed:
		return fmt.Errorf("redisnotify: %w", domain.ErrClosed)
	case n.health != nil:
		return fmt.Errorf("redisnotify: %w: %w", domain.ErrUnavailable, n.health)
	}
	return nil
}

// Publish sends ev on its topic's channel. It fails fast, with an error
// matching ErrUnavailable, while the notifier is disconnected, and is
// otherwise bounded by ctx and Config.PublishTimeout.
func (n *Notifier) Publish(ctx context.Context, ev domain.Event) error {
	if ev.Topic == "" {
		return fmt.Errorf("redisnotify: publish %s event: empty topic: %w", ev.Kind, domain.ErrInvalidArgument)
	}
	n.mu.RLock()
	closed, ready, cause := n.closed, n.gen != nil && n.gen.ready, n.health
	n.mu.RUnlock()
	if closed {
		return fmt.Errorf("redisnotify: publish: %w", domain.ErrClosed)
	}
	if !ready {
		return fmt.Errorf("redisnotify: publish on %s: %w: %w", ev.Topic, domain.ErrUnavailable, cause)
	}
	payload, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.PublishTimeout)
	defer cancel()
	if err := n.client.Publish(ctx, n.channel(ev.Topic), payload).Err(); err != nil {
		return fmt.Errorf("redisnotify: publish on %s: %w: %w", ev.Topic, domain.ErrUnavailable, err)
	}
	return nil
}

// Subscribe subscribes to topics and returns once Redis has confirmed every
// channel. It fails with an error matching ErrUnavailable while the
// notifier is disconnected or when the confirmation does not come within
// Config.ConfirmTimeout, and with ErrClosed after Close.
func (n *Notifier) Subscribe(ctx context.Context, topics ...domain.Topic) (ports.Subscription, error) {
	channels := make([]string, 0, len(topics))
	for _, t := range topics {
		if t == "" {
			return nil, fmt.Errorf("redisnotify: subscribe: empty topic in %q: %w", topics, domain.ErrInvalidArgument)
		}
		if c := n.channel(t); !slices.Contains(channels, c) {
			channels = append(channels, c)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisnotify: subscribe: %w", err)
	}
	s := &subscription{n: n, channels: channels, ch: make(chan domain.Event, n.cfg.BufferSize)}

	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, fmt.Errorf("redisnotify: subscribe: %w", domain.ErrClosed)
	}
	g := n.gen
	if g == nil || !g.ready {
		cause := n.health
		n.mu.Unlock()
		return nil, fmt.Errorf("redisnotify: subscribe: %w: %w", domain.ErrUnavailable, cause)
	}
	n.subs[s] = struct{}{}
	var fresh []string
	for _, c := range channels {
		set := n.channels[c]
		if set == nil {
			set = map[*subscription]struct{}{}
			n.channels[c] = set
			fresh = append(fresh, c)
		}
		set[s] = struct{}{}
	}
	var err error
	if len(fresh) > 0 {
		// Not the caller's context: a write cut short by its deadline would
		// break the connection every subscriber shares.
		wctx, cancel := context.WithTimeout(context.Background(), n.cfg.ConfirmTimeout)
		err = g.ps.Subscribe(wctx, fresh...)
		cancel()
		for _, c := range fresh {
			g.sent[c]++
		}
	}
	need := make(map[string]uint64, len(channels))
	for _, c := range channels {
		need[c] = g.sent[c]
	}
	n.mu.Unlock()
	if err != nil {
		g.kill(err)
		return nil, n.failSubscribe(s, fmt.Errorf("%w: %w", domain.ErrUnavailable, err))
	}
	if err := n.awaitConfirmation(ctx, g, need); err != nil {
		return nil, n.failSubscribe(s, err)
	}
	return s, nil
}

// awaitConfirmation waits until Redis has confirmed the need[c]-th
// SUBSCRIBE of every channel c on connection g. Redis answers commands in
// order, so counting confirmations per channel is exact even when a channel
// is unsubscribed and subscribed again in between.
func (n *Notifier) awaitConfirmation(ctx context.Context, g *generation, need map[string]uint64) error {
	timer := time.NewTimer(n.cfg.ConfirmTimeout)
	defer timer.Stop()
	for {
		n.mu.RLock()
		done := true
		for c, seq := range need {
			if g.acked[c] < seq {
				done = false
				break
			}
		}
		progress := g.progress
		n.mu.RUnlock()
		if done {
			return nil
		}
		select {
		case <-progress:
		case <-g.dead:
			return fmt.Errorf("%w: connection lost before the subscription was confirmed", domain.ErrUnavailable)
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("%w: subscription not confirmed within %v", domain.ErrUnavailable, n.cfg.ConfirmTimeout)
		}
	}
}

// failSubscribe undoes a subscription that could not be confirmed.
func (n *Notifier) failSubscribe(s *subscription, err error) error {
	_ = s.Close()
	n.mu.RLock()
	closed := n.closed
	n.mu.RUnlock()
	if closed {
		return fmt.Errorf("redisnotify: subscribe: %w", domain.ErrClosed)
	}
	return fmt.Errorf("redisnotify: subscribe: %w", err)
}

// Close ends every subscription (their channels are closed) and the
// pub/sub connection. The client passed to New is not closed. Idempotent.
func (n *Notifier) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		for s := range n.subs {
			s.closed = true
			close(s.ch)
		}
		n.subs, n.channels = nil, nil
		g := n.gen
		n.gen = nil
		n.mu.Unlock()
		close(n.stop)
		if g != nil {
			g.kill(domain.ErrClosed)
		}
		n.wg.Wait()
	})
	return nil
}

func (n *Notifier) channel(t domain.Topic) string { return n.cfg.Prefix + string(t) }

// route decodes a message and hands it to the channel's subscribers.
func (n *Notifier) route(channel, payload string) {
	topic, ok := strings.CutPrefix(channel, n.cfg.Prefix)
	if !ok {
		n.malformedPayload(channel, payload, errors.New("channel outside the prefix"))
		return
	}
	ev, err := decodeEvent(payload, domain.Topic(topic))
	if err != nil {
		n.malformedPayload(channel, payload, err)
		return
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	for s := range n.channels[channel] {
		s.deliver(ev)
	}
}

// malformedPayload counts a payload that is not an event; the first one is
// logged.
func (n *Notifier) malformedPayload(channel, payload string, err error) {
	n.malformed.Add(1)
	if !n.malformedLogged.Swap(true) {
		const maxShown = 200
		if len(payload) > maxShown {
			payload = payload[:maxShown] + "..."
		}
		n.log.Warn("redis notifier ignored a malformed payload (further ones are only counted)",
			"channel", channel, "payload", payload, "error", err)
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
