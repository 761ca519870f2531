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
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore"
	"github.com/stenthq/stent/ports"
)

// Notifier is the Redis pub/sub notifier. It is safe for concurrent use.
type Notifier struct {
	client redis.UniversalClient
	cfg    notifycore.Config

	// mu guards the fan-out (subscriptions, and how many want each
	// channel) and the connection's state below.
	mu   sync.RWMutex
	fan  *notifycore.Fanout
	link *notifycore.Link
	gen  *generation // the current connection; nil while disconnected

	closeOnce sync.Once
}

var (
	_ ports.Notifier       = (*Notifier)(nil)
	_ ports.NotifierHealth = (*Notifier)(nil)
)

// New returns a notifier on client, which stays owned by the caller (Close
// does not close it). It opens the pub/sub connection and waits for it up
// to cfg.ConfirmTimeout: if Redis cannot be reached, New fails when
// cfg.Required is set, else it logs a warning and returns a notifier that
// keeps reconnecting in the background.
func New(client redis.UniversalClient, cfg Config) (*Notifier, error) {
	if client == nil {
		return nil, fmt.Errorf("redisnotify: New: client is nil: %w", domain.ErrInvalidArgument)
	}
	if cfg.ApplicationName != "" {
		return nil, fmt.Errorf("redisnotify: Config.ApplicationName is %q; name the Redis client with redis.Options.ClientName instead: %w",
			cfg.ApplicationName, domain.ErrInvalidArgument)
	}
	core, err := cfg.WithDefaults("redisnotify")
	if err != nil {
		return nil, err
	}
	n := &Notifier{client: client, cfg: core}
	n.fan = notifycore.NewFanout(&n.mu, notifycore.Options{Buffer: core.BufferSize, Key: n.channel, OnGone: n.unsubscribe})
	n.link = notifycore.NewLink(core, notifycore.LinkSpec{Pkg: "redisnotify", Name: "redis notifier",
		Conn: "connection", Fanout: n.fan, Session: n.session})
	if err := n.link.Start(context.Background()); err != nil {
		_ = n.Close()
		return nil, err
	}
	return n, nil
}

// Prefix returns the channel prefix in use.
func (n *Notifier) Prefix() string { return n.cfg.Prefix }

// Malformed returns how many received payloads were ignored because they
// did not decode to an event of their channel.
func (n *Notifier) Malformed() uint64 { return n.link.MalformedCount() }

// Health returns nil while the notifier is connected and its subscriptions
// are confirmed, else an error matching ErrUnavailable that says why.
func (n *Notifier) Health() error { return n.link.Health() }

// Publish sends ev on its topic's channel. It fails fast, with an error
// matching ErrUnavailable, while the notifier is disconnected, and is
// otherwise bounded by ctx and Config.PublishTimeout.
func (n *Notifier) Publish(ctx context.Context, ev domain.Event) error {
	payload, err := n.link.Payload(ev, false)
	if err != nil {
		return err
	}
	ctx, cancel := n.link.PublishContext(ctx)
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
	if err := ctx.Err(); err != nil && notifycore.CheckTopics(topics) == nil {
		return nil, fmt.Errorf("redisnotify: subscribe: %w", err)
	}
	n.mu.Lock()
	s, fresh, err := n.link.Subscribe(topics)
	if err != nil {
		n.mu.Unlock()
		return nil, err
	}
	g := n.gen // up: the connection is ready
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
	need := make(map[string]uint64, len(s.Keys()))
	for _, c := range s.Keys() {
		need[c] = g.sent[c]
	}
	n.mu.Unlock()
	if err != nil {
		g.kill(err)
		err = fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
	} else {
		err = n.awaitConfirmation(ctx, g, need)
	}
	if err != nil {
		return nil, fmt.Errorf("redisnotify: subscribe: %w", s.Abandon(err))
	}
	return s, nil
}

// unsubscribe unsubscribes the channels no local subscriber wants any
// more; it runs with n.mu held, when a subscription closes. A failure
// means the connection is broken: it is dropped, and the reconnection
// subscribes only the channels still wanted.
func (n *Notifier) unsubscribe(gone []string) {
	g := n.gen
	if g == nil || !g.alive() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ConfirmTimeout)
	defer cancel()
	if err := g.ps.Unsubscribe(ctx, gone...); err != nil {
		g.kill(err)
	}
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

// Close ends every subscription (their channels are closed) and the
// pub/sub connection. The client passed to New is not closed. Idempotent.
func (n *Notifier) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.fan.Close()
		n.gen = nil
		n.mu.Unlock()
		n.link.Stop() // the session's probe kills the connection
	})
	return nil
}

func (n *Notifier) channel(t domain.Topic) string { return n.cfg.Prefix + string(t) }

// route decodes a message and hands it to its topic's subscribers. A
// payload without "topic" is accepted (publishers that only follow SPEC
// §7's field list); one naming another topic than its channel's is not.
func (n *Notifier) route(channel, payload string) {
	topic, ok := strings.CutPrefix(channel, n.cfg.Prefix)
	ev, err := notifycore.Decode(payload)
	switch {
	case !ok:
		err = errors.New("channel outside the prefix")
	case err != nil:
	case ev.Topic != "" && ev.Topic != domain.Topic(topic):
		err = fmt.Errorf("topic %q arrived on the channel of %q", ev.Topic, topic)
	}
	if err != nil {
		n.link.Malformed(channel, payload, err)
		return
	}
	ev.Topic = domain.Topic(topic)
	n.mu.RLock()
	defer n.mu.RUnlock()
	n.fan.Deliver(ev)
}
