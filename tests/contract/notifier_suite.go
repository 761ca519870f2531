package contract

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// NotifierPair is what a notifier factory returns for one subtest: fresh
// notifiers the subtest owns (it may close them), their cleanup registered
// with t.Cleanup. Every subtest gets its own namespace (prefix), so
// subtests run in parallel on one backend.
type NotifierPair struct {
	// A is the notifier under test.
	A ports.Notifier
	// B is a second instance on the same backend and in the same namespace
	// as A (another process of the same deployment): events published on
	// one reach subscribers of both. Nil means A plays both roles.
	B ports.Notifier
	// Other is on the same backend as A but in another namespace (another
	// deployment sharing the server): nothing crosses between them.
	Other ports.Notifier

	// Break cuts A's and B's connections to the backend (for example stops
	// the server, or terminates the listening session); Restore undoes it.
	// Both are required when NotifierCaps.Outage is set.
	Break   func(t *testing.T)
	Restore func(t *testing.T)
	// InjectRaw, when set, publishes payload verbatim on topic's backend
	// channel in A's namespace; it enables the malformed-payload cases.
	InjectRaw func(t *testing.T, topic domain.Topic, payload string)
	// ListenConns, when set, returns how many backend connections A holds
	// to receive notifications; it enables the one-connection case.
	ListenConns func(t *testing.T) int
}

// NotifierCaps describes the notifier under test.
type NotifierCaps struct {
	// Name labels failures.
	Name string
	// Outage runs the connection-loss cases with the pair's Break and
	// Restore.
	Outage bool
	// DownWhileBroken says the backend stays unreachable between Break and
	// Restore (a stopped server), so Subscribe must fail with an error
	// matching ErrUnavailable and Publish must return an error meanwhile.
	// Leave it false when Break only cuts a connection the adapter may
	// re-establish at once.
	DownWhileBroken bool
}

// RunNotifier runs the notifier contract (ports.Notifier's doc comments and
// SPEC §7) against notifiers from newNotifier, which is called once per
// subtest, from parallel subtests. Like Watermill's universal pub/sub
// tests, optional cases run only when the pair provides their hooks.
//
// It assumes a subscription buffers fewer than 500 events, and that events
// published one after another by one instance reach a subscriber in that
// order.
func RunNotifier(t *testing.T, newNotifier func(t *testing.T) NotifierPair, caps NotifierCaps) {
	t.Helper()
	if caps.Name == "" {
		caps.Name = "notifier"
	}
	s := notifSuite{newPair: newNotifier, caps: caps}
	for _, area := range []struct {
		name string
		run  func(*testing.T, notifSuite)
	}{
		{"delivery", notifDelivery},
		{"isolation", notifIsolation},
		{"subscriptions", notifSubscriptions},
		{"close", notifClose},
		{"malformed payloads", notifMalformed},
		{"outage", notifOutage},
	} {
		t.Run(area.name, func(t *testing.T) {
			t.Parallel()
			area.run(t, s)
		})
	}
}

type notifSuite struct {
	newPair func(t *testing.T) NotifierPair
	caps    NotifierCaps
}

// run runs body as a parallel subtest with a fresh pair.
func (s notifSuite) run(t *testing.T, name string, body func(t *testing.T, p NotifierPair)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		p := s.newPair(t)
		if p.A == nil || p.Other == nil {
			t.Fatalf("%s: the factory must set A and Other", s.caps.Name)
		}
		if p.B == nil {
			p.B = p.A
		}
		body(t, p)
	})
}

// notifWait bounds every wait for an event: generous, so a slow CI machine
// fails only when something is really lost.
const notifWait = 15 * time.Second

// notifID returns a fresh random id, so topics never collide.
func notifID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// notifEvent builds an event of kind task on topic, identified by id.
func notifEvent(topic domain.Topic, id string) domain.Event {
	return domain.Event{V: domain.EventVersion, Kind: domain.EventTask, Topic: topic, ID: id,
		At: time.Now().UTC().Truncate(time.Microsecond)}
}

func notifSubscribe(t *testing.T, n ports.Notifier, topics ...domain.Topic) ports.Subscription {
	t.Helper()
	sub, err := n.Subscribe(t.Context(), topics...)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topics, err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func notifPublish(t *testing.T, n ports.Notifier, ev domain.Event) {
	t.Helper()
	if err := n.Publish(t.Context(), ev); err != nil {
		t.Fatalf("Publish(%s, %s): %v", ev.Topic, ev.ID, err)
	}
}

// notifNext returns sub's next event, skipping resets when skipResets is
// set. It fails the test when the channel closes or nothing comes within
// notifWait.
func notifNext(t *testing.T, sub ports.Subscription, skipResets bool, what string) domain.Event {
	t.Helper()
	timer := time.NewTimer(notifWait)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				t.Fatalf("waiting for %s: the subscription channel closed", what)
			}
			if skipResets && ev.Kind == domain.EventReset {
				continue
			}
			return ev
		case <-timer.C:
			t.Fatalf("waiting for %s: nothing within %v", what, notifWait)
		}
	}
}

// notifExpect waits for the event id on sub; any other event (resets
// aside) arriving first is cross-talk and fails the test.
func notifExpect(t *testing.T, sub ports.Subscription, id string) domain.Event {
	t.Helper()
	ev := notifNext(t, sub, true, "event "+id)
	if ev.ID != id {
		t.Fatalf("waiting for event %s, got %s event %q on topic %q", id, ev.Kind, ev.ID, ev.Topic)
	}
	return ev
}

// notifExpectSet waits for the events ids on sub, in any order; any other
// event (resets aside) fails the test.
func notifExpectSet(t *testing.T, sub ports.Subscription, ids ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for len(want) > 0 {
		ev := notifNext(t, sub, true, "events "+strings.Join(ids, ", "))
		if !want[ev.ID] {
			t.Fatalf("waiting for events %v, got %s event %q on topic %q", ids, ev.Kind, ev.ID, ev.Topic)
		}
		delete(want, ev.ID)
	}
}

// notifExpectReset waits for an EventReset on sub, with nothing else
// before it.
func notifExpectReset(t *testing.T, sub ports.Subscription, what string) {
	t.Helper()
	if ev := notifNext(t, sub, false, what); ev.Kind != domain.EventReset {
		t.Fatalf("waiting for %s: got %s event %q instead of a reset", what, ev.Kind, ev.ID)
	}
}

// notifExpectClosed drains sub until its channel closes; an event other
// than a reset fails the test.
func notifExpectClosed(t *testing.T, sub ports.Subscription) {
	t.Helper()
	timer := time.NewTimer(notifWait)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return
			}
			if ev.Kind != domain.EventReset {
				t.Fatalf("a closed subscription delivered %s event %q", ev.Kind, ev.ID)
			}
		case <-timer.C:
			t.Fatalf("the subscription channel was not closed within %v", notifWait)
		}
	}
}

func notifWantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v does not match %v", what, err, target)
	}
}
