package contract

import (
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// register registers a worker at now.
func (f *fixture) register(id string, now time.Time) domain.WorkerInfo {
	f.t.Helper()
	w := domain.WorkerInfo{ID: id, Name: "name-" + id, Host: "host-1", PID: 4242, Process: "process-" + id,
		Queues: []string{"default", "q"}, Functions: []string{"fn-a", "fn-b"}}
	f.noErr(f.s.RegisterWorker(f.ctx, w, now), "RegisterWorker")
	return w
}

func (f *fixture) workers() map[string]domain.WorkerInfo {
	f.t.Helper()
	ws, err := f.s.ListWorkers(f.ctx)
	f.noErr(err, "ListWorkers")
	out := make(map[string]domain.WorkerInfo, len(ws))
	for _, w := range ws {
		out[w.ID] = w
	}
	return out
}

func testWorkers(t *testing.T, h storeSuite) {
	h.run(t, "a registered worker is listed with what it registered", func(t *testing.T, f *fixture) {
		in := f.register(workerA, at(time.Second))
		got := f.workers()[workerA]
		f.eq("name", got.Name, in.Name)
		f.eq("host", got.Host, in.Host)
		f.eq("pid", got.PID, in.PID)
		f.eq("process", got.Process, in.Process)
		f.eq("queues", got.Queues, in.Queues)
		f.eq("functions", got.Functions, in.Functions)
		f.eq("state", got.State, domain.WorkerLive)
		f.eqTime("started_at", got.StartedAt, at(time.Second))
		f.eqTime("heartbeat_at", got.HeartbeatAt, at(time.Second))
		f.eqTimePtr("stopped_at", got.StoppedAt, nil)

		f.noErr(f.s.TouchWorker(f.ctx, workerA, at(time.Minute)), "TouchWorker")
		f.eqTime("heartbeat_at after a touch", f.workers()[workerA].HeartbeatAt, at(time.Minute))
		f.noErr(f.s.StopWorker(f.ctx, workerA, at(2*time.Minute)), "StopWorker")
		got = f.workers()[workerA]
		f.eq("state after stop", got.State, domain.WorkerStopped)
		f.eqTimePtr("stopped_at", got.StoppedAt, ptrTo(at(2*time.Minute)))
	})

	h.run(t, "live workers are listed first", func(t *testing.T, f *fixture) {
		f.register("w-1", at(time.Second))
		f.register("w-2", at(time.Second))
		f.register("w-3", at(time.Second))
		f.noErr(f.s.StopWorker(f.ctx, "w-1", at(time.Minute)), "StopWorker")
		ws, err := f.s.ListWorkers(f.ctx)
		f.noErr(err, "ListWorkers")
		var ids []string
		for _, w := range ws {
			ids = append(ids, w.ID)
		}
		f.eq("order", ids, []string{"w-2", "w-3", "w-1"})
	})

	h.run(t, "a dead worker's running tasks are reclaimed at once, as recoveries", func(t *testing.T, f *fixture) {
		f.register(workerA, epoch)
		f.register(workerB, epoch)
		_, root := f.start(execOpts{}) // workerA holds it for an hour
		f.noErr(f.s.TouchWorker(f.ctx, workerB, at(time.Minute)), "TouchWorker")

		expired, err := f.s.ExpireWorkers(f.ctx, ports.ExpireWorkersParams{StaleBefore: at(30 * time.Second), Except: workerB, Now: at(time.Minute)})
		f.noErr(err, "ExpireWorkers")
		if len(expired) != 1 || expired[0].Worker.ID != workerA || expired[0].Tasks != 1 {
			t.Fatalf("ExpireWorkers = %+v; want %s with 1 task", expired, workerA)
		}
		a := f.workers()[workerA]
		f.eq("state of the dead worker", a.State, domain.WorkerDead)
		f.eqTimePtr("stopped_at of the dead worker", a.StoppedAt, ptrTo(at(time.Minute)))
		f.eq("state of the live worker", f.workers()[workerB].State, domain.WorkerLive)

		got := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{root.StepName}, Now: at(time.Minute)})
		if len(got) != 1 || got[0].ID != root.ID {
			t.Fatalf("claim after the expiry = %v; want %s", taskIDs(got), root.ID)
		}
		f.eq("attempt", got[0].Attempt, root.Attempt)
		f.eq("recoveries", got[0].Recoveries, 1)
		f.isErr(got[0].LastError, domain.ErrLeaseLost, "last error")
	})

	h.run(t, "a zombie's late writes after adoption are rejected", func(t *testing.T, f *fixture) {
		f.register(workerA, epoch)
		_, root := f.start(execOpts{})
		_, err := f.s.ExpireWorkers(f.ctx, ports.ExpireWorkersParams{IDs: []string{workerA}, Now: at(time.Second)})
		f.noErr(err, "ExpireWorkers")
		// Before anyone reclaims the task, the zombie can neither renew
		// its lease nor finish the task.
		st, err := f.s.RenewLeases(f.ctx, []domain.Fence{root.Fence()}, at(2*time.Second), storeLease)
		f.noErr(err, "RenewLeases")
		f.eq("renewal held", st[0].Held, false)
		err = ports.CompleteTask(f.ctx, f.s, ports.CompleteParams{Fence: root.Fence(), Result: js(`"zombie"`), Now: at(3 * time.Second)})
		f.isErr(err, domain.ErrLeaseLost, "CompleteTask by the zombie")
		wake := at(time.Hour)
		_, err = f.s.ParkTask(f.ctx, ports.ParkParams{Fence: root.Fence(), WakeAt: &wake, Now: at(3 * time.Second)})
		f.isErr(err, domain.ErrLeaseLost, "ParkTask by the zombie")
		fresh := f.claim(ports.ClaimParams{WorkerID: workerB, Functions: []string{root.StepName}, Now: at(4 * time.Second)})
		f.eq("reclaimed", taskIDs(fresh), []string{root.ID})
		f.complete(fresh[0], `"new"`, at(5*time.Second))
		f.eqRaw("result", f.task(root.ID).Result, js(`"new"`))
		// A zombie that comes back to life is live again; its old leases
		// stay ended.
		f.noErr(f.s.TouchWorker(f.ctx, workerA, at(6*time.Second)), "TouchWorker by the zombie")
		f.eq("state", f.workers()[workerA].State, domain.WorkerLive)
	})

	h.run(t, "ExpireWorkers selects by id or stale heartbeat and spares the caller, its process and fresh workers", func(t *testing.T, f *fixture) {
		f.register("w-fresh", at(time.Minute))
		f.register("w-stale", epoch)
		f.register("w-named", at(time.Minute))
		f.register("w-self", epoch)
		f.register("w-stopped", epoch)
		f.register("w-sibling", epoch) // registered with Process "process-w-sibling"
		f.noErr(f.s.StopWorker(f.ctx, "w-stopped", at(time.Second)), "StopWorker")
		expired, err := f.s.ExpireWorkers(f.ctx, ports.ExpireWorkersParams{
			IDs: []string{"w-named", "w-stopped"}, StaleBefore: at(30 * time.Second), Except: "w-self",
			ExceptProcess: "process-w-sibling", Now: at(time.Minute)})
		f.noErr(err, "ExpireWorkers")
		var ids []string
		for _, e := range expired {
			ids = append(ids, e.Worker.ID)
		}
		f.eq("expired", ids, []string{"w-named", "w-stale"})
		ws := f.workers()
		f.eq("fresh", ws["w-fresh"].State, domain.WorkerLive)
		f.eq("self", ws["w-self"].State, domain.WorkerLive)
		f.eq("a worker of the caller's process", ws["w-sibling"].State, domain.WorkerLive)
		f.eq("stopped", ws["w-stopped"].State, domain.WorkerStopped)
		again, err := f.s.ExpireWorkers(f.ctx, ports.ExpireWorkersParams{IDs: []string{"w-named"}, Now: at(2 * time.Minute)})
		f.noErr(err, "ExpireWorkers again")
		f.eq("a dead worker is not expired twice", len(again), 0)
	})

	h.run(t, "cleanup removes old stopped and dead workers and keeps live ones", func(t *testing.T, f *fixture) {
		f.register("w-live", epoch)
		f.register("w-stopped", epoch)
		f.register("w-dead", epoch)
		f.register("w-recent", at(time.Hour))
		f.noErr(f.s.StopWorker(f.ctx, "w-stopped", at(time.Second)), "StopWorker")
		f.noErr(f.s.StopWorker(f.ctx, "w-recent", at(time.Hour)), "StopWorker")
		_, err := f.s.ExpireWorkers(f.ctx, ports.ExpireWorkersParams{IDs: []string{"w-dead"}, Now: at(time.Second)})
		f.noErr(err, "ExpireWorkers")
		p := ports.CleanupParams{WorkersBefore: at(time.Minute), DryRun: true}
		res, err := f.s.Cleanup(f.ctx, p)
		f.noErr(err, "Cleanup dry run")
		f.eq("workers counted", res.Workers, 2)
		f.eq("listed after a dry run", len(f.workers()), 4)
		p.DryRun = false
		res, err = f.s.Cleanup(f.ctx, p)
		f.noErr(err, "Cleanup")
		f.eq("workers removed", res.Workers, 2)
		ws := f.workers()
		_, live := ws["w-live"]
		_, recent := ws["w-recent"]
		f.eq("kept", live && recent && len(ws) == 2, true)
	})

	h.run(t, "worker registry bad input", func(t *testing.T, f *fixture) {
		f.isErr(f.s.RegisterWorker(f.ctx, domain.WorkerInfo{}, epoch), domain.ErrInvalidArgument, "RegisterWorker without an id")
		f.isErr(f.s.TouchWorker(f.ctx, "nobody", epoch), domain.ErrNotFound, "TouchWorker of an unknown worker")
		f.isErr(f.s.StopWorker(f.ctx, "nobody", epoch), domain.ErrNotFound, "StopWorker of an unknown worker")
		f.eq("listed", len(f.workers()), 0)
	})
}
