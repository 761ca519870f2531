package redisnotify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/domain"
)

// generation is one pub/sub connection, from its dial to its loss. A lost
// generation is never reused: go-redis's own silent reconnection is cut
// short by closing the PubSub, and the notifier dials a new generation,
// so it always knows when events may have been missed.
type generation struct {
	ps         *redis.PubSub
	readyToken string // PING payload whose PONG confirms the resubscription

	// Guarded by Notifier.mu.
	ready    bool              // resubscribed, announced with an EventReset
	sent     map[string]uint64 // SUBSCRIBE commands written per channel
	acked    map[string]uint64 // subscribe confirmations read per channel
	progress chan struct{}     // closed and replaced on every confirmation

	received atomic.Uint64 // replies read; the health probe watches it
	dead     chan struct{}
	deadOnce sync.Once
	cause    error // why it died; written once before dead is closed
}

// kill ends the generation: its reader's Receive fails and the notifier
// reconnects. Idempotent.
func (g *generation) kill(cause error) {
	g.deadOnce.Do(func() {
		g.cause = cause
		close(g.dead)
		_ = g.ps.Close()
	})
}

func (g *generation) alive() bool {
	select {
	case <-g.dead:
		return false
	default:
		return true
	}
}

var generationSeq atomic.Uint64

// run owns the connection: it connects, reads until the connection fails,
// tells the subscribers, and reconnects with backoff, until Close. first
// receives the outcome of the first attempt (nil once the connection is
// ready).
func (n *Notifier) run(first chan<- error) {
	defer n.wg.Done()
	report := func(err error) {
		if first != nil {
			first <- err
			first = nil
		}
	}
	backoff := n.cfg.ReconnectMin
	outage := false // an outage is in progress and was logged
	for {
		g, err := n.connect()
		if err == nil {
			err = n.serve(g, func() {
				if outage {
					n.log.Info("redis notifier reconnected; subscriptions restored")
					outage = false
				}
				n.resetAll()
				report(nil)
				backoff = n.cfg.ReconnectMin
			})
			n.lost(g, err)
		}
		select {
		case <-n.stop:
			return
		default:
		}
		n.mu.Lock()
		n.health = err
		n.mu.Unlock()
		if first == nil && !outage {
			n.log.Warn("redis notifier lost its connection; waiters poll until it reconnects", "error", err)
		} else {
			n.log.Debug("redis notifier reconnection failed", "error", err, "retry_in", backoff)
		}
		outage = true
		report(err)
		timer := time.NewTimer(backoff)
		select {
		case <-n.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(backoff*2, n.cfg.ReconnectMax)
	}
}

// connect dials a new pub/sub connection, then subscribes every channel
// local subscribers want, followed by a PING whose PONG tells the reader
// that all those subscriptions are active.
func (n *Notifier) connect() (*generation, error) {
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ConfirmTimeout)
	defer cancel()
	ps := n.client.Subscribe(ctx) // no channels: no I/O yet
	// Dial outside n.mu, so Subscribe and Close never wait on a dial.
	if err := ps.Ping(ctx, "stent:dial"); err != nil {
		_ = ps.Close()
		return nil, err
	}
	g := &generation{
		ps:         ps,
		readyToken: fmt.Sprintf("stent:ready:%d", generationSeq.Add(1)),
		sent:       map[string]uint64{},
		acked:      map[string]uint64{},
		progress:   make(chan struct{}),
		dead:       make(chan struct{}),
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_ = ps.Close()
		return nil, domain.ErrClosed
	}
	var err error
	if channels := slices.Collect(maps.Keys(n.channels)); len(channels) > 0 {
		err = ps.Subscribe(ctx, channels...)
		for _, c := range channels {
			g.sent[c]++
		}
	}
	if err == nil {
		err = ps.Ping(ctx, g.readyToken)
	}
	if err == nil {
		n.gen = g // not ready yet: Subscribe keeps failing until the PONG
	}
	n.mu.Unlock()
	if err != nil {
		g.kill(err)
		return nil, err
	}
	return g, nil
}

// serve reads g until it fails and returns why. onReady runs once the
// resubscription is confirmed: it logs, tells every subscriber to re-read
// (an EventReset), then lets New return after a first connection.
func (n *Notifier) serve(g *generation, onReady func()) error {
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		n.probe(g)
	}()
	defer func() { <-probeDone }()
	ctx := context.Background()
	for {
		msg, err := g.ps.Receive(ctx)
		if err != nil {
			// When kill came first (probe, failed write, Close), its cause
			// explains the failure better than the closed connection.
			g.kill(err)
			return g.cause
		}
		g.received.Add(1)
		switch m := msg.(type) {
		case *redis.Message:
			n.route(m.Channel, m.Payload)
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				n.mu.Lock()
				g.acked[m.Channel]++
				close(g.progress)
				g.progress = make(chan struct{})
				n.mu.Unlock()
			}
		case *redis.Pong:
			if m.Payload == g.readyToken && n.markReady(g) {
				onReady()
			}
		}
	}
}

// markReady makes g the ready connection; false if it was replaced.
func (n *Notifier) markReady(g *generation) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gen != g || n.closed {
		return false
	}
	g.ready = true
	n.health = nil
	return true
}

// lost retires g after its reader failed; subscribers that had been told
// the connection was up are told it is gone.
func (n *Notifier) lost(g *generation, err error) {
	g.kill(err)
	n.mu.Lock()
	wasReady := g.ready && !n.closed
	if n.gen == g {
		n.gen = nil
	}
	n.mu.Unlock()
	if wasReady {
		n.resetAll()
	}
}

// probe PINGs the connection every HealthCheckInterval and kills it when a
// probe got no reply by the next tick (a silently dead connection).
func (n *Notifier) probe(g *generation) {
	t := time.NewTicker(n.cfg.HealthCheckInterval)
	defer t.Stop()
	var seen uint64
	probing := false
	for {
		select {
		case <-g.dead:
			return
		case <-t.C:
		}
		now := g.received.Load()
		if probing && now == seen {
			g.kill(fmt.Errorf("no reply to a health probe within %v", n.cfg.HealthCheckInterval))
			return
		}
		seen, probing = now, true
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ConfirmTimeout)
		err := g.ps.Ping(ctx, "stent:probe")
		cancel()
		if err != nil {
			g.kill(err)
			return
		}
	}
}
