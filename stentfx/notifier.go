package stentfx

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/adapters/redisnotify"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// NotifierKind resolves Config.Notifier: auto becomes redis when a Redis
// URL is set, else postgres (LISTEN/NOTIFY) when the database is
// PostgreSQL, so processes sharing a PostgreSQL database wake each other
// without Redis, else local (the embedded single-process case).
func NotifierKind(cfg Config) string {
	if cfg.Notifier == "" || cfg.Notifier == NotifierAuto {
		if cfg.RedisURL != "" {
			return NotifierRedis
		}
		if b, err := ParseDSN(cfg.DB); err == nil && b == BackendPostgres {
			return NotifierPostgres
		}
		return NotifierLocal
	}
	return cfg.Notifier
}

// NewNotifier builds the notifier the configuration selects (see
// NotifierKind): in-process, Redis pub/sub on cfg.RedisURL, or PostgreSQL
// LISTEN/NOTIFY on cfg.DB. An unreachable Redis is not an error: the
// notifier reconnects in the background, reports itself degraded, and
// waiters poll meanwhile. Closing the returned notifier releases
// everything it opened (the Redis client included).
func NewNotifier(cfg Config, log *slog.Logger) (ports.Notifier, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch kind := NotifierKind(cfg); kind {
	case NotifierLocal:
		return app.NewLocalNotifier(), nil
	case NotifierRedis:
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, &ConfigError{Source: "STENT_REDIS_URL", Value: maskURL(cfg.RedisURL), Err: domain.InvalidArgument("%s", maskIn(err.Error(), cfg.RedisURL))}
		}
		client := redis.NewClient(opts)
		n, err := redisnotify.New(client, redisnotify.Config{Logger: log.With("component", "redisnotify")})
		if err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("stentfx: redis notifier at %s: %w", maskURL(cfg.RedisURL), err)
		}
		return &ownedNotifier{Notifier: n, health: n, closeAlso: client.Close}, nil
	case NotifierPostgres:
		return newPostgresNotifier(cfg, log)
	default:
		return nil, &ConfigError{Source: "STENT_NOTIFIER", Value: kind, Err: domain.InvalidArgument("unknown notifier; allowed: auto, local, redis, postgres")}
	}
}

// ownedNotifier closes what the notifier was built on after the notifier.
type ownedNotifier struct {
	ports.Notifier
	health    ports.NotifierHealth
	closeAlso func() error
}

func (o *ownedNotifier) Close() error {
	return errors.Join(o.Notifier.Close(), o.closeAlso())
}

// Health reports the wrapped notifier's health.
func (o *ownedNotifier) Health() error {
	if o.health == nil {
		return nil
	}
	return o.health.Health()
}

// maskIn removes a URL's password from a message.
func maskIn(msg, rawURL string) string {
	if rawURL == "" {
		return msg
	}
	return strings.ReplaceAll(msg, rawURL, maskURL(rawURL))
}
