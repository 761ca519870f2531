package stentfx

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stenthq/stent/adapters/httpapi"
	"github.com/stenthq/stent/adapters/notifierurl"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// Notifier kinds (Config.Notifier; see package notifierurl).
const (
	// NotifierAuto picks Redis when a Redis URL is set, else PostgreSQL
	// LISTEN/NOTIFY when STENT_DB is PostgreSQL, else in-process.
	NotifierAuto = notifierurl.Auto
	// NotifierLocal is the in-process notifier: one process only.
	NotifierLocal = notifierurl.Local
	// NotifierRedis is Redis pub/sub (STENT_REDIS_URL).
	NotifierRedis = notifierurl.Redis
	// NotifierPostgres is PostgreSQL LISTEN/NOTIFY on the store's
	// database (STENT_DB must be PostgreSQL).
	NotifierPostgres = notifierurl.Postgres
)

// Config is the service configuration (SPEC §11). Load it with LoadConfig
// (environment variables and flags; flags win) or start from
// DefaultConfig.
type Config struct {
	// DB is the store URL (STENT_DB, --db): a SQLite path, sqlite://path,
	// postgres://... or a PostgreSQL key=value DSN (see storeurl.Parse).
	DB string
	// RedisURL selects the Redis notifier (STENT_REDIS_URL, --redis-url).
	RedisURL string
	// Notifier is auto (default), local, redis or postgres
	// (STENT_NOTIFIER, --notifier).
	Notifier string
	// HTTPAddr is the HTTP listen address (STENT_HTTP_ADDR, --http-addr);
	// loopback by default, listening beyond it is an explicit choice.
	HTTPAddr string
	// HTTPToken, when set, is required as "Authorization: Bearer <token>"
	// on every /v1 call (STENT_HTTP_TOKEN, --http-token).
	HTTPToken string
	// InsecureNoAuth allows HTTPAddr beyond loopback without HTTPToken
	// (STENT_INSECURE_NO_AUTH, --insecure-no-auth); without it such a
	// configuration is refused. The server WARNs at start when it is used.
	InsecureNoAuth bool
	// CORSOrigins lists the browser origins allowed to call the API
	// (STENT_CORS_ORIGINS, --cors-origins, comma-separated; "*" allows
	// any). Empty, the default, sends no CORS headers.
	CORSOrigins []string
	// Worker runs a worker in this process (STENT_WORKER, --worker).
	Worker bool
	// Queues the worker serves; empty means all (STENT_QUEUES, --queues,
	// comma-separated).
	Queues []string
	// Tags the worker has (STENT_TAGS, --tags, comma-separated).
	Tags []string
	// Versions is the worker's version policy (STENT_WORKER_VERSIONS,
	// --worker-versions): strict (default) or any; see
	// app.WorkerOptions.Versions.
	Versions app.VersionPolicy
	// MaxConcurrency is the worker's task slots (STENT_MAX_CONCURRENCY).
	MaxConcurrency int
	// Lease is the worker's lease duration (STENT_LEASE).
	Lease time.Duration
	// WorkerID names the worker in leases; default host-pid-random
	// (STENT_WORKER_ID).
	WorkerID string
	// WorkerName is the worker's stable name (STENT_WORKER_NAME,
	// --worker-name; default none): a worker restarting on the same host
	// with the same name takes over its predecessor's tasks at start.
	WorkerName string
	// LivenessInterval is how often the worker records its heartbeat in
	// the worker registry and looks for dead workers
	// (STENT_LIVENESS_INTERVAL, default 3s).
	LivenessInterval time.Duration
	// DeadAfter declares a worker dead once its heartbeat is this old, and
	// its tasks are reclaimed at once (STENT_DEAD_AFTER); 0 means 4 x
	// LivenessInterval (12s by default). It must be longer than
	// LivenessInterval.
	DeadAfter time.Duration
	// ParkAfter is how long a workflow blocked on a sleep, a signal or
	// children stays in memory before it parks (STENT_PARK_AFTER, default
	// 0.25s; "off" disables parking and is stored as a negative value, as
	// app.Config.ParkAfter takes it; 0 means the default).
	ParkAfter time.Duration
	// Retention is how long finished executions, dead letters and consumed
	// signals are kept (STENT_RETENTION).
	Retention time.Duration
	// CleanupInterval runs the retention cleanup; 0 disables it
	// (STENT_CLEANUP_INTERVAL, "0s" or "off").
	CleanupInterval time.Duration
	// AutoMigrate migrates an older schema on start (STENT_AUTO_MIGRATE).
	AutoMigrate bool
	// MaxPayload bounds inputs, results and signal payloads in bytes
	// (STENT_MAX_PAYLOAD: bytes, or with a KiB/MiB/KB/MB suffix).
	MaxPayload int
	// ShutdownTimeout bounds the drain on SIGTERM (STENT_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// StartupTimeout bounds how long start-up waits for the store
	// (STENT_STARTUP_TIMEOUT).
	StartupTimeout time.Duration
	// LogLevel is debug, info, warn or error (STENT_LOG_LEVEL).
	LogLevel slog.Level
	// LogFormat is json or text (STENT_LOG_FORMAT).
	LogFormat string
	// Examples registers the bundled example workflows; only cmd/stentd
	// reads it (STENT_EXAMPLES, --examples).
	Examples bool
}

// DefaultConfig returns the defaults of SPEC §11.
func DefaultConfig() Config {
	return Config{
		DB:               storeurl.Default,
		Notifier:         NotifierAuto,
		HTTPAddr:         "127.0.0.1:8080",
		Worker:           true,
		MaxConcurrency:   10,
		Lease:            5 * time.Minute,
		LivenessInterval: 3 * time.Second,
		ParkAfter:        app.DefaultParkAfter,
		Retention:        app.DefaultRetention,
		CleanupInterval:  time.Hour,
		AutoMigrate:      true,
		MaxPayload:       1 << 20,
		ShutdownTimeout:  30 * time.Second,
		StartupTimeout:   60 * time.Second,
		LogLevel:         slog.LevelInfo,
		LogFormat:        "json",
		Examples:         true,
	}
}

// ConfigError reports a bad setting: the environment variable or flag, its
// value (secrets masked) and why. It matches ErrInvalidArgument, and
// ErrInvalidDuration for a bad duration.
type ConfigError struct {
	// Source is the variable ("STENT_LEASE") or flag ("--lease").
	Source string
	// Value is the rejected value, with any password masked.
	Value string
	Err   error
}

// Error implements error.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("stentfx: %s=%q: %v", e.Source, e.Value, e.Err)
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Is matches ErrInvalidArgument.
func (e *ConfigError) Is(target error) bool { return target == domain.ErrInvalidArgument }

// setting is one configuration entry: its variable, flag, help and how it
// parses into a Config.
type setting struct {
	env, flag, help string
	bool            bool // a boolean flag (--worker alone means true)
	secret          bool // never echo the value
	mask            func(string) string
	set             func(c *Config, v string) error
	get             func(c Config) string // the default, for the usage text
}

var settings = []setting{
	{env: "STENT_DB", flag: "db", help: "store: a SQLite path, sqlite://path, postgres://... or host=... dbname=...", mask: storeurl.Mask,
		set: func(c *Config, v string) error {
			if _, err := storeurl.Parse(v); err != nil {
				return err
			}
			c.DB = strings.TrimSpace(v)
			return nil
		}, get: func(c Config) string { return c.DB }},
	{env: "STENT_REDIS_URL", flag: "redis-url", help: "Redis URL for the notifier (redis://[:password@]host:6379/0)", mask: notifierurl.MaskURL,
		set: func(c *Config, v string) error {
			if err := notifierurl.CheckRedisURL(v); err != nil {
				return err
			}
			c.RedisURL = v
			return nil
		}, get: func(c Config) string { return c.RedisURL }},
	{env: "STENT_NOTIFIER", flag: "notifier", help: "notifier: auto (Redis when STENT_REDIS_URL is set, else LISTEN/NOTIFY on a PostgreSQL STENT_DB, else in-process, which CLI commands on the same SQLite file wake over loopback UDP), local, redis or postgres",
		set: func(c *Config, v string) error {
			switch v = strings.ToLower(strings.TrimSpace(v)); v {
			case NotifierAuto, NotifierLocal, NotifierRedis, NotifierPostgres:
				c.Notifier = v
				return nil
			}
			return domain.InvalidArgument("unknown notifier; allowed: auto, local, redis, postgres")
		}, get: func(c Config) string { return c.Notifier }},
	{env: "STENT_HTTP_ADDR", flag: "http-addr", help: "HTTP listen address (loopback by default; beyond loopback it needs --http-token or --insecure-no-auth)",
		set: func(c *Config, v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return domain.InvalidArgument("want host:port, e.g. 127.0.0.1:8080: %v", err)
			}
			c.HTTPAddr = v
			return nil
		}, get: func(c Config) string { return c.HTTPAddr }},
	{env: "STENT_HTTP_TOKEN", flag: "http-token", help: "bearer token required on /v1 (health and metrics stay open)", secret: true,
		set: func(c *Config, v string) error { c.HTTPToken = v; return nil },
		get: func(Config) string { return "" }},
	{env: "STENT_INSECURE_NO_AUTH", flag: "insecure-no-auth", help: "allow listening beyond loopback without --http-token (a WARN line says so at start)", bool: true,
		set: func(c *Config, v string) error { return parseBool(v, &c.InsecureNoAuth) },
		get: func(c Config) string { return strconv.FormatBool(c.InsecureNoAuth) }},
	{env: "STENT_CORS_ORIGINS", flag: "cors-origins", help: "comma-separated browser origins allowed to call the API, e.g. https://console.example.com (* for any; default none: CORS off)",
		set: func(c *Config, v string) error { return parseOrigins(v, &c.CORSOrigins) },
		get: func(c Config) string { return strings.Join(c.CORSOrigins, ",") }},
	{env: "STENT_WORKER", flag: "worker", help: "run a worker in this process", bool: true,
		set: func(c *Config, v string) error { return parseBool(v, &c.Worker) },
		get: func(c Config) string { return strconv.FormatBool(c.Worker) }},
	{env: "STENT_QUEUES", flag: "queues", help: "comma-separated queues the worker serves (default all)",
		set: func(c *Config, v string) error { return parseNames("queue", v, &c.Queues) },
		get: func(c Config) string { return strings.Join(c.Queues, ",") }},
	{env: "STENT_TAGS", flag: "tags", help: "comma-separated tags of the worker",
		set: func(c *Config, v string) error { return parseNames("tag", v, &c.Tags) },
		get: func(c Config) string { return strings.Join(c.Tags, ",") }},
	{env: "STENT_WORKER_VERSIONS", flag: "worker-versions", help: "which task versions the worker claims: strict (only the versions its registry registers) or any",
		set: func(c *Config, v string) error {
			p, err := domain.ParseVersionPolicy(v)
			c.Versions = p
			return err
		}, get: func(c Config) string { return string(c.Versions) }},
	{env: "STENT_MAX_CONCURRENCY", flag: "max-concurrency", help: "task slots of the worker",
		set: func(c *Config, v string) error { return parseInt(v, 1, 100000, &c.MaxConcurrency) },
		get: func(c Config) string { return strconv.Itoa(c.MaxConcurrency) }},
	{env: "STENT_LEASE", flag: "lease", help: "lease duration of claimed tasks",
		set: func(c *Config, v string) error { return parsePositiveDuration(v, &c.Lease) },
		get: func(c Config) string { return domain.FormatDuration(c.Lease) }},
	{env: "STENT_WORKER_ID", flag: "worker-id", help: "worker id in leases (default host-pid-random)",
		set: func(c *Config, v string) error {
			if err := domain.ValidateName("worker id", v); err != nil {
				return err
			}
			c.WorkerID = v
			return nil
		}, get: func(c Config) string { return c.WorkerID }},
	{env: "STENT_WORKER_NAME", flag: "worker-name", help: "stable worker name: restarted on this host under the same name, the worker takes over its predecessor's tasks at once",
		set: func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if err := domain.ValidateName("worker name", v); err != nil {
				return err
			}
			c.WorkerName = v
			return nil
		}, get: func(c Config) string { return c.WorkerName }},
	{env: "STENT_LIVENESS_INTERVAL", flag: "liveness-interval", help: "how often the worker records its heartbeat in the worker registry and looks for dead workers",
		set: func(c *Config, v string) error { return parsePositiveDuration(v, &c.LivenessInterval) },
		get: func(c Config) string { return domain.FormatDuration(c.LivenessInterval) }},
	{env: "STENT_DEAD_AFTER", flag: "dead-after", help: "declare a worker dead, and reclaim its tasks at once, when its heartbeat is older than this (longer than the liveness interval)",
		set: func(c *Config, v string) error { return parsePositiveDuration(v, &c.DeadAfter) },
		get: func(c Config) string {
			if c.DeadAfter > 0 {
				return domain.FormatDuration(c.DeadAfter)
			}
			return "4 x the liveness interval, " + domain.FormatDuration(4*c.LivenessInterval)
		}},
	{env: "STENT_PARK_AFTER", flag: "park-after", help: "how long a workflow blocked on a sleep, a signal or children stays in memory before it parks (off keeps every wait in memory)",
		set: func(c *Config, v string) error {
			if strings.EqualFold(strings.TrimSpace(v), "off") {
				c.ParkAfter = -1
				return nil
			}
			if err := parsePositiveDuration(v, &c.ParkAfter); err != nil {
				if errors.Is(err, domain.ErrInvalidDuration) {
					return err
				}
				return domain.InvalidArgument("must be longer than 0s; off disables parking")
			}
			return nil
		}, get: func(c Config) string {
			if c.ParkAfter < 0 {
				return "off"
			}
			return domain.FormatDuration(c.ParkAfter)
		}},
	{env: "STENT_RETENTION", flag: "retention", help: "how long finished executions and dead letters are kept",
		set: func(c *Config, v string) error { return parsePositiveDuration(v, &c.Retention) },
		get: func(c Config) string { return domain.FormatDuration(c.Retention) }},
	{env: "STENT_CLEANUP_INTERVAL", flag: "cleanup-interval", help: "retention cleanup interval (0s or off disables)",
		set: func(c *Config, v string) error {
			if strings.EqualFold(strings.TrimSpace(v), "off") {
				c.CleanupInterval = 0
				return nil
			}
			d, err := domain.ParseDuration(v)
			if err != nil {
				return err
			}
			c.CleanupInterval = d
			return nil
		}, get: func(c Config) string {
			if c.CleanupInterval == 0 {
				return "off"
			}
			return domain.FormatDuration(c.CleanupInterval)
		}},
	{env: "STENT_AUTO_MIGRATE", flag: "auto-migrate", help: "migrate an older schema on start", bool: true,
		set: func(c *Config, v string) error { return parseBool(v, &c.AutoMigrate) },
		get: func(c Config) string { return strconv.FormatBool(c.AutoMigrate) }},
	{env: "STENT_MAX_PAYLOAD", flag: "max-payload", help: "largest input, result or signal payload (bytes, or 512KiB, 1MiB)",
		set: func(c *Config, v string) error { return parseSize(v, &c.MaxPayload) },
		get: func(c Config) string { return strconv.Itoa(c.MaxPayload) }},
	{env: "STENT_SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", help: "how long a shutdown waits for running tasks",
		set: func(c *Config, v string) error { return parsePositiveDuration(v, &c.ShutdownTimeout) },
		get: func(c Config) string { return domain.FormatDuration(c.ShutdownTimeout) }},
	{env: "STENT_STARTUP_TIMEOUT", flag: "startup-timeout", help: "how long start-up waits for the store",
		set: func(c *Config, v string) error { return parsePositiveDuration(v, &c.StartupTimeout) },
		get: func(c Config) string { return domain.FormatDuration(c.StartupTimeout) }},
	{env: "STENT_LOG_LEVEL", flag: "log-level", help: "debug, info, warn or error",
		set: func(c *Config, v string) error {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "debug":
				c.LogLevel = slog.LevelDebug
			case "info":
				c.LogLevel = slog.LevelInfo
			case "warn", "warning":
				c.LogLevel = slog.LevelWarn
			case "error":
				c.LogLevel = slog.LevelError
			default:
				return domain.InvalidArgument("unknown log level; allowed: debug, info, warn, error")
			}
			return nil
		}, get: func(c Config) string { return strings.ToLower(c.LogLevel.String()) }},
	{env: "STENT_LOG_FORMAT", flag: "log-format", help: "json or text",
		set: func(c *Config, v string) error {
			switch v = strings.ToLower(strings.TrimSpace(v)); v {
			case "json", "text":
				c.LogFormat = v
				return nil
			}
			return domain.InvalidArgument("unknown log format; allowed: json, text")
		}, get: func(c Config) string { return c.LogFormat }},
	{env: "STENT_EXAMPLES", flag: "examples", help: "register the bundled example workflows (stentd)", bool: true,
		set: func(c *Config, v string) error { return parseBool(v, &c.Examples) },
		get: func(c Config) string { return strconv.FormatBool(c.Examples) }},
}

// LoadConfig reads the configuration from environment variables (getenv;
// an empty value counts as unset) and then from args (flags such as
// --db=x or --lease 10m), so flags win. Durations use the Stent grammar
// (domain.ParseDuration: 30s, 5m, 1h30m, 7d). A bad value is a
// *ConfigError naming the variable or flag and the value (passwords
// masked); -h or --help returns an error matching flag.ErrHelp (print
// ConfigUsage then). A nil getenv reads nothing from the environment.
func LoadConfig(args []string, getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	for _, s := range settings {
		v := getenv(s.env)
		if v == "" {
			continue
		}
		if err := s.set(&c, v); err != nil {
			return c, &ConfigError{Source: s.env, Value: s.shown(v), Err: err}
		}
	}
	fs := flag.NewFlagSet("stentd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var flagErr *ConfigError
	for _, s := range settings {
		fn := func(v string) error {
			if err := s.set(&c, v); err != nil {
				flagErr = &ConfigError{Source: "--" + s.flag, Value: s.shown(v), Err: err}
				return flagErr
			}
			return nil
		}
		if s.bool {
			fs.BoolFunc(s.flag, s.help, fn)
		} else {
			fs.Func(s.flag, s.help, fn)
		}
	}
	if err := fs.Parse(args); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp):
			return c, fmt.Errorf("stentfx: %w", flag.ErrHelp)
		case flagErr != nil:
			return c, flagErr
		}
		return c, fmt.Errorf("stentfx: %w: %s", domain.ErrInvalidArgument, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("stentfx: %w: unexpected argument %q (settings are flags such as --db=stent.sqlite)", domain.ErrInvalidArgument, fs.Arg(0))
	}
	return c, c.Validate()
}

// Validate checks the settings that depend on each other.
func (c Config) Validate() error {
	if c.Notifier == NotifierRedis && c.RedisURL == "" {
		return &ConfigError{Source: "STENT_NOTIFIER", Value: c.Notifier, Err: domain.InvalidArgument("the redis notifier needs STENT_REDIS_URL")}
	}
	if b, _ := storeurl.Parse(c.DB); c.Notifier == NotifierPostgres && b != storeurl.Postgres {
		return &ConfigError{Source: "STENT_NOTIFIER", Value: c.Notifier, Err: domain.InvalidArgument("the postgres notifier needs a PostgreSQL STENT_DB")}
	}
	if err := httpapi.CheckAuth(c.HTTPAddr, c.HTTPToken, c.InsecureNoAuth); err != nil {
		return &ConfigError{Source: "STENT_HTTP_ADDR", Value: c.HTTPAddr, Err: domain.InvalidArgument(
			"listening beyond loopback needs STENT_HTTP_TOKEN (--http-token); to run without authentication anyway, set STENT_INSECURE_NO_AUTH=true (--insecure-no-auth)")}
	}
	if c.MaxConcurrency < 1 {
		return &ConfigError{Source: "STENT_MAX_CONCURRENCY", Value: strconv.Itoa(c.MaxConcurrency), Err: domain.InvalidArgument("must be at least 1")}
	}
	if c.DeadAfter > 0 && c.DeadAfter <= c.LivenessInterval {
		return &ConfigError{Source: "STENT_DEAD_AFTER", Value: domain.FormatDuration(c.DeadAfter),
			Err: domain.InvalidArgument("must be longer than STENT_LIVENESS_INTERVAL (%s)", domain.FormatDuration(c.LivenessInterval))}
	}
	return nil
}

// ConfigUsage describes every setting: flag, variable, default and help.
func ConfigUsage() string {
	var b strings.Builder
	def := DefaultConfig()
	for _, s := range settings {
		d := s.get(def)
		if d != "" {
			d = " (default " + d + ")"
		}
		fmt.Fprintf(&b, "  --%s, %s%s\n      %s\n", s.flag, s.env, d, s.help)
	}
	return b.String()
}

// deadAfter is DeadAfter in effect: 4 x LivenessInterval when unset.
func (c Config) deadAfter() time.Duration {
	if c.DeadAfter <= 0 && c.LivenessInterval > 0 {
		return 4 * c.LivenessInterval
	}
	return c.DeadAfter
}

// LogValue renders the configuration for logs with secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("db", storeurl.Mask(c.DB)),
		slog.String("notifier", c.Notifier),
		slog.String("redis_url", notifierurl.MaskURL(c.RedisURL)),
		slog.String("http_addr", c.HTTPAddr),
		slog.Bool("http_auth", c.HTTPToken != ""),
		slog.Bool("insecure_no_auth", c.InsecureNoAuth),
		slog.Any("cors_origins", c.CORSOrigins),
		slog.Bool("worker", c.Worker),
		slog.Any("queues", c.Queues),
		slog.Any("tags", c.Tags),
		slog.String("worker_versions", string(c.Versions)),
		slog.Int("max_concurrency", c.MaxConcurrency),
		slog.Duration("lease", c.Lease),
		slog.String("worker_name", c.WorkerName),
		slog.Duration("liveness_interval", c.LivenessInterval),
		slog.Duration("dead_after", c.deadAfter()),
		slog.Duration("park_after", c.ParkAfter),
		slog.Duration("retention", c.Retention),
		slog.Duration("cleanup_interval", c.CleanupInterval),
		slog.Bool("auto_migrate", c.AutoMigrate),
		slog.Int("max_payload", c.MaxPayload),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("startup_timeout", c.StartupTimeout),
	)
}

func (s setting) shown(v string) string {
	switch {
	case s.secret:
		return "xxxxx"
	case s.mask != nil:
		return s.mask(v)
	}
	return v
}

// parseOrigins reads a comma-separated list of origins: "*" or
// scheme://host[:port] with http or https and nothing after the host.
func parseOrigins(v string, out *[]string) error {
	var origins []string
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
				(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
				return domain.InvalidArgument("origin %q: want * or scheme://host[:port], e.g. https://console.example.com", o)
			}
			o = u.Scheme + "://" + u.Host
		}
		origins = append(origins, o)
	}
	*out = origins
	return nil
}

func parseBool(v string, out *bool) error {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return domain.InvalidArgument("want true or false")
	}
	*out = b
	return nil
}

func parseInt(v string, lo, hi int, out *int) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return domain.InvalidArgument("want a whole number from %d to %d", lo, hi)
	}
	*out = n
	return nil
}

func parsePositiveDuration(v string, out *time.Duration) error {
	d, err := domain.ParseDuration(v)
	if err != nil {
		return err
	}
	if d <= 0 {
		return domain.InvalidArgument("must be longer than 0s")
	}
	*out = d
	return nil
}

func parseNames(what, v string, out *[]string) error {
	var names []string
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if err := domain.ValidateName(what, n); err != nil {
			return err
		}
		names = append(names, n)
	}
	*out = names
	return nil
}

// maxPayloadLimit caps STENT_MAX_PAYLOAD (a single JSON value is held in
// memory several times over).
const maxPayloadLimit = 1 << 30

var sizeUnits = map[string]int64{"": 1, "b": 1, "kb": 1000, "kib": 1 << 10, "mb": 1000 * 1000, "mib": 1 << 20, "gb": 1000 * 1000 * 1000, "gib": 1 << 30}

// parseSize reads a byte count: digits with an optional B, KB, KiB, MB,
// MiB, GB or GiB suffix (case-insensitive).
func parseSize(v string, out *int) error {
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := sizeUnits[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if num == "" || err != nil || !ok {
		return domain.InvalidArgument("want a size in bytes, e.g. 1048576, 512KiB or 1MiB")
	}
	if n <= 0 || n > maxPayloadLimit/mult {
		return domain.InvalidArgument("want a size from 1 byte to 1GiB")
	}
	*out = int(n * mult)
	return nil
}

// notifierOptions are the settings that select the notifier.
func (c Config) notifierOptions(log *slog.Logger) notifierurl.Options {
	return notifierurl.Options{Kind: c.Notifier, RedisURL: c.RedisURL, DB: c.DB, Logger: log}
}

// ConfigFromEnv loads the configuration from the environment only (the
// STENT_* variables): ConfigModule provides Config with it. It never reads
// os.Args, so a program's own flags are its own; a program that wants
// Stent's flags parses them itself with LoadConfig and supplies the result
// with fx.Replace, as cmd/stentd does.
func ConfigFromEnv() (Config, error) {
	return LoadConfig(nil, os.Getenv)
}
