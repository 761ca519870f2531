package pgnotify

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
)

// TestAnUnwantedChannelIsUnlistenedAtTheNextIdleCheck looks inside: the
// listening connection drops a channel once no subscription wants it.
func TestAnUnwantedChannelIsUnlistenedAtTheNextIdleCheck(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	n, err := New(t.Context(), pool, Config{Prefix: "stent-internal-" + time.Now().Format("150405.000000") + ":",
		HealthCheckInterval: 10 * time.Millisecond, Required: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	listened := func(c string) bool {
		n.mu.RLock()
		defer n.mu.RUnlock()
		if n.gen == nil {
			return false
		}
		st := n.gen.channels[c]
		return st != nil && st.listening
	}
	sub, err := n.Subscribe(t.Context(), domain.TaskTopic("a"), domain.TaskTopic("b"))
	if err != nil {
		t.Fatal(err)
	}
	keep, err := n.Subscribe(t.Context(), domain.TopicReady)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	task, ready := n.Channel(domain.TaskTopic("a")), n.Channel(domain.TopicReady)
	if !listened(task) || !listened(ready) {
		t.Fatal("Subscribe returned before LISTEN ran")
	}
	_ = sub.Close()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for listened(task) {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the task channel is still listened to")
		}
	}
	if !listened(ready) {
		t.Fatal("the ready channel, still wanted, was unlistened")
	}
}
