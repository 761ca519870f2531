package localwake_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/localwake"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// recorder is a notifier that hands every published event to a channel
// (the in-process notifier the adapter wraps).
type recorder struct {
	events chan domain.Event
	mu     sync.Mutex
	closed int
}

func newRecorder() *recorder { return &recorder{events: make(chan domain.Event, 64)} }

func (r *recorder) Publish(_ context.Context, ev domain.Event) error {
	r.events <- ev
	return nil
}

func (r *recorder) Subscribe(context.Context, ...domain.Topic) (ports.Subscription, error) {
	return nil, errors.New("not used")
}

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return nil
}

// next returns the next event r received; a generous bound only keeps a
// broken test from hanging.
func (r *recorder) next(t *testing.T) domain.Event {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event arrived")
		return domain.Event{}
	}
}

func dbIn(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "stent.sqlite")
}

func listen(t *testing.T, inner ports.Notifier, db string) *localwake.Listener {
	t.Helper()
	l, err := localwake.Listen(inner, localwake.Config{DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestAnEventPublishedByTheCLIReachesTheServiceNotifier(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	served, cli := newRecorder(), newRecorder()
	l := listen(t, served, db)
	s, err := localwake.NewSender(cli, localwake.Config{DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := domain.Event{Kind: domain.EventTask, Topic: domain.TopicReady, ID: "t-1", ExecutionID: "e-1", Queue: "q", Function: "f", At: at}
	if err := s.Publish(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if got := cli.next(t); got.ID != "t-1" || got.Topic != domain.TopicReady {
		t.Errorf("the CLI's own notifier got %+v", got)
	}
	got := served.next(t)
	want := ev
	want.V = domain.EventVersion
	if !got.At.Equal(want.At) {
		t.Errorf("at %s; want %s", got.At, want.At)
	}
	got.At = want.At
	if got != want {
		t.Errorf("the service's notifier got %+v; want %+v", got, want)
	}
	if s.Peers() != 1 {
		t.Errorf("the sender sends to %d listeners; want 1 (%s)", s.Peers(), l.Addr())
	}
}

func TestTheWakeFileLivesAsLongAsTheListener(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	inner := newRecorder()
	l, err := localwake.Listen(inner, localwake.Config{DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr())
	if want := db + "-wake-" + port; l.File() != want {
		t.Errorf("wake file %s; want %s", l.File(), want)
	}
	b, err := os.ReadFile(l.File())
	if err != nil || string(b) != l.Addr()+"\n" {
		t.Errorf("wake file holds %q (%v); want %s", b, err, l.Addr())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.File()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left the wake file (%v)", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	if inner.closed == 0 {
		t.Error("Close did not close the wrapped notifier")
	}
}

func TestAStaleWakeFileIsRemovedAndALiveOneKept(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	live := listen(t, newRecorder(), db)
	// A port nobody listens on: take one and free it.
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	stale := db + "-wake-" + strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port)
	_ = c.Close()
	if err := os.WriteFile(stale, []byte("gone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := listen(t, newRecorder(), db)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale wake file is still there (%v)", err)
	}
	for _, l := range []*localwake.Listener{live, second} {
		if _, err := os.Stat(l.File()); err != nil {
			t.Errorf("a live wake file is gone: %v", err)
		}
	}
}

func TestEveryListenerOfTheDatabaseIsWoken(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	a, b := newRecorder(), newRecorder()
	listen(t, a, db)
	listen(t, b, db)
	// Another database's listener in the same directory hears nothing.
	other := newRecorder()
	listen(t, other, filepath.Join(filepath.Dir(db), "other.sqlite"))
	s, err := localwake.NewSender(newRecorder(), localwake.Config{DBPath: db})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Publish(t.Context(), domain.Event{Kind: domain.EventExecution, Topic: domain.TopicCancel, ExecutionID: "e-9"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*recorder{a, b} {
		if ev := r.next(t); ev.ExecutionID != "e-9" || ev.Topic != domain.TopicCancel {
			t.Errorf("got %+v", ev)
		}
	}
	if s.Peers() != 2 {
		t.Errorf("the sender sends to %d listeners; want 2", s.Peers())
	}
	select {
	case ev := <-other.events:
		t.Errorf("another database's listener got %+v", ev)
	default:
	}
}

func TestWithoutAListenerPublishingIsStillFine(t *testing.T) {
	t.Parallel()
	inner := newRecorder()
	s, err := localwake.NewSender(inner, localwake.Config{DBPath: dbIn(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(t.Context(), domain.Event{Kind: domain.EventTask, Topic: domain.TopicReady}); err != nil {
		t.Errorf("Publish without a listener: %v", err)
	}
	inner.next(t)
	if s.Peers() != 0 {
		t.Errorf("peers %d; want 0", s.Peers())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAMalformedDatagramIsIgnored(t *testing.T) {
	t.Parallel()
	db := dbIn(t)
	inner := newRecorder()
	l := listen(t, inner, db)
	addr, err := net.ResolveUDPAddr("udp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, junk := range []string{"", "not json", `{"v":1,"kind":"task"}`, `{"v":99,"kind":"task","topic":"ready"}`,
		`{"v":1,"kind":"task","topic":"ready","id":"ok"}`} {
		if _, err := c.Write([]byte(junk)); err != nil {
			t.Fatal(err)
		}
	}
	// Only the well-formed datagram, the last one sent, arrives.
	if ev := inner.next(t); ev.ID != "ok" {
		t.Errorf("got %+v; want only the well-formed event", ev)
	}
}

func TestBadConfigIsRefused(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		func() error { _, err := localwake.Listen(nil, localwake.Config{DBPath: "x"}); return err }(),
		func() error { _, err := localwake.Listen(newRecorder(), localwake.Config{}); return err }(),
		func() error { _, err := localwake.NewSender(newRecorder(), localwake.Config{}); return err }(),
	} {
		if !errors.Is(err, domain.ErrInvalidArgument) {
			t.Errorf("got %v; want ErrInvalidArgument", err)
		}
	}
}
