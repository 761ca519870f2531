package pgnotify

import (
	"log/slog"
	"time"

	"github.com/stenthq/stent/internal/notifycore"
)

// DefaultPrefix is the channel prefix used when Config.Prefix is empty.
const DefaultPrefix = notifycore.DefaultPrefix

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
	// ReconnectMin and ReconnectMax bound the pause between two attempts
	// to open the listening connection again (doubling from the minimum);
	// 100ms and 5s when zero.
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// HealthCheckInterval is how often an idle listening connection is
	// probed (and channels nobody wants any more are unlistened), so a
	// silently dead connection is noticed; default 10s.
	HealthCheckInterval time.Duration
	// PublishTimeout bounds one pg_notify when the caller's context has no
	// earlier deadline; 2s when zero.
	PublishTimeout time.Duration
	// BufferSize is the number of events a subscription holds before an
	// EventReset takes the place of its oldest one; 64 when zero.
	BufferSize int
	// Required makes New fail, with an error matching ErrUnavailable, when
	// the listening connection cannot be opened within ConfirmTimeout.
	// When it is false, New logs a warning instead and returns a notifier
	// that goes on reconnecting while callers poll.
	Required bool
	// Logger receives the warnings (a lost listening connection, the first
	// malformed payload); nil discards them.
	Logger *slog.Logger
}

// core validates c and fills in the defaults of the shared settings.
func (c Config) core() (notifycore.Config, string, error) {
	cfg, err := notifycore.Config{
		Prefix: c.Prefix, ConfirmTimeout: c.ConfirmTimeout,
		ReconnectMin: c.ReconnectMin, ReconnectMax: c.ReconnectMax,
		HealthCheckInterval: c.HealthCheckInterval, PublishTimeout: c.PublishTimeout,
		BufferSize: c.BufferSize, Required: c.Required, Logger: c.Logger,
	}.WithDefaults("pgnotify")
	if c.ApplicationName == "" {
		c.ApplicationName = DefaultApplicationName
	}
	return cfg, c.ApplicationName, err
}
