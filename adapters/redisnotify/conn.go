package redisnotify

import (
	"context"
	"fmt"
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

// session dials a connection, serves it until it fails and returns why;
// the Link runs it again with backoff. ready runs once the resubscription
// is confirmed.
func (n *Notifier) session(ctx context.Context, ready func()) error {
	g, err := n.connect(ctx)
	if err != nil {
		return err
	}
	err = n.serve(ctx, g, ready)
	n.lost(g, err)
	return err
}

// connect dials a new pub/sub connection, then subscribes every channel
// local subscribers want, followed by a PING whose PONG tells the reader
// that all those subscriptions are active.
func (n *Notifier) connect(ctx context.Context) (*generation, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ConfirmTimeout)
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
	if n.fan.Closed() {
		n.mu.Unlock()
		_ = ps.Close()
		return nil, domain.ErrClosed
	}
	var err error
	if channels := n.fan.Keys(); len(channels) > 0 {
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
// resubscription is confirmed: the Link then tells every subscriber to
// re-read (an EventReset) and lets New return after a first connection.
// The end of ctx (Close) kills g.
func (n *Notifier) serve(ctx context.Context, g *generation, onReady func()) error {
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		n.probe(ctx, g)
	}()
	defer func() { <-probeDone }()
	for {
		// Not ctx: the read ends when g is killed.
		msg, err := g.ps.Receive(context.Background())
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
	if n.gen != g || n.fan.Closed() {
		return false
	}
	g.ready = true
	n.link.SetUp()
	return true
}

// lost retires g after its reader failed; subscribers that had been told
// the connection was up are told it is gone.
func (n *Notifier) lost(g *generation, err error) {
	g.kill(err)
	n.mu.Lock()
	wasReady := g.ready && !n.fan.Closed()
	if n.gen == g {
		n.gen = nil
		n.link.SetDown(err)
	}
	n.mu.Unlock()
	if wasReady {
		n.link.Lost()
	}
}

// probe PINGs the connection every HealthCheckInterval and kills it when a
// probe got no reply by the next tick (a silently dead connection), or
// when ctx ends (Close).
func (n *Notifier) probe(ctx context.Context, g *generation) {
	t := time.NewTicker(n.cfg.HealthCheckInterval)
	defer t.Stop()
	var seen uint64
	probing := false
	for {
		select {
		case <-g.dead:
			return
		case <-ctx.Done():
			g.kill(domain.ErrClosed)
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
