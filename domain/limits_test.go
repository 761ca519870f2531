package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

func TestRateWindowFree(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	s := func(d time.Duration) time.Time { return now.Add(-d) }
	starts := []time.Time{s(9 * time.Second), s(5 * time.Second), s(time.Second)}
	for _, c := range []struct {
		name  string
		limit int
		want  time.Time
	}{
		{"fewer starts than the limit: now", 4, now},
		{"at the limit: when the oldest leaves the window", 3, s(9 * time.Second).Add(10 * time.Second)},
		{"over the limit: when enough have left", 2, s(5 * time.Second).Add(10 * time.Second)},
	} {
		if got := domain.RateWindowFree(starts, c.limit, 10*time.Second, now); !got.Equal(c.want) {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestValidateLimitNamesTheBadValue(t *testing.T) {
	t.Parallel()
	zero, neg := time.Duration(0), -time.Minute
	for _, c := range []struct {
		err  error
		want string
	}{
		{domain.ValidateLimit("WithConcurrency", 0, nil), "WithConcurrency: limit 0; want 1 or more"},
		{domain.ValidateLimit("WithRateLimit", 3, &zero), "WithRateLimit: period 0s; want a positive duration"},
		{domain.ValidateLimit("WithRateLimit", 3, &neg), "period -1m0s"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v; want %q", c.err, c.want)
		}
	}
	if err := domain.ValidateLimit("WithRateLimit", 1, &neg); err == nil {
		t.Error("a negative period passed")
	}
}

func TestWaitReasonShowsARateLimitHold(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	until := now.Add(4*time.Minute + 5*time.Second)
	steps := []domain.ProgressEntry{{TaskID: "r", Kind: domain.KindOrchestrator, Step: "notify", State: domain.TaskPending,
		CreatedAt: now, RateLimitedUntil: &until}}
	if got, want := domain.WaitReason(domain.ExecutionPending, steps, nil, now), "rate limited until 15:04:05 (notify)"; got != want {
		t.Errorf("wait reason %q; want %q", got, want)
	}
	// Once the hold has passed the task is queued like any other.
	if got := domain.WaitReason(domain.ExecutionPending, steps, nil, until); !strings.HasPrefix(got, "queued: notify") {
		t.Errorf("wait reason after the hold %q; want queued", got)
	}
}
