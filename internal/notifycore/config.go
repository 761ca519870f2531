package notifycore

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/stenthq/stent/domain"
)

// DefaultPrefix is the channel prefix used when Config.Prefix is empty.
const DefaultPrefix = "stent:"

// Config holds the settings both networked notifiers have; each adapter's
// own Config (documented for its backend) converts to it.
type Config struct {
	Prefix              string
	ConfirmTimeout      time.Duration
	ReconnectMin        time.Duration
	ReconnectMax        time.Duration
	HealthCheckInterval time.Duration
	PublishTimeout      time.Duration
	BufferSize          int
	Required            bool
	Logger              *slog.Logger
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
