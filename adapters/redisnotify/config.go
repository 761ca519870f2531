package redisnotify

import (
	"log/slog"
	"time"

	"github.com/stenthq/stent/internal/notifycore"
)

// DefaultPrefix is the channel prefix used when Config.Prefix is empty.
const DefaultPrefix = notifycore.DefaultPrefix

// Config tunes the notifier. The zero value works.
//
// Its fields are, in order, those of the settings both networked notifiers
// share (internal/notifycore.Config), which New converts it to.
type Config struct {
	// Prefix is prepended to every topic to form the Redis channel name
	// (e.g. "stent:task:<id>"). Deployments sharing a Redis server use
	// different prefixes to stay apart. Empty means DefaultPrefix.
	Prefix string
	// ConfirmTimeout bounds how long Subscribe waits for Redis to confirm
	// a SUBSCRIBE, how long New waits for the first connection, and how
	// long a health probe may stay unanswered; default 5s.
	ConfirmTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between reconnection
	// attempts (it doubles from min to max); defaults 100ms and 5s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// HealthCheckInterval is how often an idle pub/sub connection is
	// probed with PING, so a silently dead connection is noticed; default
	// 10s.
	HealthCheckInterval time.Duration
	// PublishTimeout bounds one Publish when the caller's context has no
	// earlier deadline; default 2s.
	PublishTimeout time.Duration
	// BufferSize is how many events a subscription may have pending before
	// the oldest is replaced by an EventReset; default 64.
	BufferSize int
	// Required makes New fail (with an error matching ErrUnavailable) when
	// Redis cannot be reached within ConfirmTimeout. Otherwise New logs a
	// warning, returns a notifier that keeps reconnecting in the
	// background, and callers poll meanwhile.
	Required bool
	// Logger receives the notifier's warnings (connection lost, malformed
	// payloads; each logged once per occurrence); nil discards.
	Logger *slog.Logger
}
