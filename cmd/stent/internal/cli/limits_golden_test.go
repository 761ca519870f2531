package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/ports"
)

// TestGoldenQueuesLimits lists the queues and the flow limits in use of a
// seeded database with limited tasks added: a full concurrency key, a
// key-less function limit and a queue rate limit with a start in its
// window, on SQLite and PostgreSQL against the same golden file.
func TestGoldenQueuesLimits(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			h := newSeeded(t, b)
			s := &seeder{t: t, ctx: context.Background(), st: h.st}
			const ex = "ex-limited"
			s.create(ex, "order", "default", `{"order":60}`, at(9*time.Minute), nil)
			root := s.claim(rootOf(ex), "order", "worker-4", at(9*time.Minute+time.Second), time.Hour)
			c1, c2 := activity(ex, 1, "charge", `{"customer":"cust-7"}`), activity(ex, 2, "charge", `{"customer":"cust-7"}`)
			c1.MaxConcurrent, c1.ConcurrencyKey = 1, "function:charge:cust-7"
			c2.MaxConcurrent, c2.ConcurrencyKey = 1, "function:charge:cust-7"
			n1 := activity(ex, 3, "notify", `1`)
			n1.MaxConcurrent = 3
			m1 := activity(ex, 4, "mail", `1`)
			m1.Queue, m1.RateKey, m1.RateLimit, m1.RatePer = "emails", "queue:emails:", 10, time.Minute
			s.steps(root, at(9*time.Minute+2*time.Second), nil, c1, c2, n1, m1)
			// Either charge step (equal creation times): the key admits one.
			got1, err := h.st.ClaimTasks(s.ctx, ports.ClaimParams{WorkerID: "worker-4", Functions: []string{"charge"}, Limit: 2,
				Now: at(9*time.Minute + 3*time.Second), Lease: time.Hour})
			s.must(err, "claim charge")
			if len(got1) != 1 {
				t.Fatalf("claimed %d charge steps under a key of limit 1", len(got1))
			}
			s.claim(stepOf(ex, 4), "mail", "worker-4", cliNow.Add(-10*time.Second), time.Hour)
			var got strings.Builder
			for _, c := range []call{args("queues"), args("--json", "queues")} {
				got.WriteString("$ stent " + shellLine(c.args) + "\n")
				got.WriteString(render(h.exec(t, c)))
			}
			checkGolden(t, b, "queues-limits", h.normalise(got.String()))
		})
	}
}
