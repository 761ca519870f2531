package contract

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// storePayloads are JSON documents whose bytes a reformatting store would
// change, plus nil and null.
var storePayloads = []struct {
	name string
	doc  json.RawMessage
}{
	{"nil", nil},
	{"null", js(`null`)},
	{"spaced object", js(`{"b": 1,  "a" : [ 1 , 2 ] }`)},
	{"unicode string", js(`"h\u00e9llo w\u00f6rld ✓"`)},
	{"trailing zero number", js(`1.50`)},
	{"big integer", js(`12345678901234567890123`)},
	{"empty array", js(`[]`)},
}

func testPayloadsAndTimes(t *testing.T, h storeSuite) {
	for _, p := range storePayloads {
		h.run(t, "a "+p.name+" payload round-trips byte for byte", func(t *testing.T, f *fixture) {
			e, _ := f.create(execOpts{Input: string(p.doc)})
			f.eqRaw("execution input", f.exec(e.ID).Input, p.doc)
			f.eqRaw("root input", f.task(e.RootTaskID).Input, p.doc)

			_, root := f.start(execOpts{})
			spec := activitySpec(root, 1, "echo")
			spec.Input = p.doc
			rec := f.steps(root, at(time.Second), spec)[0]
			f.eqRaw("returned step input", rec.Input, p.doc)
			child := f.claimID(at(time.Second), rec.ID)
			f.eqRaw("claimed step input", child.Input, p.doc)
			f.noErr(ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: child.Fence(), Result: p.doc, Now: at(2 * time.Second)}), "CompleteTask")
			f.eqRaw("step result", f.task(child.ID).Result, p.doc)

			f.noErr(ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: root.Fence(), Result: p.doc, Now: at(3 * time.Second)}), "CompleteTask root")
			f.eqRaw("execution result", f.exec(root.ExecutionID).Result, p.doc)
			f.eqRaw("root result", f.task(root.ID).Result, p.doc)

			w, _ := f.create(execOpts{})
			_, err := f.s.SendSignal(f.ctx, w.ID, "go", p.doc, at(time.Second))
			f.noErr(err, "SendSignal")
			if sigs := f.signals(w.ID); len(sigs) == 1 {
				f.eqRaw("signal payload", sigs[0].Payload, p.doc)
			} else {
				t.Errorf("ListSignals returned %d messages; want 1", len(sigs))
			}
		})
	}

	h.run(t, "non-UTC times come back in UTC truncated to the microsecond", func(t *testing.T, f *fixture) {
		zone := time.FixedZone("UTC+05:30", 5*3600+30*60)
		created := epoch.Add(1234567891 * time.Nanosecond).In(zone)
		sched := created.Add(-time.Second)
		deadline := created.Add(time.Hour)
		e, root := f.create(execOpts{CreatedAt: created, ScheduledFor: &sched, Deadline: &deadline})
		norm := domain.NormalizeTime
		f.eqTime("created_at", e.CreatedAt, norm(created))
		if e.CreatedAt.Nanosecond()%1000 != 0 {
			t.Errorf("created_at %s keeps nanoseconds", e.CreatedAt)
		}
		f.eqTimePtr("scheduled_for", e.ScheduledFor, ptrTo(norm(sched)))
		f.eqTimePtr("deadline", e.Deadline, ptrTo(norm(deadline)))
		f.eqTimePtr("root deadline", root.Deadline, ptrTo(norm(deadline)))

		now := created.Add(500 * time.Nanosecond)
		claimed := f.claim(ports.ClaimParams{Functions: []string{root.StepName}, Now: now, Lease: 90 * time.Second})
		if len(claimed) != 1 {
			t.Fatalf("claim returned %d tasks; want 1", len(claimed))
		}
		c := f.task(root.ID)
		f.eqTimePtr("started_at", c.StartedAt, ptrTo(norm(now)))
		f.eqTimePtr("lease_expires_at", c.LeaseExpiresAt, ptrTo(norm(now).Add(90*time.Second)))
		f.eqTimePtr("execution started_at", f.exec(e.ID).StartedAt, ptrTo(norm(now)))
		f.eqTimePtr("returned lease_expires_at", claimed[0].LeaseExpiresAt, c.LeaseExpiresAt)
	})

	h.run(t, "times 1 µs apart keep their order", func(t *testing.T, f *fixture) {
		// Ids sort against creation order, so only the times can order them.
		for i := range 3 {
			f.create(execOpts{ID: uuidN(9 - i), RootID: uuidN(19 - i), Fn: "tick",
				CreatedAt: epoch.Add(time.Duration(i)*time.Microsecond + 999*time.Nanosecond)})
		}
		list, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{})
		f.noErr(err, "ListExecutions")
		f.eq("newest first", execIDs(list), []string{uuidN(7), uuidN(8), uuidN(9)})
		for i, want := range []string{uuidN(19), uuidN(18), uuidN(17)} {
			got := f.claimOne(at(time.Second), "tick")
			f.eq("claim order", got.ID, want)
			f.eqTime("created_at", got.CreatedAt, epoch.Add(time.Duration(i)*time.Microsecond))
		}
	})
}
