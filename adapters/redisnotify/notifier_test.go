package redisnotify_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/adapters/redisnotify"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore/notifycoretest"
)

func TestNewValidatesItsConfig(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never connected
	t.Cleanup(func() { _ = client.Close() })
	notifycoretest.CheckNewValidates(t,
		func(cfg redisnotify.Config) error { _, err := redisnotify.New(client, cfg); return err },
		func() error { _, err := redisnotify.New(nil, redisnotify.Config{}); return err })
	t.Run("an application name is rejected: Redis clients are named on their options", func(t *testing.T) {
		t.Parallel()
		_, err := redisnotify.New(client, redisnotify.Config{ApplicationName: "x"})
		if !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), "ClientName") {
			t.Fatalf("New: %v; want ErrInvalidArgument pointing to redis.Options.ClientName", err)
		}
	})
}

func TestZeroConfigUsesTheStentPrefix(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	client := newClient(t, opts, notifycoretest.RandomName("client"))
	n := newNotifier(t, client, redisnotify.Config{})
	if n.Prefix() != "stent:" {
		t.Fatalf("Prefix() = %q", n.Prefix())
	}
	topic := domain.TaskTopic(notifycoretest.RandomName("task"))
	notifycoretest.Subscribe(t, n, topic)
	counts, err := client.PubSubNumSub(t.Context(), "stent:"+string(topic)).Result()
	if err != nil || counts["stent:"+string(topic)] != 1 {
		t.Fatalf("PUBSUB NUMSUB = %v, %v; want one subscriber of stent:%s", counts, err, topic)
	}
}

func TestPublishedPayloadFollowsTheSpec(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	client := newClient(t, opts, notifycoretest.RandomName("client"))
	prefix := notifycoretest.RandomName("prefix") + ":"
	n := newNotifier(t, client, notifycoretest.FastConfig(prefix))
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
	prefix := notifycoretest.RandomName("prefix") + ":"
	n := newNotifier(t, newClient(t, &lagging, notifycoretest.RandomName("lagging")), notifycoretest.FastConfig(prefix))
	direct := newNotifier(t, newClient(t, opts, notifycoretest.RandomName("direct")), notifycoretest.FastConfig(prefix))
	proxy.setDelay(50 * time.Millisecond)
	for range 3 {
		topic := domain.TaskTopic(notifycoretest.RandomName("task"))
		sub, err := n.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		notifycoretest.PublishAndExpect(t, direct, sub, domain.Event{Kind: domain.EventTask, Topic: topic, ID: "x"})
		_ = sub.Close()
	}
}

func TestASilentlyDeadConnectionIsDetectedByTheHealthProbe(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	proxy := startFaultProxy(t, opts.Addr)
	viaProxy := *opts
	viaProxy.Addr = proxy.addr()
	cfg := notifycoretest.FastConfig(notifycoretest.RandomName("prefix") + ":")
	cfg.HealthCheckInterval = 200 * time.Millisecond // a loaded CI machine may stall a reader for tens of ms
	n := newNotifier(t, newClient(t, &viaProxy, notifycoretest.RandomName("probed")), cfg)
	topic := domain.TaskTopic("t")
	sub := notifycoretest.Subscribe(t, n, topic)
	proxy.pause() // nothing flows, nothing is closed
	if ev := notifycoretest.Next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v, want the reset announcing the loss", ev)
	}
	proxy.resume()
	if ev := notifycoretest.Next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v, want the reset announcing the reconnection", ev)
	}
	notifycoretest.PublishAndExpect(t, n, sub, domain.Event{Kind: domain.EventTask, Topic: topic, ID: "back"})
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
		var logs notifycoretest.LogBuffer
		client := redis.NewClient(&redis.Options{Addr: srv.addr()})
		t.Cleanup(func() { _ = client.Close() })
		cfg := notifycoretest.FastConfig(notifycoretest.RandomName("prefix") + ":")
		cfg.Logger = logs.Logger()
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
		notifycoretest.Eventually(t, "the notifier to connect", func() bool { return n.Health() == nil })
		sub := notifycoretest.Subscribe(t, n, domain.TopicReady)
		notifycoretest.PublishAndExpect(t, n, sub, domain.Event{Kind: domain.EventReady, Topic: domain.TopicReady, ID: "up"})
		if c := logs.Count("level=WARN"); c != 1 {
			t.Fatalf("%d warnings, want 1:\n%s", c, logs.String())
		}
	})
}

func TestAnOutageIsLoggedOnce(t *testing.T) {
	t.Parallel()
	redisOptions(t)
	srv := startRedisServer(t)
	var logs notifycoretest.LogBuffer
	client := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { _ = client.Close() })
	cfg := notifycoretest.FastConfig(notifycoretest.RandomName("prefix") + ":")
	cfg.Logger = logs.Logger()
	n := newNotifier(t, client, cfg)
	sub := notifycoretest.Subscribe(t, n, domain.TopicReady)
	srv.stop()
	if ev := notifycoretest.Next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v", ev)
	}
	// Several reconnection attempts fail while these calls fail fast.
	for range 20 {
		if _, err := n.Subscribe(t.Context(), domain.TopicCancel); !errors.Is(err, domain.ErrUnavailable) {
			t.Fatalf("Subscribe during the outage: %v", err)
		}
	}
	srv.restart(t)
	if ev := notifycoretest.Next(t, sub); ev.Kind != domain.EventReset {
		t.Fatalf("got %+v", ev)
	}
	if w, i := logs.Count("level=WARN"), logs.Count("reconnected"); w != 1 || i != 1 {
		t.Fatalf("%d warnings and %d reconnection notes, want 1 and 1:\n%s", w, i, logs.String())
	}
}

func TestMalformedPayloadsAreLoggedOnce(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	var logs notifycoretest.LogBuffer
	client := newClient(t, opts, notifycoretest.RandomName("client"))
	prefix := notifycoretest.RandomName("prefix") + ":"
	cfg := notifycoretest.FastConfig(prefix)
	cfg.Logger = logs.Logger()
	n := newNotifier(t, client, cfg)
	topic := domain.TaskTopic("t")
	sub := notifycoretest.Subscribe(t, n, topic)
	for _, raw := range []string{"{", `{"v":1}`, `[]`} {
		if err := client.Publish(t.Context(), prefix+string(topic), raw).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A payload without "topic" (SPEC §7's field list) is accepted.
	if err := client.Publish(t.Context(), prefix+string(topic), `{"v":1,"kind":"task","id":"bare"}`).Err(); err != nil {
		t.Fatal(err)
	}
	if ev := notifycoretest.Next(t, sub); ev.ID != "bare" || ev.Topic != topic {
		t.Fatalf("got %+v", ev)
	}
	if n.Malformed() != 3 || logs.Count("malformed") != 1 {
		t.Fatalf("Malformed() = %d with %d log lines, want 3 and 1:\n%s", n.Malformed(), logs.Count("malformed"), logs.String())
	}
}

func TestCloseDuringAnOutageReturns(t *testing.T) {
	t.Parallel()
	redisOptions(t)
	srv := startRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { _ = client.Close() })
	n, err := redisnotify.New(client, notifycoretest.FastConfig(notifycoretest.RandomName("prefix")+":"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := n.Subscribe(t.Context(), domain.TopicReady)
	if err != nil {
		t.Fatal(err)
	}
	srv.stop()
	if ev := notifycoretest.Next(t, sub); ev.Kind != domain.EventReset {
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
	n := newNotifier(t, newClient(t, opts, notifycoretest.RandomName("client")), notifycoretest.FastConfig(notifycoretest.RandomName("prefix")+":"))
	topic := domain.TaskTopic("t")
	sub := notifycoretest.Subscribe(t, n, topic)
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := n.Subscribe(expired, domain.TaskTopic("other")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe with an expired context: %v", err)
	}
	notifycoretest.PublishAndExpect(t, n, sub, domain.Event{Kind: domain.EventTask, Topic: topic, ID: "undisturbed"})
}
