package pgnotify_test

import (
	"testing"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/internal/notifycore/notifycoretest"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract/scenario"
)

// TestEngineOnMemstore runs the engine scenarios with every engine on its
// own notifier (own prefix, own listening session) sharing one small pool.
func TestEngineOnMemstore(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	scenario.RunEngine(t, func(t *testing.T) ports.Store {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, scenario.EngineCaps{Name: "memstore + postgres notifier",
		Notifier: func(t *testing.T) ports.Notifier {
			return newNotifier(t, pool, fastConfig(notifycoretest.RandomName("prefix")+":", notifycoretest.RandomName("engine")))
		}})
}

// TestEngineRidesOutALostListener terminates the listening session while a
// wait is in progress: the wait finishes, and the engine's events reach
// subscribers again after the notifier reconnects by itself.
func TestEngineRidesOutALostListener(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	appName := notifycoretest.RandomName("engine")
	notifycoretest.RideOutAnOutage(t, notifycoretest.Outage{
		Notifier: newNotifier(t, pool, fastConfig(notifycoretest.RandomName("prefix")+":", appName)),
		Break: func(t *testing.T) {
			if got := terminate(t, pool, appName); got != 1 {
				t.Fatalf("terminated %d sessions", got)
			}
		},
	})
}
