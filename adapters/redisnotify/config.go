package redisnotify

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/stenthq/stent/domain"
)

// DefaultPrefix is the channel prefix used when Config.Prefix is empty.
const DefaultPrefix = "stent:"

// Config tunes the notifier. The zero value works.
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

func (c Config) withDefaults() (Config, error) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ConfirmTimeout", c.ConfirmTimeout}, {"ReconnectMin", c.ReconnectMin}, {"ReconnectMax", c.ReconnectMax},
		{"HealthCheckInterval", c.HealthCheckInterval}, {"PublishTimeout", c.PublishTimeout},
	} {
		if d.v < 0 {
			return c, fmt.Errorf("redisnotify: Config.%s is %v; want a positive duration or 0 for the default: %w",
				d.name, d.v, domain.ErrInvalidArgument)
		}
	}
	if c.BufferSize < 0 {
		return c, fmt.Errorf("redisnotify: Config.BufferSize is %d; want a positive size or 0 for the default: %w",
			c.BufferSize, domain.ErrInvalidArgument)
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.ConfirmTimeout == 0 {
		c.ConfirmTimeout = 5 * time.Second
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = 100 * time.Millisecond
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = max(5*time.Second, c.ReconnectMin)
	}
	if c.ReconnectMax < c.ReconnectMin {
		return c, fmt.Errorf("redisnotify: Config.ReconnectMax %v is below ReconnectMin %v: %w",
			c.ReconnectMax, c.ReconnectMin, domain.ErrInvalidArgument)
	}
	if c.HealthCheckInterval == 0 {
		c.HealthCheckInterval = 10 * time.Second
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 2 * time.Second
	}
	if c.BufferSize == 0 {
		c.BufferSize = 64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
