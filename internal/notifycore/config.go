package notifycore

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/stenthq/stent/domain"
)

// DefaultPrefix is the channel prefix used when Config.Prefix is empty.
const DefaultPrefix = "stent:"

// Config tunes a networked notifier; redisnotify.Config and
// pgnotify.Config are this type. The zero value works.
type Config struct {
	// Prefix namespaces the backend channels: deployments sharing a server
	// use different prefixes to stay apart. Redis prepends it to every
	// topic ("stent:task:<id>"); PostgreSQL to a topic's kind
	// ("stent:task" carries every task:<id> topic). Empty means
	// DefaultPrefix.
	Prefix string
	// ApplicationName names PostgreSQL's listening connection
	// (application_name, as pg_stat_activity shows it); empty means
	// pgnotify.DefaultApplicationName. redisnotify rejects it: name a
	// Redis client with redis.Options.ClientName.
	ApplicationName string
	// ConfirmTimeout bounds how long New waits for the first connection,
	// how long Subscribe waits for the backend to confirm a subscription
	// (Redis SUBSCRIBE, PostgreSQL LISTEN), and each health probe (and
	// PostgreSQL LISTEN or UNLISTEN); default 5s.
	ConfirmTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between reconnection
	// attempts (it doubles from min to max); defaults 100ms and 5s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// HealthCheckInterval is how often an idle connection is probed, so a
	// silently dead one is noticed (PostgreSQL also unlistens then the
	// channels nobody wants any more); default 10s.
	HealthCheckInterval time.Duration
	// PublishTimeout bounds one Publish when the caller's context has no
	// earlier deadline; default 2s.
	PublishTimeout time.Duration
	// BufferSize is how many events a subscription may have pending before
	// the oldest is replaced by an EventReset; default 64.
	BufferSize int
	// Required makes New fail (with an error matching ErrUnavailable) when
	// the connection cannot be opened within ConfirmTimeout. Otherwise New
	// logs a warning, returns a notifier that keeps reconnecting in the
	// background, and callers poll meanwhile.
	Required bool
	// Logger receives the notifier's warnings (connection lost, malformed
	// payloads; each logged once per occurrence); nil discards.
	Logger *slog.Logger
}

// WithDefaults validates c and fills in the defaults: prefix "stent:",
// ConfirmTimeout 5s, reconnection backoff from 100ms to 5s, health checks
// every 10s, PublishTimeout 2s, 64 buffered events, a discarding logger.
// A negative duration or size, or ReconnectMax below ReconnectMin, is an
// error matching ErrInvalidArgument that names the field; pkg prefixes it.
func (c Config) WithDefaults(pkg string) (Config, error) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ConfirmTimeout", c.ConfirmTimeout}, {"ReconnectMin", c.ReconnectMin}, {"ReconnectMax", c.ReconnectMax},
		{"HealthCheckInterval", c.HealthCheckInterval}, {"PublishTimeout", c.PublishTimeout},
	} {
		if d.v < 0 {
			return c, fmt.Errorf("%s: Config.%s is %v; want a positive duration or 0 for the default: %w",
				pkg, d.name, d.v, domain.ErrInvalidArgument)
		}
	}
	if c.BufferSize < 0 {
		return c, fmt.Errorf("%s: Config.BufferSize is %d; want a positive size or 0 for the default: %w",
			pkg, c.BufferSize, domain.ErrInvalidArgument)
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
		return c, fmt.Errorf("%s: Config.ReconnectMax %v is below ReconnectMin %v: %w",
			pkg, c.ReconnectMax, c.ReconnectMin, domain.ErrInvalidArgument)
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
