package stentfx_test

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/stentfx"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	def := stentfx.DefaultConfig()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want func(c *stentfx.Config)
	}{
		{name: "nothing set gives the SPEC defaults", want: func(*stentfx.Config) {}},
		{
			name: "every variable is read",
			env: map[string]string{
				"STENT_DB": "postgres://u:p@db/x", "STENT_REDIS_URL": "redis://:pw@r:6379/0", "STENT_NOTIFIER": "redis",
				"STENT_HTTP_ADDR": "0.0.0.0:9000", "STENT_HTTP_TOKEN": "tok", "STENT_WORKER": "false",
				"STENT_QUEUES": "a, b,,c", "STENT_TAGS": "gpu", "STENT_MAX_CONCURRENCY": "4", "STENT_LEASE": "2m",
				"STENT_WORKER_ID": "w-1", "STENT_RETENTION": "30d", "STENT_CLEANUP_INTERVAL": "off",
				"STENT_AUTO_MIGRATE": "false", "STENT_MAX_PAYLOAD": "2MiB", "STENT_SHUTDOWN_TIMEOUT": "1m30s",
				"STENT_STARTUP_TIMEOUT": "10s", "STENT_LOG_LEVEL": "debug", "STENT_LOG_FORMAT": "text", "STENT_EXAMPLES": "false",
				"STENT_WORKER_NAME": "api-1", "STENT_LIVENESS_INTERVAL": "5s", "STENT_DEAD_AFTER": "30s", "STENT_PARK_AFTER": "1.5s",
			},
			want: func(c *stentfx.Config) {
				c.DB, c.RedisURL, c.Notifier = "postgres://u:p@db/x", "redis://:pw@r:6379/0", "redis"
				c.HTTPAddr, c.HTTPToken, c.Worker = "0.0.0.0:9000", "tok", false
				c.Queues, c.Tags, c.MaxConcurrency, c.Lease = []string{"a", "b", "c"}, []string{"gpu"}, 4, 2*time.Minute
				c.WorkerID, c.Retention, c.CleanupInterval = "w-1", 30*24*time.Hour, 0
				c.AutoMigrate, c.MaxPayload, c.ShutdownTimeout = false, 2<<20, 90*time.Second
				c.StartupTimeout, c.LogLevel, c.LogFormat, c.Examples = 10*time.Second, slog.LevelDebug, "text", false
				c.WorkerName, c.LivenessInterval, c.DeadAfter, c.ParkAfter = "api-1", 5*time.Second, 30*time.Second, 1500*time.Millisecond
			},
		},
		{
			name: "the worker's version policy",
			env:  map[string]string{"STENT_WORKER_VERSIONS": "any"},
			want: func(c *stentfx.Config) { c.Versions = app.VersionAny },
		},
		{
			name: "off disables parking",
			env:  map[string]string{"STENT_PARK_AFTER": "off"},
			want: func(c *stentfx.Config) { c.ParkAfter = -1 },
		},
		{
			name: "the liveness settings and the park delay come from flags too",
			env:  map[string]string{"STENT_PARK_AFTER": "off", "STENT_WORKER_NAME": "env-name"},
			args: []string{"--worker-name=flag-name", "--liveness-interval=1s", "--dead-after", "4.5s", "--park-after=0.01s"},
			want: func(c *stentfx.Config) {
				c.WorkerName, c.LivenessInterval, c.DeadAfter, c.ParkAfter = "flag-name", time.Second, 4500*time.Millisecond, 10*time.Millisecond
			},
		},
		{
			name: "flags win over the environment",
			env:  map[string]string{"STENT_DB": "env.sqlite", "STENT_LEASE": "1m", "STENT_WORKER": "true"},
			args: []string{"--db=flag.sqlite", "--lease", "3m", "--worker=false", "-max-concurrency=2"},
			want: func(c *stentfx.Config) {
				c.DB, c.Lease, c.Worker, c.MaxConcurrency = "flag.sqlite", 3*time.Minute, false, 2
			},
		},
		{
			name: "a bare boolean flag means true",
			env:  map[string]string{"STENT_AUTO_MIGRATE": "false"},
			args: []string{"--auto-migrate"},
			want: func(*stentfx.Config) {},
		},
		{
			name: "empty variables count as unset",
			env:  map[string]string{"STENT_DB": "", "STENT_LEASE": ""},
			want: func(*stentfx.Config) {},
		},
		{
			name: "sizes take decimal and binary suffixes",
			env:  map[string]string{"STENT_MAX_PAYLOAD": "512kb"},
			want: func(c *stentfx.Config) { c.MaxPayload = 512000 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := stentfx.LoadConfig(tt.args, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			want := def
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		source     string // the variable or flag the error names
		value      string // the value it quotes
		isDuration bool
	}{
		{name: "a duration with an unknown unit", env: map[string]string{"STENT_LEASE": "10x"}, source: "STENT_LEASE", value: "10x", isDuration: true},
		{name: "a duration without a unit", args: []string{"--shutdown-timeout=30"}, source: "--shutdown-timeout", value: "30", isDuration: true},
		{name: "Go's ms unit is not Stent's grammar", env: map[string]string{"STENT_STARTUP_TIMEOUT": "500ms"}, source: "STENT_STARTUP_TIMEOUT", value: "500ms", isDuration: true},
		{name: "a zero lease", env: map[string]string{"STENT_LEASE": "0s"}, source: "STENT_LEASE", value: "0s"},
		{name: "zero slots", env: map[string]string{"STENT_MAX_CONCURRENCY": "0"}, source: "STENT_MAX_CONCURRENCY", value: "0"},
		{name: "a non-number of slots", args: []string{"--max-concurrency", "ten"}, source: "--max-concurrency", value: "ten"},
		{name: "a boolean that is not one", env: map[string]string{"STENT_WORKER": "maybe"}, source: "STENT_WORKER", value: "maybe"},
		{name: "an unknown log level", env: map[string]string{"STENT_LOG_LEVEL": "loud"}, source: "STENT_LOG_LEVEL", value: "loud"},
		{name: "an unknown log format", env: map[string]string{"STENT_LOG_FORMAT": "xml"}, source: "STENT_LOG_FORMAT", value: "xml"},
		{name: "an unsupported DSN scheme, its password masked", env: map[string]string{"STENT_DB": "mysql://bob:s3cret@h/db"}, source: "STENT_DB", value: "mysql://bob:xxxxx@h/db"},
		{name: "a Redis URL of the wrong scheme, its password masked", env: map[string]string{"STENT_REDIS_URL": "http://:s3cret@h"}, source: "STENT_REDIS_URL", value: "http://:xxxxx@h"},
		{name: "an address without a port", env: map[string]string{"STENT_HTTP_ADDR": "localhost"}, source: "STENT_HTTP_ADDR", value: "localhost"},
		{name: "a size with an unknown unit", env: map[string]string{"STENT_MAX_PAYLOAD": "1.5MB"}, source: "STENT_MAX_PAYLOAD", value: "1.5MB"},
		{name: "a size over 1GiB", env: map[string]string{"STENT_MAX_PAYLOAD": "2GiB"}, source: "STENT_MAX_PAYLOAD", value: "2GiB"},
		{name: "an unknown notifier", env: map[string]string{"STENT_NOTIFIER": "kafka"}, source: "STENT_NOTIFIER", value: "kafka"},
		{name: "the redis notifier without a URL", env: map[string]string{"STENT_NOTIFIER": "redis"}, source: "STENT_NOTIFIER", value: "redis"},
		{name: "the postgres notifier on SQLite", env: map[string]string{"STENT_NOTIFIER": "postgres"}, source: "STENT_NOTIFIER", value: "postgres"},
		{name: "an unknown version policy", env: map[string]string{"STENT_WORKER_VERSIONS": "newest"}, source: "STENT_WORKER_VERSIONS", value: "newest"},
		{name: "an unprintable queue name", env: map[string]string{"STENT_QUEUES": "a,b\x01"}, source: "STENT_QUEUES", value: "a,b\x01"},
		{name: "an unprintable worker name", args: []string{"--worker-name=a\x01"}, source: "--worker-name", value: "a\x01"},
		{name: "a liveness interval without a unit", env: map[string]string{"STENT_LIVENESS_INTERVAL": "3"}, source: "STENT_LIVENESS_INTERVAL", value: "3", isDuration: true},
		{name: "a zero liveness interval", env: map[string]string{"STENT_LIVENESS_INTERVAL": "0s"}, source: "STENT_LIVENESS_INTERVAL", value: "0s"},
		{name: "a dead-after of Go's grammar", env: map[string]string{"STENT_DEAD_AFTER": "12s500ms"}, source: "STENT_DEAD_AFTER", value: "12s500ms", isDuration: true},
		{name: "a dead-after no longer than the liveness interval", env: map[string]string{"STENT_DEAD_AFTER": "3s"}, source: "STENT_DEAD_AFTER", value: "3s"},
		{name: "a dead-after shorter than a liveness interval given as a flag", env: map[string]string{"STENT_DEAD_AFTER": "10s"},
			args: []string{"--liveness-interval=10s"}, source: "STENT_DEAD_AFTER", value: "10s"},
		{name: "a park delay in milliseconds", env: map[string]string{"STENT_PARK_AFTER": "250ms"}, source: "STENT_PARK_AFTER", value: "250ms", isDuration: true},
		{name: "a park delay of zero", env: map[string]string{"STENT_PARK_AFTER": "0s"}, source: "STENT_PARK_AFTER", value: "0s"},
		{name: "a negative park delay (off is the way to disable parking)", args: []string{"--park-after=-1s"}, source: "--park-after", value: "-1s", isDuration: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := stentfx.LoadConfig(tt.args, env(tt.env))
			var ce *stentfx.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T); want a *ConfigError", err, err)
			}
			if ce.Source != tt.source || ce.Value != tt.value {
				t.Errorf("error names %s=%q; want %s=%q", ce.Source, ce.Value, tt.source, tt.value)
			}
			if !errors.Is(err, domain.ErrInvalidArgument) {
				t.Errorf("error %v does not match ErrInvalidArgument", err)
			}
			if tt.isDuration && !errors.Is(err, domain.ErrInvalidDuration) {
				t.Errorf("error %v does not match ErrInvalidDuration", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error leaks a password: %v", err)
			}
		})
	}
}

func TestLoadConfigUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want error
	}{
		{name: "an unknown flag", args: []string{"--nope"}, want: domain.ErrInvalidArgument},
		{name: "a positional argument", args: []string{"serve"}, want: domain.ErrInvalidArgument},
		{name: "help", args: []string{"--help"}, want: flag.ErrHelp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := stentfx.LoadConfig(tt.args, nil); !errors.Is(err, tt.want) {
				t.Fatalf("error %v; want %v", err, tt.want)
			}
		})
	}
}

func TestConfigUsageListsEveryVariable(t *testing.T) {
	t.Parallel()
	usage := stentfx.ConfigUsage()
	for _, v := range []string{"STENT_DB", "STENT_REDIS_URL", "STENT_HTTP_ADDR", "STENT_HTTP_TOKEN", "STENT_WORKER", "STENT_QUEUES",
		"STENT_TAGS", "STENT_MAX_CONCURRENCY", "STENT_LEASE", "STENT_WORKER_ID", "STENT_RETENTION", "STENT_CLEANUP_INTERVAL",
		"STENT_AUTO_MIGRATE", "STENT_MAX_PAYLOAD", "STENT_SHUTDOWN_TIMEOUT", "STENT_STARTUP_TIMEOUT", "STENT_LOG_LEVEL",
		"STENT_LOG_FORMAT", "STENT_EXAMPLES", "STENT_NOTIFIER", "STENT_WORKER_NAME", "STENT_LIVENESS_INTERVAL", "STENT_DEAD_AFTER",
		"STENT_PARK_AFTER"} {
		if !strings.Contains(usage, v) {
			t.Errorf("usage does not mention %s", v)
		}
	}
}

func TestConfigLogsWithoutSecrets(t *testing.T) {
	t.Parallel()
	cfg, err := stentfx.LoadConfig(nil, env(map[string]string{
		"STENT_DB": "postgres://bob:s3cret@db:5432/x", "STENT_REDIS_URL": "redis://:r3dispw@r:6379", "STENT_HTTP_TOKEN": "t0ken",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("configured", "config", cfg)
	for _, secret := range []string{"s3cret", "r3dispw", "t0ken"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the logged configuration leaks %q: %s", secret, buf.String())
		}
	}
	if !strings.Contains(buf.String(), `"http_auth":true`) {
		t.Errorf("the log should say the API needs a token: %s", buf.String())
	}
}

func TestWorkerOptionsFromConfig(t *testing.T) {
	t.Parallel()
	cfg := stentfx.DefaultConfig()
	cfg.CleanupInterval = 0
	cfg.Queues, cfg.MaxConcurrency, cfg.WorkerID = []string{"q"}, 3, "w"
	cfg.WorkerName, cfg.LivenessInterval, cfg.DeadAfter = "api-1", 2*time.Second, 9*time.Second
	o := stentfx.WorkerOptions(cfg)
	if o.Name != "api-1" || o.LivenessInterval != 2*time.Second || o.DeadAfter != 9*time.Second {
		t.Errorf("name %q, liveness %v, dead after %v; want the configured api-1, 2s, 9s", o.Name, o.LivenessInterval, o.DeadAfter)
	}
	if o.CleanupInterval >= 0 {
		t.Errorf("CleanupInterval %v; a 0 setting must disable the cleanup (negative)", o.CleanupInterval)
	}
	if o.MaxConcurrency != 3 || o.ID != "w" || o.Queues[0] != "q" || o.LeaseDuration != cfg.Lease || o.DrainTimeout != cfg.ShutdownTimeout {
		t.Errorf("options %+v do not follow the configuration", o)
	}
}
