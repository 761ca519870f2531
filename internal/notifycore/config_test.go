package notifycore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore"
)

func TestConfigWithDefaults(t *testing.T) {
	t.Parallel()
	t.Run("the zero config gets every default", func(t *testing.T) {
		t.Parallel()
		c, err := notifycore.Config{}.WithDefaults("x")
		if err != nil {
			t.Fatal(err)
		}
		if c.Prefix != "stent:" || c.ConfirmTimeout != 5*time.Second || c.ReconnectMin != 100*time.Millisecond ||
			c.ReconnectMax != 5*time.Second || c.HealthCheckInterval != 10*time.Second ||
			c.PublishTimeout != 2*time.Second || c.BufferSize != 64 || c.Logger == nil {
			t.Fatalf("defaults: %+v", c)
		}
	})
	t.Run("a reconnect minimum above the default maximum raises the maximum", func(t *testing.T) {
		t.Parallel()
		c, err := notifycore.Config{ReconnectMin: time.Minute}.WithDefaults("x")
		if err != nil || c.ReconnectMax != time.Minute {
			t.Fatalf("ReconnectMax = %v, %v", c.ReconnectMax, err)
		}
	})
	tests := []struct {
		name string
		cfg  notifycore.Config
		want string
	}{
		{"a negative confirm timeout", notifycore.Config{ConfirmTimeout: -time.Second}, "pkg: Config.ConfirmTimeout is -1s"},
		{"a negative reconnect delay", notifycore.Config{ReconnectMin: -1}, "Config.ReconnectMin is -1ns"},
		{"a negative health check interval", notifycore.Config{HealthCheckInterval: -1}, "HealthCheckInterval is -1ns"},
		{"a negative publish timeout", notifycore.Config{PublishTimeout: -1}, "PublishTimeout is -1ns"},
		{"a reconnect maximum below the minimum", notifycore.Config{ReconnectMin: time.Second, ReconnectMax: time.Millisecond}, "ReconnectMax 1ms is below ReconnectMin 1s"},
		{"a negative buffer", notifycore.Config{BufferSize: -3}, "BufferSize is -3"},
	}
	for _, tc := range tests {
		t.Run(tc.name+" is rejected, naming the value", func(t *testing.T) {
			t.Parallel()
			_, err := tc.cfg.WithDefaults("pkg")
			if !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WithDefaults: %v; want ErrInvalidArgument mentioning %q", err, tc.want)
			}
		})
	}
}
