// Package notifycore is what the three notifiers share: the fan-out of
// topics to local subscriptions (buffered channels, an EventReset in place
// of what a slow subscriber missed, every channel closed by Close), and,
// for the two networked notifiers (adapters/redisnotify and
// adapters/pgnotify), their configuration, their wire payload, and the
// link that keeps one backend connection alive: reconnection with
// backoff, health, logging, malformed-payload counting.
//
// The in-process notifier (app.LocalNotifier) uses the fan-out alone, so
// this package imports only domain, ports and the standard library
// (tests/archtest enforces it). It holds no backend code: each adapter
// keeps its connection, its channel naming and its confirmation protocol.
//
// Locking: a Fanout is guarded by its owner's sync.RWMutex, given to
// NewFanout, which also guards the owner's connection state, so a
// subscription's registration and the backend command it needs happen
// under one lock. Methods say which lock they need.
package notifycore
