// Package notifierurl opens the notifier a deployment selects from its
// settings: in-process, Redis pub/sub on a redis:// URL, or PostgreSQL
// LISTEN/NOTIFY on the store's database. The CLI and the service share it,
// so a command's dispatch or signal wakes the service's workers at once.
//
// It sits beside storeurl rather than inside it: the choice depends on
// three settings (the kind, the Redis URL and the store URL), and keeping
// it apart leaves storeurl a leaf over the two SQL stores, so a program
// that only opens a store links neither Redis nor the engine's in-process
// notifier.
package notifierurl

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/stenthq/stent/adapters/redisnotify"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Notifier kinds (Options.Kind).
const (
	// Auto picks Redis when a Redis URL is set, else PostgreSQL
	// LISTEN/NOTIFY when the store is PostgreSQL, else in-process.
	Auto = "auto"
	// Local is the in-process notifier: one process only.
	Local = "local"
	// Redis is Redis pub/sub (Options.RedisURL).
	Redis = "redis"
	// Postgres is PostgreSQL LISTEN/NOTIFY on the store's database
	// (Options.DB must be PostgreSQL).
	Postgres = "postgres"
)

// Options are the settings that select a notifier.
type Options struct {
	// Kind is Auto (or ""), Local, Redis or Postgres.
	Kind string
	// RedisURL is the Redis server (redis://, rediss:// or unix://).
	RedisURL string
	// DB is the store's URL or DSN (see storeurl.Parse).
	DB string
	// Logger receives the notifier's reconnects; nil discards.
	Logger *slog.Logger
}

// KindOf resolves o.Kind: Auto becomes Redis when a Redis URL is set,
// else Postgres when the store is PostgreSQL, so processes sharing a
// PostgreSQL database wake each other without Redis, else Local (the
// embedded single-process case).
func KindOf(o Options) string {
	if o.Kind == "" || o.Kind == Auto {
		if o.RedisURL != "" {
			return Redis
		}
		if b, err := storeurl.Parse(o.DB); err == nil && b == storeurl.Postgres {
			return Postgres
		}
		return Local
	}
	return o.Kind
}

// Open builds the notifier o selects (see KindOf). An unreachable Redis
// or PostgreSQL is not an error: the notifier reconnects in the
// background, reports itself degraded (ports.NotifierHealth), and waiters
// poll meanwhile. Closing the returned notifier releases everything it
// opened (the Redis client or the publishing pool included). A bad URL or
// kind is ErrInvalidArgument naming it, its password masked.
func Open(o Options) (ports.Notifier, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch kind := KindOf(o); kind {
	case Local:
		return app.NewLocalNotifier(), nil
	case Redis:
		opts, err := redis.ParseURL(o.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("notifierurl: %w", domain.InvalidArgument("Redis URL %q: %s", MaskURL(o.RedisURL), maskIn(err.Error(), o.RedisURL)))
		}
		client := redis.NewClient(opts)
		n, err := redisnotify.New(client, redisnotify.Config{Logger: log.With("component", "redisnotify")})
		if err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("notifierurl: redis notifier at %s: %w", MaskURL(o.RedisURL), err)
		}
		return &ownedNotifier{Notifier: n, health: n, closeAlso: client.Close}, nil
	case Postgres:
		return openPostgres(o.DB, log)
	default:
		return nil, fmt.Errorf("notifierurl: %w", domain.InvalidArgument("unknown notifier %q; allowed: auto, local, redis, postgres", kind))
	}
}

// CheckRedisURL reports a value that is not a Redis URL
// (ErrInvalidArgument saying what is allowed). An empty value is fine:
// no Redis.
func CheckRedisURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
		return domain.InvalidArgument("want a redis://, rediss:// or unix:// URL")
	}
	return nil
}

// MaskURL hides a URL's password (Redis URLs carry one in the userinfo),
// for logs and messages.
func MaskURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// maskIn removes a URL's password from a message.
func maskIn(msg, rawURL string) string {
	if rawURL == "" {
		return msg
	}
	return strings.ReplaceAll(msg, rawURL, MaskURL(rawURL))
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
