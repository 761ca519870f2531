package cli

import (
	"testing"
	"time"
)

func TestDurationsPrintForPeople(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{250 * time.Millisecond, "250ms"},
		{400 * time.Microsecond, "<1ms"},         // not 0ms
		{2600 * time.Microsecond, "3ms"},         // rounded, not truncated
		{999600 * time.Microsecond, "1s"},        // not 999ms
		{4814999999 * time.Nanosecond, "4.815s"}, // not 4.8149999999999995s nor 4.814s
		{59999700 * time.Microsecond, "1m"},      // not 60s
		{1500*time.Millisecond + 400*time.Microsecond, "1.5s"},
		{time.Second, "1s"},
		{4940 * time.Millisecond, "4.94s"}, // no float noise (4.9399999999999995s)
		{1500 * time.Millisecond, "1.5s"},

		{90 * time.Second, "1m30s"},
		{time.Hour + 2*time.Minute + 3*time.Second, "1h2m"},
		{50 * time.Minute, "50m"},
		{3*24*time.Hour + 4*time.Hour, "3d4h"},
	} {
		if got := fmtDuration(tt.d); got != tt.want {
			t.Errorf("fmtDuration(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
}

func TestHeartbeatAgesAreRoundedForPeople(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		ago  time.Duration
		want string
	}{
		{-2 * time.Second, "just now"}, // a clock slightly ahead
		{400 * time.Millisecond, "just now"},
		{3900 * time.Millisecond, "3s ago"},
		{59 * time.Second, "59s ago"},
		{7*time.Minute + 59*time.Second, "7m ago"},
		{2*time.Hour + 5*time.Minute + 30*time.Second, "2h5m ago"},
		{3*24*time.Hour + 4*time.Hour + 59*time.Minute, "3d4h ago"},
	} {
		if got := fmtAgo(now, now.Add(-tt.ago)); got != tt.want {
			t.Errorf("fmtAgo(%v) = %q; want %q", tt.ago, got, tt.want)
		}
	}
	if got := fmtAgo(now, time.Time{}); got != "-" {
		t.Errorf("a zero time prints %q; want -", got)
	}
}
