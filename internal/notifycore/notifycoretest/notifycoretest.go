// Package notifycoretest holds the test helpers the networked notifiers'
// tests share: a log sink, event waits, fresh names, the fast-reconnecting
// configuration, the configuration checks and the engine-level outage
// scenario. It is imported only from _test.go files (tests/archtest).
package notifycoretest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore"
	"github.com/stenthq/stent/ports"
)

// Wait bounds every wait for an event: generous, so a slow CI machine
// fails only when something is really lost.
const Wait = 15 * time.Second

// LogBuffer is a concurrency-safe log sink.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count returns how many times substr was logged.
func (b *LogBuffer) Count(substr string) int { return strings.Count(b.String(), substr) }

// Logger returns a text logger at level Info writing to b.
func (b *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// Next returns sub's next event, failing after Wait or when sub closes.
func Next(t *testing.T, sub ports.Subscription) domain.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(Wait):
		t.Fatalf("no event within %v", Wait)
	}
	return domain.Event{}
}

// NextReset skips events until a reset arrives.
func NextReset(t *testing.T, sub ports.Subscription) {
	t.Helper()
	for Next(t, sub).Kind != domain.EventReset {
	}
}

// Eventually checks cond on a ticker until it holds; for state with no
// channel to wait on (Health after a reconnection the test did not
// subscribe through).
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(Wait)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// RandomName returns a fresh name for prefixes and connection names, so
// tests sharing one server never meet.
func RandomName(kind string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "stent-test-" + kind + "-" + hex.EncodeToString(b)
}

// FastConfig reconnects quickly, so outage tests finish promptly.
func FastConfig(prefix string) notifycore.Config {
	return notifycore.Config{Prefix: prefix, ReconnectMin: 10 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
}

// Closed fails t on err and closes n when t ends: wrap a constructor,
// Closed(t)(pgnotify.New(ctx, pool, cfg)).
func Closed[N interface{ Close() error }](t *testing.T) func(n N, err error) N {
	return func(n N, err error) N {
		t.Helper()
		if err != nil {
			t.Fatalf("new notifier: %v", err)
		}
		t.Cleanup(func() { _ = n.Close() })
		return n
	}
}

// CheckNewValidates checks that newNotifier (an adapter's New on a
// backend it need not reach) rejects an invalid Config with
// ErrInvalidArgument naming the field, as notifycore.Config.WithDefaults
// does, and that a nil client or pool (newNil) is rejected too.
func CheckNewValidates(t *testing.T, newNotifier func(notifycore.Config) error, newNil func() error) {
	t.Helper()
	if err := newNotifier(notifycore.Config{ReconnectMin: time.Second, ReconnectMax: time.Millisecond}); !errors.Is(err, domain.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "ReconnectMax 1ms is below ReconnectMin 1s") {
		t.Errorf("New with ReconnectMax below ReconnectMin: %v; want ErrInvalidArgument naming both", err)
	}
	if err := newNotifier(notifycore.Config{BufferSize: -3}); !errors.Is(err, domain.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "BufferSize is -3") {
		t.Errorf("New with a negative BufferSize: %v; want ErrInvalidArgument naming it", err)
	}
	if err := newNil(); !errors.Is(err, domain.ErrInvalidArgument) {
		t.Errorf("New without a client: %v; want ErrInvalidArgument", err)
	}
}

// PublishAndExpect publishes ev through n and fails unless sub's next
// event is it (same ID).
func PublishAndExpect(t *testing.T, n ports.Notifier, sub ports.Subscription, ev domain.Event) {
	t.Helper()
	if err := n.Publish(t.Context(), ev); err != nil {
		t.Fatalf("Publish %s: %v", ev.ID, err)
	}
	if got := Next(t, sub); got.ID != ev.ID || got.Topic != ev.Topic {
		t.Fatalf("got %+v, want the event %s on %s", got, ev.ID, ev.Topic)
	}
}

// Subscribe subscribes to topics through n, failing t on error; the
// subscription is closed when t ends.
func Subscribe(t *testing.T, n ports.Notifier, topics ...domain.Topic) ports.Subscription {
	t.Helper()
	sub, err := n.Subscribe(t.Context(), topics...)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topics, err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}
