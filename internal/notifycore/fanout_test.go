package notifycore_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore"
)

// fanout is a Fanout with its lock, used the way a notifier uses it.
type fanout struct {
	mu   sync.RWMutex
	f    *notifycore.Fanout
	gone [][]string
}

func newFanout(buffer int, key func(domain.Topic) string) *fanout {
	x := &fanout{}
	x.f = notifycore.NewFanout(&x.mu, notifycore.Options{Buffer: buffer, Key: key,
		OnGone: func(keys []string) { x.gone = append(x.gone, keys) }})
	return x
}

func (x *fanout) subscribe(t *testing.T, topics ...domain.Topic) (*notifycore.Subscription, []string) {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	s, fresh, err := x.f.Subscribe(topics)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topics, err)
	}
	return s, fresh
}

func (x *fanout) deliver(ev domain.Event) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.f.Deliver(ev)
}

// pending drains what s holds without waiting.
func pending(s *notifycore.Subscription) []domain.Event {
	var evs []domain.Event
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// kind maps "task:1" to "task", as PostgreSQL channels do.
func kind(t domain.Topic) string {
	k, _, _ := strings.Cut(string(t), ":")
	return k
}

func TestFanoutDelivery(t *testing.T) {
	t.Parallel()
	t.Run("an event reaches every subscription of its topic and no other", func(t *testing.T) {
		t.Parallel()
		x := newFanout(8, nil)
		a, _ := x.subscribe(t, domain.TaskTopic("1"))
		b, _ := x.subscribe(t, domain.TaskTopic("1"), domain.TaskTopic("2"), domain.TaskTopic("1"))
		c, _ := x.subscribe(t, domain.TaskTopic("3"))
		x.deliver(domain.Event{Kind: domain.EventTask, Topic: domain.TaskTopic("1"), ID: "1"})
		for name, s := range map[string]*notifycore.Subscription{"a": a, "b": b} {
			if evs := pending(s); len(evs) != 1 || evs[0].ID != "1" {
				t.Errorf("%s got %+v, want the one event", name, evs)
			}
		}
		if evs := pending(c); len(evs) != 0 {
			t.Errorf("cross-talk: %+v", evs)
		}
	})
	t.Run("a full subscription gets its oldest event replaced by a reset naming the topic", func(t *testing.T) {
		t.Parallel()
		x := newFanout(3, nil)
		s, _ := x.subscribe(t, domain.TopicReady)
		at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		for i := range 4 {
			x.deliver(domain.Event{Kind: domain.EventReady, Topic: domain.TopicReady, ID: string(rune('a' + i)), At: at})
		}
		evs := pending(s)
		want := domain.Event{V: domain.EventVersion, Kind: domain.EventReset, Topic: domain.TopicReady, At: at}
		if len(evs) != 3 || evs[0].ID != "b" || evs[1].ID != "c" || evs[2] != want {
			t.Fatalf("got %+v; want b, c, then %+v", evs, want)
		}
	})
	t.Run("ResetAll reaches every subscription once", func(t *testing.T) {
		t.Parallel()
		x := newFanout(8, nil)
		a, _ := x.subscribe(t, domain.TopicReady, domain.TopicCancel)
		b, _ := x.subscribe(t, domain.TaskTopic("1"))
		at := time.Now().UTC()
		x.mu.RLock()
		x.f.ResetAll(at)
		x.mu.RUnlock()
		for _, s := range []*notifycore.Subscription{a, b} {
			if evs := pending(s); len(evs) != 1 || evs[0].Kind != domain.EventReset || !evs[0].At.Equal(at) {
				t.Errorf("got %+v, want one reset", evs)
			}
		}
	})
}

func TestFanoutKeys(t *testing.T) {
	t.Parallel()
	x := newFanout(8, kind)
	a, fresh := x.subscribe(t, domain.TaskTopic("1"), domain.TaskTopic("2"), domain.TopicReady)
	if !slices.Equal(fresh, []string{"task", "ready"}) || !slices.Equal(a.Keys(), []string{"task", "ready"}) {
		t.Fatalf("fresh %q, keys %q; want task and ready once each", fresh, a.Keys())
	}
	b, fresh := x.subscribe(t, domain.TaskTopic("3"), domain.TopicCancel)
	if !slices.Equal(fresh, []string{"cancel"}) || !slices.Equal(b.Keys(), []string{"task", "cancel"}) {
		t.Fatalf("fresh %q, keys %q; want only cancel fresh", fresh, b.Keys())
	}
	x.mu.RLock()
	keys := x.f.Keys()
	x.mu.RUnlock()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"cancel", "ready", "task"}) {
		t.Fatalf("Keys() = %q", keys)
	}
	_ = a.Close()
	_ = a.Close()
	if len(x.gone) != 1 || !slices.Equal(x.gone[0], []string{"ready"}) {
		t.Fatalf("gone after the first close: %q; want ready alone (task is still wanted)", x.gone)
	}
	_ = b.Close()
	if len(x.gone) != 2 || !slices.Equal(x.gone[1], []string{"task", "cancel"}) {
		t.Fatalf("gone after the second close: %q", x.gone)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.f.Wanted("task") || len(x.f.Keys()) != 0 {
		t.Fatal("keys outlived their subscriptions")
	}
}

func TestFanoutClose(t *testing.T) {
	t.Parallel()
	t.Run("a closed subscription's channel is closed and gets nothing more", func(t *testing.T) {
		t.Parallel()
		x := newFanout(8, nil)
		s, _ := x.subscribe(t, domain.TopicReady)
		_ = s.Close()
		x.deliver(domain.Event{Topic: domain.TopicReady})
		if _, open := <-s.Events(); open {
			t.Fatal("the channel should be closed")
		}
	})
	t.Run("Close ends every subscription, once, and Subscribe then fails with ErrClosed", func(t *testing.T) {
		t.Parallel()
		x := newFanout(8, kind)
		a, _ := x.subscribe(t, domain.TopicReady, domain.TaskTopic("1"))
		b, _ := x.subscribe(t, domain.TopicReady)
		x.mu.Lock()
		x.f.Close()
		x.f.Close()
		closed := x.f.Closed()
		_, _, err := x.f.Subscribe([]domain.Topic{domain.TopicReady})
		x.mu.Unlock()
		if !closed || err != domain.ErrClosed {
			t.Fatalf("Closed() = %v, Subscribe: %v; want true and ErrClosed", closed, err)
		}
		for _, s := range []*notifycore.Subscription{a, b} {
			if _, open := <-s.Events(); open {
				t.Fatal("the channel should be closed")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if len(x.gone) != 0 {
			t.Fatalf("OnGone ran after Close: %q", x.gone)
		}
	})
	t.Run("Abandon closes the subscription and reports the close that caused the failure", func(t *testing.T) {
		t.Parallel()
		x := newFanout(8, nil)
		s, _ := x.subscribe(t, domain.TopicReady)
		cause := errors.New("no confirmation")
		if err := s.Abandon(cause); err != cause {
			t.Fatalf("Abandon: %v, want the cause", err)
		}
		if _, open := <-s.Events(); open {
			t.Fatal("the channel should be closed")
		}
		s2, _ := x.subscribe(t, domain.TopicReady)
		x.mu.Lock()
		x.f.Close()
		x.mu.Unlock()
		if err := s2.Abandon(cause); err != domain.ErrClosed {
			t.Fatalf("Abandon after Close: %v, want ErrClosed", err)
		}
	})
}

func TestCheckTopicsRejectsAnEmptyTopic(t *testing.T) {
	t.Parallel()
	if err := notifycore.CheckTopics([]domain.Topic{domain.TopicReady, ""}); !errors.Is(err, domain.ErrInvalidArgument) {
		t.Fatalf("CheckTopics: %v", err)
	}
	if err := notifycore.CheckTopics([]domain.Topic{domain.TopicReady}); err != nil {
		t.Fatalf("CheckTopics: %v", err)
	}
}
