package pgnotify

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/stenthq/stent/domain"
)

// DefaultPrefix is the channel prefix used when Config.Prefix is empty.
const DefaultPrefix = "stent:"

// DefaultApplicationName is the application_name of the listening
// connection when Config.ApplicationName is empty.
const DefaultApplicationName = "stent-notifier"

// Config tunes the notifier. The zero value works.
type Config struct {
	// Prefix is prepended to a topic's kind to form the channel name (e.g.
	// "stent:task" carries every task:<id> topic; see the package doc).
	// Deployments sharing a database use different prefixes to stay apart.
	// Empty means DefaultPrefix.
	Prefix string
	// ApplicationName is the listening connection's application_name, as
	// pg_stat_activity shows it; empty means DefaultApplicationName.
	ApplicationName string
	// ConfirmTimeout bounds how long Subscribe waits for a LISTEN, how long
	// New waits for the first connection, and each LISTEN, UNLISTEN and
	// health probe on the listening connection; default 5s.
	ConfirmTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between reconnection
	// attempts (it doubles from min to max); defaults 100ms and 5s.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// HealthCheckInterval is how often an idle listening connection is
	// probed (and channels nobody wants any more are unlistened), so a
	// silently dead connection is noticed; default 10s.
	HealthCheckInterval time.Duration
	// PublishTimeout bounds one Publish when the caller's context has no
	// earlier deadline; default 2s.
	PublishTimeout time.Duration
	// BufferSize is how many events a subscription may have pending before
	// the oldest is replaced by an EventReset; default 64.
	BufferSize int
	// Required makes New fail (with an error matching ErrUnavailable) when
	// the listening connection cannot be opened within ConfirmTimeout. Otherwise New logs a
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
			return c, fmt.Errorf("pgnotify: Config.%s is %v; want a positive duration or 0 for the default: %w",
				d.name, d.v, domain.ErrInvalidArgument)
		}
	}
	if c.BufferSize < 0 {
		return c, fmt.Errorf("pgnotify: Config.BufferSize is %d; want a positive size or 0 for the default: %w",
			c.BufferSize, domain.ErrInvalidArgument)
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.ApplicationName == "" {
		c.ApplicationName = DefaultApplicationName
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
		return c, fmt.Errorf("pgnotify: Config.ReconnectMax %v is below ReconnectMin %v: %w",
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
