package contract

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func notifDelivery(t *testing.T, s notifSuite) {
	s.run(t, "an event reaches a subscriber of its topic with every field intact", func(t *testing.T, p NotifierPair) {
		topic := domain.TaskTopic(notifID())
		sub := notifSubscribe(t, p.A, topic)
		want := domain.Event{V: domain.EventVersion, Kind: domain.EventTask, Topic: topic, ID: "task-1",
			ExecutionID: "exec-1", State: "completed", Queue: "payments", Function: "charge",
			At: time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)}
		notifPublish(t, p.A, want)
		got := notifExpect(t, sub, "task-1")
		if got.V != want.V || got.Kind != want.Kind || got.Topic != want.Topic || got.ExecutionID != want.ExecutionID ||
			got.State != want.State || got.Queue != want.Queue || got.Function != want.Function || !got.At.Equal(want.At) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	})

	s.run(t, "an execution event carries its result intact, on either instance", func(t *testing.T, p NotifierPair) {
		id := notifID()
		topic := domain.ExecutionTopic(id)
		// The largest result an event carries, of the characters that grow
		// most on the wire ('<' is escaped as \u003c): it must still fit.
		value := json.RawMessage(`"` + strings.Repeat("<", domain.MaxEventResultBytes-2) + `"`)
		onA, onB := notifSubscribe(t, p.A, topic), notifSubscribe(t, p.B, topic)
		notifPublish(t, p.A, domain.Event{V: domain.EventVersion, Kind: domain.EventExecution, Topic: topic, ID: id,
			ExecutionID: id, State: string(domain.ExecutionCompleted), Result: string(value), At: time.Now()})
		for _, sub := range []ports.Subscription{onA, onB} {
			got := notifExpect(t, sub, id)
			r, ok := got.CompletedResult(id)
			if !ok || !bytes.Equal(r.Value, value) || r.State != domain.ExecutionCompleted || r.ExecutionID != id {
				t.Fatalf("CompletedResult = %+v, %v; want the value %d bytes long", r, ok, len(value))
			}
		}
	})

	s.run(t, "an event published on one instance reaches subscribers on both", func(t *testing.T, p NotifierPair) {
		topic := domain.ExecutionTopic(notifID())
		onA, onB := notifSubscribe(t, p.A, topic), notifSubscribe(t, p.B, topic)
		notifPublish(t, p.B, notifEvent(topic, "from-b"))
		notifExpect(t, onA, "from-b")
		notifExpect(t, onB, "from-b")
		notifPublish(t, p.A, notifEvent(topic, "from-a"))
		notifExpect(t, onA, "from-a")
		notifExpect(t, onB, "from-a")
	})

	s.run(t, "every subscriber of a topic gets each event", func(t *testing.T, p NotifierPair) {
		topic := domain.TaskTopic(notifID())
		var subs []ports.Subscription
		for i := range 5 {
			n := p.A
			if i%2 == 1 {
				n = p.B
			}
			subs = append(subs, notifSubscribe(t, n, topic))
		}
		notifPublish(t, p.A, notifEvent(topic, "e1"))
		notifPublish(t, p.B, notifEvent(topic, "e2"))
		for _, sub := range subs {
			notifExpectSet(t, sub, "e1", "e2") // two publishers: no order between them
		}
	})

	s.run(t, "a subscriber of several topics gets the events of each, tagged with their topic", func(t *testing.T, p NotifierPair) {
		id := notifID()
		topics := []domain.Topic{domain.TaskTopic(id), domain.ExecutionTopic(id), domain.TopicReady, domain.TopicCancel}
		sub := notifSubscribe(t, p.A, topics...)
		for i, topic := range topics {
			notifPublish(t, p.B, notifEvent(topic, string(rune('a'+i))))
		}
		for i, topic := range topics {
			ev := notifExpect(t, sub, string(rune('a'+i)))
			if ev.Topic != topic {
				t.Fatalf("event %s arrived tagged %q, want %q", ev.ID, ev.Topic, topic)
			}
		}
	})

	s.run(t, "an event published right after Subscribe returns is delivered", func(t *testing.T, p NotifierPair) {
		// The subscribe-then-read guarantee: a waiter subscribes, reads the
		// store, then waits; a commit between the subscribe and the read
		// is announced by an event it must get.
		for i := range 40 {
			topic := domain.TaskTopic(notifID())
			sub := notifSubscribe(t, p.A, topic)
			pub := p.B
			if i%2 == 0 {
				pub = p.A
			}
			notifPublish(t, pub, notifEvent(topic, "right-after"))
			notifExpect(t, sub, "right-after")
			_ = sub.Close()
		}
	})

	s.run(t, "a topic listed twice in one subscription delivers each event once", func(t *testing.T, p NotifierPair) {
		topic := domain.TaskTopic(notifID())
		sub := notifSubscribe(t, p.A, topic, topic)
		notifPublish(t, p.B, notifEvent(topic, "once"))
		notifPublish(t, p.B, notifEvent(topic, "sentinel"))
		notifExpect(t, sub, "once")
		notifExpect(t, sub, "sentinel") // a duplicate "once" would come first
	})

	s.run(t, "publishing to a topic nobody subscribes to is fine", func(t *testing.T, p NotifierPair) {
		notifPublish(t, p.A, notifEvent(domain.TaskTopic(notifID()), "nobody"))
		notifPublish(t, p.B, notifEvent(domain.TopicReady, "nobody"))
	})

	s.run(t, "long topic names work", func(t *testing.T, p NotifierPair) {
		long := domain.TaskTopic(strings.Repeat("x", 150) + notifID())
		longClass := domain.Topic(strings.Repeat("y", 100) + notifID())
		sub := notifSubscribe(t, p.A, long, longClass)
		notifPublish(t, p.B, notifEvent(long, "long-id"))
		notifExpect(t, sub, "long-id")
		notifPublish(t, p.B, notifEvent(longClass, "long-class"))
		notifExpect(t, sub, "long-class")
	})

	s.run(t, "200 concurrent waiters each get their own event", func(t *testing.T, p NotifierPair) {
		const waiters = 200
		errs := make(chan string, waiters)
		for i := range waiters {
			go func() {
				sub, pub := p.A, p.B
				if i%2 == 1 {
					sub, pub = p.B, p.A
				}
				id := notifID()
				topic := domain.TaskTopic(id)
				s, err := sub.Subscribe(t.Context(), topic)
				if err != nil {
					errs <- "subscribe: " + err.Error()
					return
				}
				defer func() { _ = s.Close() }()
				if err := pub.Publish(t.Context(), notifEvent(topic, id)); err != nil {
					errs <- "publish: " + err.Error()
					return
				}
				timer := time.NewTimer(notifWait)
				defer timer.Stop()
				for {
					select {
					case ev, ok := <-s.Events():
						switch {
						case !ok:
							errs <- "channel closed"
						case ev.Kind == domain.EventReset:
							continue
						case ev.ID != id:
							errs <- "waiter " + id + " got event " + ev.ID
						default:
							errs <- ""
						}
					case <-timer.C:
						errs <- "waiter " + id + " got nothing"
					}
					return
				}
			}()
		}
		for range waiters {
			if msg := <-errs; msg != "" {
				t.Error(msg)
			}
		}
	})
}

func notifIsolation(t *testing.T, s notifSuite) {
	s.run(t, "no cross-talk between ids or between kinds of topic", func(t *testing.T, p NotifierPair) {
		id := notifID()
		// Ids that are prefixes of each other and one id under two kinds.
		topics := []domain.Topic{domain.TaskTopic(id), domain.TaskTopic(id + "0"), domain.ExecutionTopic(id),
			domain.TaskTopic(id[:8])}
		subs := make([]ports.Subscription, len(topics))
		for i, topic := range topics {
			subs[i] = notifSubscribe(t, p.A, topic)
		}
		for round := range 2 {
			for i, topic := range topics {
				notifPublish(t, p.B, notifEvent(topic, notifIsolationID(round, i)))
			}
		}
		// Each stream holds its own two events, in order, and nothing else.
		for i := range topics {
			notifExpect(t, subs[i], notifIsolationID(0, i))
			notifExpect(t, subs[i], notifIsolationID(1, i))
		}
	})

	s.run(t, "no cross-talk between namespaces", func(t *testing.T, p NotifierPair) {
		topic := domain.TaskTopic(notifID())
		mine, theirs := notifSubscribe(t, p.A, topic, domain.TopicReady), notifSubscribe(t, p.Other, topic, domain.TopicReady)
		notifPublish(t, p.A, notifEvent(topic, "mine-1"))
		notifPublish(t, p.A, notifEvent(domain.TopicReady, "mine-2"))
		notifExpect(t, mine, "mine-1")
		notifExpect(t, mine, "mine-2")
		// Had mine-1 or mine-2 crossed over, it would come before this.
		notifPublish(t, p.Other, notifEvent(topic, "theirs-1"))
		notifExpect(t, theirs, "theirs-1")
		notifPublish(t, p.A, notifEvent(topic, "mine-3"))
		notifExpect(t, mine, "mine-3")
	})
}

func notifIsolationID(round, i int) string {
	return string(rune('a'+round)) + "-" + string(rune('0'+i))
}
