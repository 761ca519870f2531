package pgnotify_test

import (
	"testing"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore/notifycoretest"
	"github.com/stenthq/stent/tests/contract"
)

// TestNotifierContract runs the notifier contract: every pair has its own
// prefix and application names on one small pool; Break terminates A's and
// B's listening sessions with pg_terminate_backend.
func TestNotifierContract(t *testing.T) {
	t.Parallel()
	pool := newPool(t, testDSN(t))
	contract.RunNotifier(t, func(t *testing.T) contract.NotifierPair {
		prefix := notifycoretest.RandomName("prefix") + ":"
		appA, appB := notifycoretest.RandomName("listener-a"), notifycoretest.RandomName("listener-b")
		a := newNotifier(t, pool, fastConfig(prefix, appA))
		b := newNotifier(t, pool, fastConfig(prefix, appB))
		return contract.NotifierPair{
			A:     a,
			B:     b,
			Other: newNotifier(t, pool, fastConfig(notifycoretest.RandomName("other")+":", notifycoretest.RandomName("listener-other"))),
			Break: func(t *testing.T) {
				if n := terminate(t, pool, appA, appB); n != 2 {
					t.Fatalf("terminated %d listening sessions, want 2", n)
				}
			},
			Restore: func(*testing.T) {}, // the server stayed up: the notifiers reconnect on their own
			InjectRaw: func(t *testing.T, topic domain.Topic, payload string) {
				if _, err := pool.Exec(t.Context(), "SELECT pg_notify($1, $2)", a.Channel(topic), payload); err != nil {
					t.Fatalf("raw pg_notify: %v", err)
				}
			},
			ListenConns: func(t *testing.T) int { return sessions(t, pool, appA) },
		}
	}, contract.NotifierCaps{Name: "postgres", Outage: true})
}
