package redisnotify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/adapters/redisnotify"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

const wait = 15 * time.Second

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(substr string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), substr)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// next returns sub's next event, failing after wait.
func next(t *testing.T, sub ports.Subscription) domain.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(wait):
		t.Fatalf("no event within %v", wait)
	}
	return domain.Event{}
}

// eventually checks cond on a ticker until it holds; for state with no
// channel to wait on (Health after a reconnection the test did not
// subscribe through).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(wait)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() })
	tests := []struct {
		name string
		cfg  redisnotify.Config
		want string
	}{
		{"a negative confirm timeout", redisnotify.Config{ConfirmTimeout: -time.Second}, "ConfirmTimeout is -1s"},
		{"a negative reconnect delay", redisnotify.Config{ReconnectMin: -1}, "ReconnectMin is -1ns"},
		{"a reconnect maximum below the minimum", redisnotify.Config{ReconnectMin: time.Second, ReconnectMax: time.Millisecond}, "ReconnectMax 1ms is below ReconnectMin 1s"},
		{"a negative buffer", redisnotify.Config{BufferSize: -3}, "BufferSize is -3"},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is rejected, naming the value", func(t *testing.T) {
			t.Parallel()
			_, err := redisnotify.New(client, tc.cfg)
			if !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v; want ErrInvalidArgument mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("a nil client is rejected", func(t *testing.T) {
		t.Parallel()
		if _, err := redisnotify.New(nil, redisnotify.Config{}); !errors.Is(err, domain.ErrInvalidArgument) {
			t.Fatalf("New(nil): %v", err)
		}
	})
}

func TestZeroConfigUsesTheStentPrefix(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	client := newClient(t, opts, randomName("client"))
	n := newNotifier(t, client, redisnotify.Config{})
	if n.Prefix() != "stent:" {
		t.Fatalf("Prefix() = %q", n.Prefix())
	}
	topic := domain.TaskTopic(randomName("task"))
	sub, err := n.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	counts, err := client.PubSubNumSub(t.Context(), "stent:"+string(topic)).Result()
	if err != nil || counts["stent:"+string(topic)] != 1 {
		t.Fatalf("PUBSUB NUMSUB = %v, %v; want one subscriber of stent:%s", counts, err, topic)
	}
}

func TestPublishedPayloadFollowsTheSpec(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	client := newClient(t, opts, randomName("client"))
	prefix := randomName("prefix") + ":"
	n := newNotifier(t, client, fastConfig(prefix))
	topic := domain.TaskTopic("t1")
	raw := client.Subscribe(t.Context(), prefix+string(topic))
	defer raw.Close()
	if _, err := raw.Receive(t.Context()); err != nil { // the confirmation
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	if err := n.Publish(t.Context(), domain.Event{Kind: domain.EventTask, Topic: topic, ID: "t1", ExecutionID: "e1",
		State: "completed", Queue: "q", Function: "f", At: at}); err != nil {
		t.Fatal(err)
	}
	msg, err := raw.ReceiveMessage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(msg.Payload), &got); err != nil {
		t.Fatalf("payload %q: %v", msg.Payload, err)
	}
	want := map[string]any{"v": float64(1), "kind": "task", "topic": "task:t1", "id": "t1", "execution_id": "e1",
		"state": "completed", "queue": "q", "function": "f", "at": "2025-01-02T03:04:05.000006Z"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("payload %s = %v, want %v (payload %s)", k, got[k], v, msg.Payload)
		}
	}
}

func TestSubscribeWaitsForTheConfirmation(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	// The subscriber's link lags: its SUBSCRIBE reaches Redis well after
	// Subscribe would return if it did not wait for the confirmation, and
	// the event is published over a direct link in the meantime.
	proxy := startFaultProxy(t, opts.Addr)
	lagging := *opts
	lagging.Addr = proxy.addr()
	prefix := randomName("prefix") + ":"
	n := newNotifier(t, newClient(t, &lagging, randomName("lagging")), fastConfig(prefix))
	direct := newNotifier(t, newClient(t, opts, randomName("direct")), fastConfig(prefix))
	proxy.setDelay(50 * time.Millisecond)
	for i := range 3 {
		topic := domain.TaskTopic(randomName("task"))
		sub, err := n.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		if err := direct.Publish(t.Context(), domain.Event{Kind: domain.EventTask, Topic: topic, ID: "x"}); err != nil {
			t.Fatal(err)
		}
		if ev := next(t, sub); ev.ID != "x" {
			t.Fatalf("round %d: got %+v", i, ev)
		}
		_ = sub.Close()
	}
}

func TestASilentlyDeadConnectionIsDetectedByTheHealthProbe(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	proxy := startFaultProxy(t, opts.Addr)
	viaProxy := *opts
	viaProxy.Addr = proxy.addr()
	cfg := fastConfig(randomName("prefix") + ":")
	cfg.HealthCheckInterval = 20 * time.Millisecond
	n := newNotifier(t, newClient(t, &viaProxy, randomName("probed")), cfg)
	topic := domain.TaskTopic("t")
	sub, err := n.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	proxy.pause() // nothing flows, nothing is closed
	if ev := next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v, want the reset announcing the loss", ev)
	}
	proxy.resume()
	if ev := next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v, want the reset announcing the reconnection", ev)
	}
	if err := n.Publish(t.Context(), domain.Event{Kind: domain.EventTask, Topic: topic, ID: "back"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, sub); ev.ID != "back" {
		t.Fatalf("got %+v", ev)
	}
}

func TestRedisUnreachableAtStart(t *testing.T) {
	t.Parallel()
	redisOptions(t) // same skip rule as the other Redis tests
	t.Run("is an error when the notifier is required", func(t *testing.T) {
		t.Parallel()
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t)) // nothing listens there
		client := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = client.Close() })
		_, err := redisnotify.New(client, redisnotify.Config{Required: true, ConfirmTimeout: time.Second})
		if !errors.Is(err, domain.ErrUnavailable) || !strings.Contains(err.Error(), addr) {
			t.Fatalf("New: %v; want ErrUnavailable naming %s", err, addr)
		}
	})
	t.Run("otherwise warns once, degrades, and connects when Redis comes up", func(t *testing.T) {
		t.Parallel()
		srv := startRedisServer(t)
		srv.stop()
		var logs logBuffer
		client := redis.NewClient(&redis.Options{Addr: srv.addr()})
		t.Cleanup(func() { _ = client.Close() })
		cfg := fastConfig(randomName("prefix") + ":")
		cfg.Logger = logs.logger()
		n := newNotifier(t, client, cfg)
		if err := n.Health(); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Health() = %v", err)
		}
		_, err := n.Subscribe(t.Context(), domain.TopicReady)
		if !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Subscribe: %v", err)
		}
		if err := n.Publish(t.Context(), domain.Event{Kind: domain.EventReady, Topic: domain.TopicReady}); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Publish: %v", err)
		}
		srv.restart(t)
		eventually(t, "the notifier to connect", func() bool { return n.Health() == nil })
		sub, err := n.Subscribe(t.Context(), domain.TopicReady)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if err := n.Publish(t.Context(), domain.Event{Kind: domain.EventReady, Topic: domain.TopicReady, ID: "up"}); err != nil {
			t.Fatal(err)
		}
		if ev := next(t, sub); ev.ID != "up" {
			t.Fatalf("got %+v", ev)
		}
		if c := logs.count("level=WARN"); c != 1 {
			t.Fatalf("%d warnings, want 1:\n%s", c, logs.String())
		}
	})
}

func TestAnOutageIsLoggedOnce(t *testing.T) {
	t.Parallel()
	redisOptions(t)
	srv := startRedisServer(t)
	var logs logBuffer
	client := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { _ = client.Close() })
	cfg := fastConfig(randomName("prefix") + ":")
	cfg.Logger = logs.logger()
	n := newNotifier(t, client, cfg)
	sub, err := n.Subscribe(t.Context(), domain.TopicReady)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	srv.stop()
	if ev := next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v", ev)
	}
	// Several reconnection attempts fail while these calls fail fast.
	for range 20 {
		if _, err := n.Subscribe(t.Context(), domain.TopicCancel); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Subscribe during the outage: %v", err)
		}
	}
	srv.restart(t)
	if ev := next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v", ev)
	}
	if w, i := logs.count("level=WARN"), logs.count("reconnected"); w != 1 || i != 1 {
		t.Fatalf("%d warnings and %d reconnection notes, want 1 and 1:\n%s", w, i, logs.String())
	}
}

func TestMalformedPayloadsAreLoggedOnce(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	var logs logBuffer
	client := newClient(t, opts, randomName("client"))
	prefix := randomName("prefix") + ":"
	cfg := fastConfig(prefix)
	cfg.Logger = logs.logger()
	n := newNotifier(t, client, cfg)
	topic := domain.TaskTopic("t")
	sub, err := n.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, raw := range []string{"{", `{"v":1}`, `[]`} {
		if err := client.Publish(t.Context(), prefix+string(topic), raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A payload without "topic" (SPEC §7's field list) is accepted.
	if err := client.Publish(t.Context(), prefix+string(topic), `{"v":1,"kind":"task","id":"bare"}`).Err(); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, sub); ev.ID != "bare" || ev.Topic != topic {
		t.Fatalf("got %+v", ev)
	}
	if n.Malformed() != 3 || logs.count("malformed") != 1 {
		t.Fatalf("Malformed() = %d with %d log lines, want 3 and 1:\n%s", n.Malformed(), logs.count("malformed"), logs.String())
	}
}

func TestCloseDuringAnOutageReturns(t *testing.T) {
	t.Parallel()
	redisOptions(t)
	srv := startRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { _ = client.Close() })
	n, err := redisnotify.New(client, fastConfig(randomName("prefix")+":"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := n.Subscribe(t.Context(), domain.TopicReady)
	if err != nil {
		t.Fatal(err)
	}
	srv.stop()
	if ev := next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v", ev)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, open := <-sub.Events(); open {
		t.Fatal("the subscription should be closed")
	}
	if err := n.Health(); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("Health after Close = %v", err)
	}
}

func TestASubscribeWithAnExpiredContextFailsAloneAndDisturbsNobody(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	n := newNotifier(t, newClient(t, opts, randomName("client")), fastConfig(randomName("prefix")+":"))
	topic := domain.TaskTopic("t")
	sub, err := n.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := n.Subscribe(expired, domain.TaskTopic("other")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe with an expired context: %v", err)
	}
	if err := n.Publish(t.Context(), domain.Event{Kind: domain.EventTask, Topic: topic, ID: "undisturbed"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, sub); ev.ID != "undisturbed" {
		t.Fatalf("got %+v; the shared connection was disturbed", ev)
	}
}
