package contract

import (
	"fmt"
	"testing"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

func notifSubscriptions(t *testing.T, s notifSuite) {
	s.run(t, "nothing is delivered after unsubscribe", func(t *testing.T, p NotifierPair) {
		topic := domain.TaskTopic(notifID())
		gone, stays := notifSubscribe(t, p.A, topic), notifSubscribe(t, p.A, topic)
		if err := gone.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := gone.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		notifPublish(t, p.B, notifEvent(topic, "after"))
		notifExpect(t, stays, "after")
		notifExpectClosed(t, gone)
	})

	s.run(t, "a topic unsubscribed and subscribed again delivers again", func(t *testing.T, p NotifierPair) {
		topic := domain.TaskTopic(notifID())
		for i := range 20 {
			first := notifSubscribe(t, p.A, topic)
			_ = first.Close()
			again := notifSubscribe(t, p.A, topic)
			id := fmt.Sprint("again-", i)
			notifPublish(t, p.B, notifEvent(topic, id))
			notifExpect(t, again, id)
			_ = again.Close()
		}
	})

	s.run(t, "a subscription to no topic is valid and closes cleanly", func(t *testing.T, p NotifierPair) {
		sub := notifSubscribe(t, p.A)
		if err := sub.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		notifExpectClosed(t, sub)
	})

	s.run(t, "a subscriber that stops reading is told with a reset and holds up nobody", func(t *testing.T, p NotifierPair) {
		busy, other := domain.TaskTopic(notifID()), domain.TaskTopic(notifID())
		slow := notifSubscribe(t, p.A, busy)
		fast := notifSubscribe(t, p.A, other)
		for i := range 500 {
			notifPublish(t, p.B, notifEvent(busy, fmt.Sprint(i)))
		}
		notifPublish(t, p.B, notifEvent(other, "not-held-up"))
		notifExpect(t, fast, "not-held-up")
		// The 500 events were fanned out before "not-held-up": the slow
		// subscriber's buffer overflowed and holds a reset.
		sawReset := false
		for len(slow.Events()) > 0 {
			ev := <-slow.Events()
			sawReset = sawReset || ev.Kind == domain.EventReset
		}
		if !sawReset {
			t.Fatal("a subscriber that missed events must be told with an EventReset")
		}
	})

	s.run(t, "200 concurrent subscriptions share one listening connection", func(t *testing.T, p NotifierPair) {
		if p.ListenConns == nil {
			t.Skipf("%s: the pair has no ListenConns hook", s.caps.Name)
		}
		const n = 200
		subs := make(chan ports.Subscription, n)
		errs := make(chan error, n)
		topics := make([]domain.Topic, n)
		for i := range topics {
			topics[i] = domain.TaskTopic(notifID())
		}
		for _, topic := range topics {
			go func() {
				sub, err := p.A.Subscribe(t.Context(), topic, domain.TopicReady)
				if err != nil {
					errs <- err
					return
				}
				subs <- sub
			}()
		}
		var all []ports.Subscription
		for range n {
			select {
			case err := <-errs:
				t.Fatalf("Subscribe: %v", err)
			case sub := <-subs:
				t.Cleanup(func() { _ = sub.Close() })
				all = append(all, sub)
			}
		}
		if got := p.ListenConns(t); got != 1 {
			t.Fatalf("%d subscriptions use %d listening connections, want 1", n, got)
		}
		notifPublish(t, p.B, notifEvent(domain.TopicReady, "to-all"))
		for _, sub := range all {
			notifExpect(t, sub, "to-all")
		}
	})
}

func notifClose(t *testing.T, s notifSuite) {
	s.run(t, "Close ends every subscription and later calls fail with ErrClosed", func(t *testing.T, p NotifierPair) {
		topic := domain.TaskTopic(notifID())
		one := notifSubscribe(t, p.A, topic)
		many := notifSubscribe(t, p.A, topic, domain.TopicReady, domain.TopicCancel)
		if err := p.A.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		notifExpectClosed(t, one)
		notifExpectClosed(t, many)
		if err := p.A.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := one.Close(); err != nil {
			t.Fatalf("closing a subscription after its notifier: %v", err)
		}
		_, err := p.A.Subscribe(t.Context(), topic)
		notifWantIs(t, "Subscribe after Close", err, domain.ErrClosed)
		notifWantIs(t, "Publish after Close", p.A.Publish(t.Context(), notifEvent(topic, "late")), domain.ErrClosed)
		if p.B == p.A {
			return
		}
		// Closing one instance leaves the others working.
		sub := notifSubscribe(t, p.B, topic)
		notifPublish(t, p.B, notifEvent(topic, "still-works"))
		notifExpect(t, sub, "still-works")
	})
}

// notifMalformedPayloads are payloads no adapter may deliver: not JSON, no
// kind, an unknown version, a topic other than the channel's, nothing.
var notifMalformedPayloads = []string{
	`not json`,
	`{"v":1}`,
	`{"v":99,"kind":"task","id":"future"}`,
	`{"v":1,"kind":"task","id":"elsewhere","topic":"somewhere:else"}`,
	``,
}

func notifMalformed(t *testing.T, s notifSuite) {
	s.run(t, "malformed payloads are ignored and counted, and later events still arrive", func(t *testing.T, p NotifierPair) {
		if p.InjectRaw == nil {
			t.Skipf("%s: the pair has no InjectRaw hook", s.caps.Name)
		}
		topic := domain.TaskTopic(notifID())
		sub := notifSubscribe(t, p.A, topic)
		for _, raw := range notifMalformedPayloads {
			p.InjectRaw(t, topic, raw)
		}
		notifPublish(t, p.B, notifEvent(topic, "valid"))
		notifExpect(t, sub, "valid")
		if c, ok := p.A.(interface{ Malformed() uint64 }); ok {
			if got := c.Malformed(); got != uint64(len(notifMalformedPayloads)) {
				t.Fatalf("Malformed() = %d, want %d", got, len(notifMalformedPayloads))
			}
		}
	})
}

func notifOutage(t *testing.T, s notifSuite) {
	s.run(t, "subscribers hear of a lost connection and of the reconnection, then delivery resumes", func(t *testing.T, p NotifierPair) {
		if !s.caps.Outage {
			t.Skipf("%s: no outage support (NotifierCaps.Outage)", s.caps.Name)
		}
		if p.Break == nil || p.Restore == nil {
			t.Fatalf("%s: NotifierCaps.Outage needs the pair's Break and Restore", s.caps.Name)
		}
		topic := domain.TaskTopic(notifID())
		onA := notifSubscribe(t, p.A, topic)
		onB := notifSubscribe(t, p.B, topic)
		notifHealthy(t, p.A, true)

		p.Break(t)
		notifExpectReset(t, onA, "the reset announcing the lost connection")
		notifExpectReset(t, onB, "the reset announcing the lost connection")
		if s.caps.DownWhileBroken {
			_, err := p.A.Subscribe(t.Context(), domain.TaskTopic(notifID()))
			notifWantIs(t, "Subscribe during the outage", err, domain.ErrUnavailable)
			if err := p.A.Publish(t.Context(), notifEvent(topic, "lost")); err == nil {
				t.Fatal("Publish during the outage returned nil")
			}
			notifHealthy(t, p.A, false)
		}

		p.Restore(t)
		notifExpectReset(t, onA, "the reset announcing the reconnection")
		notifExpectReset(t, onB, "the reset announcing the reconnection")
		notifHealthy(t, p.A, true)
		// The reconnection reset comes once the subscriptions are active
		// again: what is published now is delivered.
		notifPublish(t, p.A, notifEvent(topic, "after-a"))
		notifExpect(t, onA, "after-a")
		notifExpect(t, onB, "after-a")
		notifPublish(t, p.B, notifEvent(topic, "after-b"))
		notifExpect(t, onA, "after-b")
		notifExpect(t, onB, "after-b")
		fresh := domain.TaskTopic(notifID())
		sub := notifSubscribe(t, p.A, fresh)
		notifPublish(t, p.B, notifEvent(fresh, "fresh"))
		notifExpect(t, sub, "fresh")
	})
}

// notifHealthy checks NotifierHealth, when n implements it.
func notifHealthy(t *testing.T, n ports.Notifier, want bool) {
	t.Helper()
	h, ok := n.(ports.NotifierHealth)
	if !ok {
		return
	}
	err := h.Health()
	switch {
	case want && err != nil:
		t.Fatalf("Health() = %v, want nil", err)
	case !want && err == nil:
		t.Fatal("Health() = nil during the outage")
	case !want:
		notifWantIs(t, "Health during the outage", err, domain.ErrUnavailable)
	}
}
