package notifycore

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Fanout hands events to local subscriptions by topic without ever
// blocking: each subscription has a buffered channel, and when it is full
// its oldest event is replaced by an EventReset, which tells the
// subscriber it missed events and should re-read everything.
//
// A Fanout can also count, per key, how many subscriptions want it: the
// key is what the backend subscribes to (a Redis channel per topic, a
// PostgreSQL channel per topic kind), so Subscribe reports the keys that
// became wanted and a subscription's Close hands the keys nobody wants any
// more to Options.OnGone.
//
// The owner's mutex guards it: Subscribe, Close and the queries need the
// write lock (queries at least the read lock); Deliver and ResetAll only
// the read lock, because they never change the fan-out and a channel is
// closed only under the write lock, so a send never meets a closed channel.
type Fanout struct {
	mu     *sync.RWMutex
	opts   Options
	closed bool
	subs   map[*Subscription]struct{}
	topics map[domain.Topic]map[*Subscription]struct{}
	keys   map[string]int // key -> subscriptions that want it
}

// Options configure a Fanout.
type Options struct {
	// Buffer is how many events a subscription may have pending; at least 1.
	Buffer int
	// Key maps a topic to the backend resource it needs; nil tracks no keys.
	Key func(domain.Topic) string
	// OnGone, when set, receives the keys no subscription wants any more
	// after a subscription closed, with the owner's write lock held; it
	// must not take that lock.
	OnGone func(keys []string)
}

// NewFanout returns a fan-out guarded by mu.
func NewFanout(mu *sync.RWMutex, opts Options) *Fanout {
	opts.Buffer = max(opts.Buffer, 1)
	return &Fanout{
		mu: mu, opts: opts,
		subs:   map[*Subscription]struct{}{},
		topics: map[domain.Topic]map[*Subscription]struct{}{},
		keys:   map[string]int{},
	}
}

// Subscription is one local subscriber; it implements ports.Subscription.
type Subscription struct {
	f      *Fanout
	topics []domain.Topic // deduplicated
	keys   []string       // their keys, deduplicated
	ch     chan domain.Event
	closed bool // guarded by f.mu
}

var _ ports.Subscription = (*Subscription)(nil)

// CheckTopics returns an error matching ErrInvalidArgument when a topic is
// empty (a networked notifier cannot name its channel).
func CheckTopics(topics []domain.Topic) error {
	if slices.Contains(topics, "") {
		return fmt.Errorf("empty topic in %q: %w", topics, domain.ErrInvalidArgument)
	}
	return nil
}

// Subscribe registers a subscription to topics and returns it with the
// keys no subscription wanted before (in the order of topics). It fails
// with ErrClosed after Close. Write lock.
func (f *Fanout) Subscribe(topics []domain.Topic) (*Subscription, []string, error) {
	if f.closed {
		return nil, nil, domain.ErrClosed
	}
	s := &Subscription{f: f, ch: make(chan domain.Event, f.opts.Buffer)}
	var fresh []string
	for _, t := range topics {
		if slices.Contains(s.topics, t) {
			continue
		}
		s.topics = append(s.topics, t)
		set := f.topics[t]
		if set == nil {
			set = map[*Subscription]struct{}{}
			f.topics[t] = set
		}
		set[s] = struct{}{}
		if f.opts.Key == nil {
			continue
		}
		if k := f.opts.Key(t); !slices.Contains(s.keys, k) {
			s.keys = append(s.keys, k)
			if f.keys[k]++; f.keys[k] == 1 {
				fresh = append(fresh, k)
			}
		}
	}
	f.subs[s] = struct{}{}
	return s, fresh, nil
}

// Deliver hands ev to the subscriptions of ev.Topic without blocking; a
// full subscription gets its oldest event replaced by an EventReset
// naming ev's topic and time. Read lock.
func (f *Fanout) Deliver(ev domain.Event) {
	for s := range f.topics[ev.Topic] {
		s.deliver(ev, domain.Event{V: domain.EventVersion, Kind: domain.EventReset, Topic: ev.Topic, At: ev.At})
	}
}

// ResetAll tells every subscription that events may have been missed (the
// backend connection was lost or is back). Read lock.
func (f *Fanout) ResetAll(at time.Time) {
	ev := domain.Event{V: domain.EventVersion, Kind: domain.EventReset, At: at}
	for s := range f.subs {
		s.deliver(ev, ev)
	}
}

// Close closes every subscription's channel; later Subscribe calls fail
// with ErrClosed. Idempotent. Write lock.
func (f *Fanout) Close() {
	if f.closed {
		return
	}
	f.closed = true
	for s := range f.subs {
		s.closed = true
		close(s.ch)
	}
	f.subs, f.topics, f.keys = nil, nil, nil
}

// Closed reports whether Close ran. Read lock.
func (f *Fanout) Closed() bool { return f.closed }

// Wanted reports whether a subscription wants key. Read lock.
func (f *Fanout) Wanted(key string) bool { return f.keys[key] > 0 }

// Keys returns every wanted key, in no particular order. Read lock.
func (f *Fanout) Keys() []string {
	keys := make([]string, 0, len(f.keys))
	for k := range f.keys {
		keys = append(keys, k)
	}
	return keys
}

// Events delivers the subscribed events, plus EventReset after a
// connection loss, a reconnection or an overflow. Closed by Close.
func (s *Subscription) Events() <-chan domain.Event { return s.ch }

// Keys returns the keys of the subscription's topics, deduplicated.
func (s *Subscription) Keys() []string { return s.keys }

// Close ends the subscription: its channel is closed, and the keys nobody
// wants any more go to Options.OnGone. It takes the owner's write lock.
// Idempotent, and a no-op after the Fanout closed.
func (s *Subscription) Close() error {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.ch)
	delete(f.subs, s)
	for _, t := range s.topics {
		set := f.topics[t]
		delete(set, s)
		if len(set) == 0 {
			delete(f.topics, t)
		}
	}
	var gone []string
	for _, k := range s.keys {
		if f.keys[k]--; f.keys[k] <= 0 {
			delete(f.keys, k)
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 && f.opts.OnGone != nil {
		f.opts.OnGone(gone)
	}
	return nil
}

// Abandon closes a subscription whose backend confirmation failed with
// err, and returns err, or ErrClosed when the notifier closed meanwhile
// (the failure is then the close's doing). Takes the owner's lock.
func (s *Subscription) Abandon(err error) error {
	_ = s.Close()
	s.f.mu.RLock()
	defer s.f.mu.RUnlock()
	if s.f.closed {
		return domain.ErrClosed
	}
	return err
}

// deliver hands ev to s without blocking; when s's buffer is full, its
// oldest pending event is replaced by reset.
func (s *Subscription) deliver(ev, reset domain.Event) {
	select {
	case s.ch <- ev:
		return
	default:
	}
	select {
	case <-s.ch:
	default:
	}
	select {
	case s.ch <- reset:
	default:
	}
}
