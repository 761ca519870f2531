package contract

import (
	"fmt"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

func (f *fixture) send(execID, name, payload string, now time.Time) *domain.Task {
	f.t.Helper()
	got, err := f.s.SendSignal(f.ctx, execID, name, js(payload), now)
	f.noErr(err, "SendSignal")
	return got
}

func testSignals(t *testing.T, h storeSuite) {
	h.run(t, "a message sent before the wait is buffered and consumed by the next signal step", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		if got := f.send(e.ID, "approval", `{"ok": true}`, at(time.Second)); got != nil {
			t.Errorf("SendSignal with no waiting step returned step %s; want nil", got.ID)
		}
		msgs := f.signals(e.ID)
		if len(msgs) != 1 || msgs[0].Seq != 1 || msgs[0].ConsumedBy != "" || msgs[0].Name != "approval" {
			t.Fatalf("buffered messages = %+v; want one unconsumed approval with seq 1", msgs)
		}
		f.eqTime("message created_at", msgs[0].CreatedAt, at(time.Second))
		step := f.steps(root, at(2*time.Second), signalSpec(root, 1, "approval"))[0]
		f.eq("step state", step.State, domain.TaskCompleted)
		f.eqRaw("step result", step.Result, js(`{"ok": true}`))
		f.eqTimePtr("step finished_at", step.FinishedAt, ptrTo(at(2*time.Second)))
		msgs = f.signals(e.ID)
		f.eq("consumed by", msgs[0].ConsumedBy, step.ID)
		f.eqTimePtr("consumed at", msgs[0].ConsumedAt, ptrTo(at(2*time.Second)))
	})

	h.run(t, "messages are consumed in send order by successive signal steps", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		for i, p := range []string{`1`, `2`, `3`} {
			f.send(e.ID, "n", p, at(time.Duration(i+1)*time.Second))
		}
		for i, want := range []string{`1`, `2`, `3`} {
			step := f.steps(root, at(time.Minute), signalSpec(root, i+1, "n"))[0]
			f.eqRaw(fmt.Sprintf("wait %d", i+1), step.Result, js(want))
		}
		fourth := f.steps(root, at(time.Minute), signalSpec(root, 4, "n"))[0]
		f.eq("a fourth wait", fourth.State, domain.TaskPending)
		again := f.steps(root, at(2*time.Minute), signalSpec(root, 1, "n"))[0]
		f.eqRaw("a re-attached wait keeps its payload", again.Result, js(`1`))
		msgs := f.signals(e.ID)
		f.eq("messages", len(msgs), 3)
	})

	h.run(t, "a send completes the oldest pending signal step", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		first := f.steps(root, at(time.Second), signalSpec(root, 2, "go"))[0]
		second := f.steps(root, at(2*time.Second), signalSpec(root, 1, "go"))[0]
		f.eq("waiting", first.State, domain.TaskPending)
		got := f.send(e.ID, "go", `"a"`, at(time.Minute))
		if got == nil {
			t.Fatal("SendSignal returned no step; want the oldest waiting step")
		}
		f.eq("completed step", got.ID, first.ID)
		f.eq("returned state", got.State, domain.TaskCompleted)
		f.eqRaw("returned result", got.Result, js(`"a"`))
		f.eq("stored", mustJSON(f.task(first.ID)), mustJSON(*got))
		f.state(second.ID, domain.TaskPending)
		got = f.send(e.ID, "go", `"b"`, at(2*time.Minute))
		if got == nil || got.ID != second.ID {
			t.Fatalf("second SendSignal completed %v; want %s", got, second.ID)
		}
		msgs := f.signals(e.ID)
		f.eq("consumers", []string{msgs[0].ConsumedBy, msgs[1].ConsumedBy}, []string{first.ID, second.ID})
	})

	h.run(t, "signal names are independent and numbered from 1 each", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		f.send(e.ID, "b", `"b1"`, at(time.Second))
		f.send(e.ID, "a", `"a1"`, at(2*time.Second))
		f.send(e.ID, "b", `"b2"`, at(3*time.Second))
		msgs := f.signals(e.ID)
		var got []string
		for _, m := range msgs {
			got = append(got, fmt.Sprintf("%s/%d/%s", m.Name, m.Seq, m.Payload))
		}
		f.eq("messages by name, seq", got, []string{`a/1/"a1"`, `b/1/"b1"`, `b/2/"b2"`})
		step := f.steps(root, at(time.Minute), signalSpec(root, 1, "a"))[0]
		f.eqRaw("a wait for a", step.Result, js(`"a1"`))
		other, _ := f.start(execOpts{})
		f.eq("another execution's mailbox", len(f.signals(other.ID)), 0)
	})

	h.run(t, "a send to a pending execution is buffered", func(t *testing.T, f *fixture) {
		e, _ := f.create(execOpts{})
		f.send(e.ID, "early", `1`, at(time.Second))
		f.eq("messages", len(f.signals(e.ID)), 1)
	})

	h.run(t, "a send to an unknown execution is not found and stores nothing", func(t *testing.T, f *fixture) {
		id := domain.NewID()
		_, err := f.s.SendSignal(f.ctx, id, "go", js(`1`), at(time.Second))
		f.errNames(err, domain.ErrNotFound, id, "SendSignal")
		// ListSignals of an unknown execution may answer empty or not found.
		msgs, err := f.insp.ListSignals(f.ctx, id)
		if err != nil {
			f.isErr(err, domain.ErrNotFound, "ListSignals of an unknown execution")
		}
		f.eq("messages", len(msgs), 0)
	})

	for _, end := range []string{"completed", "cancelled"} {
		h.run(t, "a send to a "+end+" execution is refused and stores nothing", func(t *testing.T, f *fixture) {
			e, root := f.start(execOpts{})
			f.steps(root, at(time.Second), signalSpec(root, 1, "go"))
			if end == "completed" {
				f.complete(root, `1`, at(2*time.Second))
			} else {
				_, _, err := f.s.CancelExecution(f.ctx, e.ID, at(2*time.Second))
				f.noErr(err, "CancelExecution")
			}
			before := f.snapshot(e.ID)
			_, err := f.s.SendSignal(f.ctx, e.ID, "go", js(`1`), at(time.Minute))
			f.isErr(err, domain.ErrExecutionFinished, "SendSignal")
			f.unchanged(before, "a refused SendSignal", e.ID)
			f.eq("messages", len(f.signals(e.ID)), 0)
		})
	}

	h.run(t, "a reset signal step consumes a buffered message when created again", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		f.send(e.ID, "a", `"a1"`, at(time.Second))
		step := f.steps(root, at(2*time.Second), signalSpec(root, 1, "a"))[0]
		f.eq("first wait", step.State, domain.TaskCompleted)
		f.send(e.ID, "b", `"b1"`, at(3*time.Second))
		_, err := f.s.ResetStep(f.ctx, root.Fence(), signalSpec(root, 1, "b"), at(4*time.Second))
		f.noErr(err, "ResetStep")
		got := f.steps(root, at(5*time.Second), signalSpec(root, 1, "b"))[0]
		f.eq("state", got.State, domain.TaskCompleted)
		f.eqRaw("result", got.Result, js(`"b1"`))
		for _, m := range f.signals(e.ID) {
			if m.Name == "b" && m.ConsumedBy != step.ID {
				t.Errorf("message b/%d consumed by %q; want %s", m.Seq, m.ConsumedBy, step.ID)
			}
		}
	})
	h.run(t, "discarding a pending message removes only it and the next wait gets the next one", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		other, _ := f.start(execOpts{})
		f.send(e.ID, "n", `"bad"`, at(time.Second))
		f.send(e.ID, "n", `"good"`, at(2*time.Second))
		f.send(e.ID, "m", `"m1"`, at(3*time.Second))
		f.send(other.ID, "n", `"other"`, at(4*time.Second))
		got, err := f.s.DiscardSignal(f.ctx, e.ID, "n", 1)
		f.noErr(err, "DiscardSignal")
		f.eq("discarded", fmt.Sprintf("%s/%s/%d/%s", got.ExecutionID, got.Name, got.Seq, got.Payload), fmt.Sprintf(`%s/n/1/"bad"`, e.ID))
		f.eqTime("discarded created_at", got.CreatedAt, at(time.Second))
		var left []string
		for _, m := range f.signals(e.ID) {
			left = append(left, fmt.Sprintf("%s/%d/%s", m.Name, m.Seq, m.Payload))
		}
		f.eq("messages left", left, []string{`m/1/"m1"`, `n/2/"good"`})
		f.eq("another execution's mailbox", len(f.signals(other.ID)), 1)
		step := f.steps(root, at(time.Minute), signalSpec(root, 1, "n"))[0]
		f.eq("wait state", step.State, domain.TaskCompleted)
		f.eqRaw("the wait gets the next message", step.Result, js(`"good"`))
		_, err = f.s.DiscardSignal(f.ctx, e.ID, "n", 1)
		f.errNames(err, domain.ErrNotFound, e.ID, "DiscardSignal of a discarded message")
	})

	h.run(t, "a consumed message cannot be discarded and nothing changes", func(t *testing.T, f *fixture) {
		e, root := f.start(execOpts{})
		f.send(e.ID, "n", `1`, at(time.Second))
		step := f.steps(root, at(2*time.Second), signalSpec(root, 1, "n"))[0]
		f.eq("wait state", step.State, domain.TaskCompleted)
		before := f.snapshot(e.ID)
		_, err := f.s.DiscardSignal(f.ctx, e.ID, "n", 1)
		f.errNames(err, domain.ErrConflict, step.ID, "DiscardSignal of a consumed message")
		f.unchanged(before, "a refused DiscardSignal", e.ID)
		msgs := f.signals(e.ID)
		if len(msgs) != 1 || msgs[0].ConsumedBy != step.ID {
			t.Errorf("messages = %+v; want the consumed one kept", msgs)
		}
	})

	h.run(t, "discarding an unknown message or in an unknown execution is not found", func(t *testing.T, f *fixture) {
		e, _ := f.start(execOpts{})
		f.send(e.ID, "n", `1`, at(time.Second))
		before := f.snapshot(e.ID)
		for _, c := range []struct {
			name string
			seq  int64
		}{{"n", 2}, {"other", 1}} {
			_, err := f.s.DiscardSignal(f.ctx, e.ID, c.name, c.seq)
			f.errNames(err, domain.ErrNotFound, c.name, fmt.Sprintf("DiscardSignal %s #%d", c.name, c.seq))
		}
		id := domain.NewID()
		_, err := f.s.DiscardSignal(f.ctx, id, "n", 1)
		f.errNames(err, domain.ErrNotFound, id, "DiscardSignal in an unknown execution")
		f.unchanged(before, "a DiscardSignal not found", e.ID)
		f.eq("messages", len(f.signals(e.ID)), 1)
	})

	h.run(t, "discarding with a bad id, name or sequence number is an invalid argument", func(t *testing.T, f *fixture) {
		e, _ := f.start(execOpts{})
		f.send(e.ID, "n", `1`, at(time.Second))
		before := f.snapshot(e.ID)
		for _, c := range []struct {
			id, name string
			seq      int64
		}{{"", "n", 1}, {e.ID, "", 1}, {e.ID, "n", 0}, {e.ID, "n", -1}} {
			_, err := f.s.DiscardSignal(f.ctx, c.id, c.name, c.seq)
			f.isErr(err, domain.ErrInvalidArgument, fmt.Sprintf("DiscardSignal(%q, %q, %d)", c.id, c.name, c.seq))
		}
		f.unchanged(before, "an invalid DiscardSignal", e.ID)
		f.eq("messages", len(f.signals(e.ID)), 1)
	})
}
