package notifycore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore"
	"github.com/stenthq/stent/internal/notifycore/notifycoretest"
)

// fakeBackend drives a Link: every session takes its outcome from dials
// (an error, or nil to come up), then serves until drop or ctx ends.
type fakeBackend struct {
	x     *fanout
	link  *notifycore.Link
	dials chan error
	drop  chan error
	logs  notifycoretest.LogBuffer
}

func newFakeBackend(t *testing.T, cfg notifycore.Config) *fakeBackend {
	t.Helper()
	b := &fakeBackend{x: newFanout(8, nil), dials: make(chan error, 16), drop: make(chan error)}
	cfg.Logger = b.logs.Logger()
	cfg, err := cfg.WithDefaults("fake")
	if err != nil {
		t.Fatal(err)
	}
	b.link = notifycore.NewLink(cfg, notifycore.LinkSpec{Pkg: "fake", Name: "fake notifier", Conn: "wire",
		Fanout: b.x.f, Session: b.session})
	return b
}

func (b *fakeBackend) session(ctx context.Context, ready func()) error {
	var err error
	select {
	case err = <-b.dials:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	b.x.mu.Lock()
	b.link.SetUp()
	b.x.mu.Unlock()
	ready()
	select {
	case err = <-b.drop:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.x.mu.Lock()
	b.link.SetDown(err)
	b.x.mu.Unlock()
	b.link.Lost()
	return err
}

func (b *fakeBackend) close() {
	b.x.mu.Lock()
	b.x.f.Close()
	b.x.mu.Unlock()
	b.link.Stop()
}

func TestLinkReconnects(t *testing.T) {
	t.Parallel()
	b := newFakeBackend(t, notifycore.Config{ReconnectMin: time.Millisecond, ReconnectMax: 2 * time.Millisecond})
	b.dials <- nil
	if err := b.link.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if err := b.link.Health(); err != nil {
		t.Fatalf("Health() = %v once up", err)
	}
	b.x.mu.Lock()
	sub, _, err := b.link.Subscribe([]domain.Topic{domain.TopicReady})
	b.x.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// Three failed dials after the loss: one warning, then debug lines.
	for range 3 {
		b.dials <- errors.New("refused")
	}
	b.drop <- errors.New("connection reset")
	if ev := notifycoretest.Next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v, want the reset announcing the loss", ev)
	}
	if err := b.link.Health(); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Health() = %v during the outage", err)
	}
	b.x.mu.Lock()
	_, _, err = b.link.Subscribe([]domain.Topic{domain.TopicCancel})
	b.x.mu.Unlock()
	if !errors.Is(err, domain.ErrUnavailable) || !strings.HasPrefix(err.Error(), "fake: subscribe: ") {
		t.Fatalf("Subscribe during the outage: %v", err)
	}
	if _, err := b.link.Payload(domain.Event{Topic: domain.TopicReady}, false); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Payload during the outage: %v", err)
	}
	if _, err := b.link.Payload(domain.Event{Topic: domain.TopicReady}, true); err != nil {
		t.Fatalf("Payload(whileDown) during the outage: %v", err)
	}
	b.dials <- nil
	if ev := notifycoretest.Next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v, want the reset announcing the reconnection", ev)
	}
	if err := b.link.Health(); err != nil {
		t.Fatalf("Health() = %v after the reconnection", err)
	}
	if w, i := b.logs.Count("level=WARN"), b.logs.Count("fake notifier reconnected"); w != 1 || i != 1 {
		t.Fatalf("%d warnings and %d reconnection notes for one outage, want 1 and 1", w, i)
	}
}

func TestLinkStart(t *testing.T) {
	t.Parallel()
	t.Run("a required link that cannot connect fails with ErrUnavailable", func(t *testing.T) {
		t.Parallel()
		b := newFakeBackend(t, notifycore.Config{Required: true, ReconnectMin: time.Hour})
		b.dials <- errors.New("refused by 10.0.0.1")
		err := b.link.Start(t.Context())
		b.close()
		if !errors.Is(err, domain.ErrUnavailable) || !strings.Contains(err.Error(), "refused by 10.0.0.1") ||
			!strings.HasPrefix(err.Error(), "fake: ") {
			t.Fatalf("Start: %v", err)
		}
	})
	t.Run("otherwise it warns once and stays down until a session is ready", func(t *testing.T) {
		t.Parallel()
		b := newFakeBackend(t, notifycore.Config{ReconnectMin: time.Hour})
		b.dials <- errors.New("refused")
		if err := b.link.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := b.link.Health(); !errors.Is(err, domain.ErrUnavailable) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("Health() = %v", err)
		}
		b.close()
		b.close()
		if err := b.link.Health(); !errors.Is(err, domain.ErrClosed) {
			t.Fatalf("Health() after Close = %v", err)
		}
		if _, err := b.link.Payload(domain.Event{Topic: domain.TopicReady}, true); !errors.Is(err, domain.ErrClosed) {
			t.Fatalf("Payload after Close: %v", err)
		}
		if c := b.logs.Count("level=WARN"); c != 1 {
			t.Fatalf("%d warnings, want 1", c)
		}
	})
	t.Run("waits no longer than its context", func(t *testing.T) {
		t.Parallel()
		b := newFakeBackend(t, notifycore.Config{Required: true})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := b.link.Start(ctx)
		b.close()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Start: %v", err)
		}
	})
}

func TestLinkPayloadAndMalformed(t *testing.T) {
	t.Parallel()
	b := newFakeBackend(t, notifycore.Config{})
	b.dials <- nil
	if err := b.link.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if _, err := b.link.Payload(domain.Event{Kind: domain.EventTask}, false); !errors.Is(err, domain.ErrInvalidArgument) {
		t.Fatalf("Payload without a topic: %v", err)
	}
	for range 3 {
		b.link.Malformed("ch", strings.Repeat("x", 300), errors.New("bad"))
	}
	if b.link.MalformedCount() != 3 || b.logs.Count("malformed") != 1 || b.logs.Count(strings.Repeat("x", 201)) != 0 {
		t.Fatalf("MalformedCount() = %d with %d log lines; want 3, one line, the payload cut", b.link.MalformedCount(), b.logs.Count("malformed"))
	}
}

func TestASessionEndingWithoutACauseLeavesTheNotifierDown(t *testing.T) {
	t.Parallel()
	b := newFakeBackend(t, notifycore.Config{ReconnectMin: time.Hour})
	b.dials <- nil
	if err := b.link.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer b.close()
	b.x.mu.Lock()
	sub, _, err := b.link.Subscribe([]domain.Topic{domain.TopicReady})
	b.x.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	b.drop <- nil
	if ev := notifycoretest.Next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v, want the reset announcing the loss", ev)
	}
	if err := b.link.Health(); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Health() = %v after the session ended; want ErrUnavailable", err)
	}
}
