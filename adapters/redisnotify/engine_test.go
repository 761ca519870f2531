package redisnotify_test

import (
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/adapters/sqlstore/sqlitestore"
	"github.com/stenthq/stent/internal/notifycore/notifycoretest"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract/scenario"
)

// engineNotifiers gives every scenario its own notifier, in its own
// namespace, on one shared client.
func engineNotifiers(t *testing.T) func(t *testing.T) ports.Notifier {
	client := newClient(t, redisOptions(t), notifycoretest.RandomName("engine"))
	return func(t *testing.T) ports.Notifier {
		return newNotifier(t, client, notifycoretest.FastConfig(notifycoretest.RandomName("prefix")+":"))
	}
}

func TestEngineOnMemstore(t *testing.T) {
	t.Parallel()
	scenario.RunEngine(t, func(t *testing.T) ports.Store {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, scenario.EngineCaps{Name: "memstore + redis", Notifier: engineNotifiers(t)})
}

func TestEngineOnSQLite(t *testing.T) {
	t.Parallel()
	scenario.RunEngine(t, func(t *testing.T) ports.Store {
		s, err := sqlitestore.Open(t.Context(), sqlitestore.Config{Path: filepath.Join(t.TempDir(), "stent.db")})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, scenario.EngineCaps{Name: "sqlite + redis", Notifier: engineNotifiers(t)})
}

// TestEngineRidesOutARedisOutage stops Redis while a wait is in progress:
// the wait still finishes (by polling), the engine logs the notifier
// failure once, and once Redis is back the engine's events flow again.
func TestEngineRidesOutARedisOutage(t *testing.T) {
	t.Parallel()
	redisOptions(t)
	srv := startRedisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { _ = client.Close() })
	logs := notifycoretest.RideOutAnOutage(t, notifycoretest.Outage{
		Notifier: newNotifier(t, client, notifycoretest.FastConfig(notifycoretest.RandomName("prefix")+":")),
		Break:    func(*testing.T) { srv.stop() },
		Restore:  srv.restart,
	})
	if c := logs.Count("level=WARN"); c != 1 {
		t.Fatalf("the engine logged %d warnings during the outage, want 1:\n%s", c, logs.String())
	}
}
