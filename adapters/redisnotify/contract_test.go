package redisnotify_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore/notifycoretest"
	"github.com/stenthq/stent/tests/contract"
)

// TestNotifierContract runs the notifier contract on the shared server:
// every pair has its own prefix; A has its own client, named, so CLIENT
// LIST can count its pub/sub connections.
func TestNotifierContract(t *testing.T) {
	t.Parallel()
	opts := redisOptions(t)
	contract.RunNotifier(t, func(t *testing.T) contract.NotifierPair {
		return redisPair(t, opts, nil)
	}, contract.NotifierCaps{Name: "redis"})
}

// TestNotifierContractWithOutages runs the contract again, each pair on a
// private redis-server that Break kills and Restore starts again.
func TestNotifierContractWithOutages(t *testing.T) {
	t.Parallel()
	redisOptions(t) // same skip rule as the other Redis tests
	contract.RunNotifier(t, func(t *testing.T) contract.NotifierPair {
		srv := startRedisServer(t)
		return redisPair(t, &redis.Options{Addr: srv.addr()}, srv)
	}, contract.NotifierCaps{Name: "redis (private server)", Outage: true, DownWhileBroken: true})
}

func redisPair(t *testing.T, opts *redis.Options, srv *redisServer) contract.NotifierPair {
	prefix := notifycoretest.RandomName("prefix") + ":"
	nameA := notifycoretest.RandomName("client-a")
	clientA := newClient(t, opts, nameA)
	clientB := newClient(t, opts, notifycoretest.RandomName("client-b"))
	p := contract.NotifierPair{
		A:     newNotifier(t, clientA, notifycoretest.FastConfig(prefix)),
		B:     newNotifier(t, clientB, notifycoretest.FastConfig(prefix)),
		Other: newNotifier(t, clientB, notifycoretest.FastConfig(notifycoretest.RandomName("other")+":")),
		InjectRaw: func(t *testing.T, topic domain.Topic, payload string) {
			if err := clientB.Publish(t.Context(), prefix+string(topic), payload).Err(); err != nil {
				t.Fatalf("raw PUBLISH: %v", err)
			}
		},
		ListenConns: func(t *testing.T) int { return listeningConns(t, clientB, nameA) },
	}
	if srv != nil {
		p.Break = func(*testing.T) { srv.stop() }
		p.Restore = srv.restart
	}
	return p
}
