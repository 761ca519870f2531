package pgnotify_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/adapters/pgnotify"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore/notifycoretest"
)

func TestNewValidatesItsConfig(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(t.Context(), "postgres://nobody@127.0.0.1:1/none") // never connected
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	notifycoretest.CheckNewValidates(t,
		func(cfg pgnotify.Config) error { _, err := pgnotify.New(t.Context(), pool, cfg); return err },
		func() error { _, err := pgnotify.New(t.Context(), nil, pgnotify.Config{}); return err })
}

func TestChannelNames(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(t.Context(), "postgres://nobody@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	newN := func(prefix string) *pgnotify.Notifier {
		// Not required: nothing listens on port 1, and channel names need
		// no connection.
		n, err := pgnotify.New(t.Context(), pool, pgnotify.Config{Prefix: prefix, ConfirmTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		return n
	}
	n := newN("")
	long := newN(strings.Repeat("é", 40) + "-one:")
	long2 := newN(strings.Repeat("é", 40) + "-two:")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"a task topic maps to the task channel under the default prefix", n.Channel(domain.TaskTopic("42")), "stent:task"},
		{"an execution topic maps to the execution channel", n.Channel(domain.ExecutionTopic("42")), "stent:execution"},
		{"the ready topic has its own channel", n.Channel(domain.TopicReady), "stent:ready"},
		{"the cancel topic has its own channel", n.Channel(domain.TopicCancel), "stent:cancel"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	accented := newN("stent-é:")
	for _, c := range []string{long.Channel(domain.TopicReady), long2.Channel(domain.TopicReady), accented.Channel(domain.TopicReady)} {
		if len(c) > 63 || strings.IndexFunc(c, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
			t.Errorf("channel %q is %d bytes or not printable ASCII; want at most 63 ASCII bytes", c, len(c))
		}
	}
	if a, plain := accented.Channel(domain.TopicReady), newN("stent-e:").Channel(domain.TopicReady); a == plain {
		t.Errorf("prefixes stent-é: and stent-e: share channel %q", a)
	}
	if long.Channel(domain.TopicReady) == long2.Channel(domain.TopicReady) {
		t.Error("long prefixes that differ only past 63 bytes must still get distinct channels")
	}
}

func TestLongPrefixesStayApart(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	base := strings.Repeat("é", 40) + notifycoretest.RandomName("p")
	one := newNotifier(t, pool, fastConfig(base+"-one:", notifycoretest.RandomName("one")))
	two := newNotifier(t, pool, fastConfig(base+"-two:", notifycoretest.RandomName("two")))
	topic := domain.TaskTopic("t")
	subOne := notifycoretest.Subscribe(t, one, topic)
	subTwo := notifycoretest.Subscribe(t, two, topic)
	notifycoretest.PublishAndExpect(t, one, subOne, domain.Event{Kind: domain.EventTask, Topic: topic, ID: "for-one"})
	notifycoretest.PublishAndExpect(t, two, subTwo, domain.Event{Kind: domain.EventTask, Topic: topic, ID: "for-two"})
}

func TestAnOversizedPayloadIsRejected(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	n := newNotifier(t, pool, fastConfig(notifycoretest.RandomName("prefix")+":", notifycoretest.RandomName("app")))
	err := n.Publish(t.Context(), domain.Event{Kind: domain.EventTask, Topic: domain.TaskTopic("t"), ID: strings.Repeat("x", 9000)})
	if !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), "8000") {
		t.Fatalf("Publish: %v; want ErrInvalidArgument naming the 8000-byte limit", err)
	}
}

func TestPostgresUnreachableAtStart(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	pool, err := pgxpool.New(t.Context(), "postgres://postgres@"+addr+"/test?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	t.Run("is an error when the notifier is required", func(t *testing.T) {
		t.Parallel()
		_, err := pgnotify.New(t.Context(), pool, pgnotify.Config{Required: true, ConfirmTimeout: time.Second})
		if !errors.Is(err, domain.ErrUnavailable) || !strings.Contains(err.Error(), addr) {
			t.Fatalf("New: %v; want ErrUnavailable naming %s", err, addr)
		}
	})
	t.Run("otherwise warns once and degrades to polling", func(t *testing.T) {
		t.Parallel()
		var logs notifycoretest.LogBuffer
		cfg := fastConfig("", "")
		cfg.Logger = logs.Logger()
		n := newNotifier(t, pool, cfg)
		if err := n.Health(); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Health() = %v", err)
		}
		if _, err := n.Subscribe(t.Context(), domain.TopicReady); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Subscribe: %v", err)
		}
		if err := n.Publish(t.Context(), domain.Event{Kind: domain.EventReady, Topic: domain.TopicReady}); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Publish: %v", err)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if c := logs.Count("level=WARN"); c != 1 {
			t.Fatalf("%d warnings, want 1:\n%s", c, logs.String())
		}
	})
}

func TestMalformedPayloadsAreLoggedOnce(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	var logs notifycoretest.LogBuffer
	cfg := fastConfig(notifycoretest.RandomName("prefix")+":", notifycoretest.RandomName("app"))
	cfg.Logger = logs.Logger()
	n := newNotifier(t, pool, cfg)
	topic := domain.TaskTopic("t")
	sub := notifycoretest.Subscribe(t, n, topic)
	// No topic: on a shared channel the reader cannot route it.
	for _, raw := range []string{"{", `{"v":1,"kind":"task","id":"bare"}`, `[]`} {
		if _, err := pool.Exec(t.Context(), "SELECT pg_notify($1, $2)", n.Channel(topic), raw); err != nil {
			t.Fatal(err)
		}
	}
	notifycoretest.PublishAndExpect(t, n, sub, domain.Event{Kind: domain.EventTask, Topic: topic, ID: "ok"})
	if n.Malformed() != 3 || logs.Count("malformed") != 1 {
		t.Fatalf("Malformed() = %d with %d log lines, want 3 and 1:\n%s", n.Malformed(), logs.Count("malformed"), logs.String())
	}
}

func TestTheListeningSessionIsNamedAndReconnectsAfterTermination(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	var logs notifycoretest.LogBuffer
	app := notifycoretest.RandomName("app")
	cfg := fastConfig(notifycoretest.RandomName("prefix")+":", app)
	cfg.Logger = logs.Logger()
	n := newNotifier(t, pool, cfg)
	sub := notifycoretest.Subscribe(t, n, domain.TopicReady)
	if got := sessions(t, pool, app); got != 1 {
		t.Fatalf("%d sessions named %s, want 1", got, app)
	}
	for round := range 3 {
		if got := terminate(t, pool, app); got != 1 {
			t.Fatalf("round %d: terminated %d sessions", round, got)
		}
		for range 2 { // lost, then reconnected
			if ev := notifycoretest.Next(t, sub); ev.Kind != domain.EventReset {
				t.Fatalf("round %d: got %+v, want a reset", round, ev)
			}
		}
		notifycoretest.PublishAndExpect(t, n, sub, domain.Event{Kind: domain.EventReady, Topic: domain.TopicReady, ID: "back"})
	}
	if w, i := logs.Count("level=WARN"), logs.Count("reconnected"); w != 3 || i != 3 {
		t.Fatalf("%d warnings and %d reconnection notes for 3 outages, want 3 and 3:\n%s", w, i, logs.String())
	}
}

func TestChannelsComingAndGoingAcrossIdleChecksAlwaysDeliver(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	cfg := fastConfig(notifycoretest.RandomName("prefix")+":", notifycoretest.RandomName("app"))
	cfg.HealthCheckInterval = 10 * time.Millisecond
	n := newNotifier(t, pool, cfg)
	// Subscribing again and again to a kind whose channel comes and goes
	// must always deliver, whatever the idle checks do in between.
	for i := range 30 {
		topic := domain.Topic("kind" + string(rune('a'+i%3)) + ":x")
		sub, err := n.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		notifycoretest.PublishAndExpect(t, n, sub, domain.Event{Kind: domain.EventTask, Topic: topic, ID: "e"})
		_ = sub.Close()
	}
	if err := n.Health(); err != nil {
		t.Fatalf("Health() = %v", err)
	}
}
