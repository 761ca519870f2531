package contract

import (
	"slices"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// claimVersions claims every eligible task of the functions of versions
// (function -> version, "" unversioned) at now as workerA, strictly.
func (f *fixture) claimVersions(now time.Time, versions map[string]string) []string {
	f.t.Helper()
	var fns []string
	for fn := range versions {
		fns = append(fns, fn)
	}
	var ids []string
	for _, t := range f.claim(ports.ClaimParams{Functions: fns, Versions: versions, Now: now}) {
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func testVersions(t *testing.T, h storeSuite) {
	h.run(t, "an execution and its tasks keep their version, and executions filter by it", func(t *testing.T, f *fixture) {
		fn := "vwf-" + domain.NewID()[:8]
		v1, _ := f.create(execOpts{Fn: fn, Version: "v1"})
		v2, root2 := f.create(execOpts{Fn: fn, Version: "v2", CreatedAt: at(time.Second)})
		plain, _ := f.create(execOpts{Fn: fn, CreatedAt: at(2 * time.Second)})
		f.eq("execution version", v2.Version, "v2")
		f.eq("root version", root2.Version, "v2")
		f.eq("unversioned execution", plain.Version, "")
		got, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Function: fn, Version: "v1"})
		f.noErr(err, "ListExecutions")
		if len(got) != 1 || got[0].ID != v1.ID || got[0].Version != "v1" {
			t.Fatalf("ListExecutions(version v1) = %+v; want only %s", got, v1.ID)
		}
		all, err := f.s.ListExecutions(f.ctx, ports.ExecutionFilter{Function: fn})
		f.noErr(err, "ListExecutions")
		f.eq("without a version filter", len(all), 3)
		prog, err := f.s.ListProgress(f.ctx, v2.ID)
		f.noErr(err, "ListProgress")
		f.eq("progress version", prog[0].Version, "v2")
	})

	h.run(t, "a strict claim takes only the versions the worker registers", func(t *testing.T, f *fixture) {
		fn := "vwf-" + domain.NewID()[:8]
		other := "vother-" + domain.NewID()[:8]
		_, r1 := f.create(execOpts{Fn: fn, Version: "v1"})
		_, r2 := f.create(execOpts{Fn: fn, Version: "v2"})
		_, r0 := f.create(execOpts{Fn: fn})
		_, o1 := f.create(execOpts{Fn: other, Version: "v1"})
		// fn at v2 and other unversioned: other@v1 does not match, though
		// the worker has a function at v1.
		f.eq("claimed by a worker with fn@v2", f.claimVersions(at(time.Second), map[string]string{fn: "v2", other: ""}), []string{r2.ID})
		f.eq("claimed by an unversioned worker", f.claimVersions(at(time.Second), map[string]string{fn: "", other: "v2"}), []string{r0.ID})
		f.eq("claimed by a worker with fn@v3", f.claimVersions(at(time.Second), map[string]string{fn: "v3"}), []string(nil))
		f.eq("claimed by a worker with fn@v1, other@v1", f.claimVersions(at(time.Second), map[string]string{fn: "v1", other: "v1"}), sorted(r1.ID, o1.ID))
	})

	h.run(t, "a claim with AnyVersion takes every version", func(t *testing.T, f *fixture) {
		fn := "vwf-" + domain.NewID()[:8]
		f.create(execOpts{Fn: fn, Version: "v1"})
		f.create(execOpts{Fn: fn, Version: "v2"})
		f.create(execOpts{Fn: fn})
		got := f.claim(ports.ClaimParams{Functions: []string{fn}, Versions: map[string]string{fn: "v9"}, AnyVersion: true, Now: at(time.Second)})
		f.eq("claimed", len(got), 3)
	})

	h.run(t, "a step keeps its spec's version and is claimed by it", func(t *testing.T, f *fixture) {
		_, root := f.start(execOpts{})
		child := "vchild-" + domain.NewID()[:8]
		spec := activitySpec(root, 1, child)
		spec.Version = "v3"
		rec := f.steps(root, at(time.Second), spec)[0]
		f.eq("step version", rec.Version, "v3")
		f.eq("stored step version", f.task(rec.ID).Version, "v3")
		f.eq("claimed at v2", f.claimVersions(at(2*time.Second), map[string]string{child: "v2"}), []string(nil))
		f.eq("claimed unversioned", f.claimVersions(at(2*time.Second), map[string]string{child: ""}), []string(nil))
		f.eq("claimed at v3", f.claimVersions(at(2*time.Second), map[string]string{child: "v3"}), []string{rec.ID})
	})

	h.run(t, "NextWake and resumes follow the version", func(t *testing.T, f *fixture) {
		fn := "vwf-" + domain.NewID()[:8]
		f.create(execOpts{Fn: fn, Version: "v2"})
		got := f.claim(ports.ClaimParams{Functions: []string{fn}, Versions: map[string]string{fn: "v2"}, Now: at(time.Second)})
		if len(got) != 1 {
			t.Fatalf("claimed %d; want 1", len(got))
		}
		wake := at(time.Hour)
		f.park(got[0], ports.ParkParams{WakeAt: &wake, Now: at(2 * time.Second)}, true)
		for _, tc := range []struct {
			name     string
			versions map[string]string
			any      bool
			want     bool
		}{
			{"a worker at v2", map[string]string{fn: "v2"}, false, true},
			{"a worker at v1", map[string]string{fn: "v1"}, false, false},
			{"an unversioned worker", nil, false, false},
			{"an unversioned worker claiming any version", nil, true, true},
		} {
			_, ok, err := f.s.NextWake(f.ctx, ports.ClaimParams{WorkerID: workerA, Functions: []string{fn}, Versions: tc.versions,
				AnyVersion: tc.any, Limit: 1, Lease: storeLease})
			f.noErr(err, "NextWake")
			f.eq("NextWake for "+tc.name, ok, tc.want)
		}
		f.eq("resumed by a worker at v1", f.claimVersions(wake, map[string]string{fn: "v1"}), []string(nil))
		f.eq("resumed by a worker at v2", len(f.claimVersions(wake, map[string]string{fn: "v2"})), 1)
	})

	h.run(t, "a worker's versions and policy are listed as registered", func(t *testing.T, f *fixture) {
		w := domain.WorkerInfo{ID: workerA, Host: "h", Process: "p", Functions: []string{"a", "b"},
			Versions: map[string]string{"a": "v2"}, VersionPolicy: domain.VersionAny}
		f.noErr(f.s.RegisterWorker(f.ctx, w, at(time.Second)), "RegisterWorker")
		plain := domain.WorkerInfo{ID: workerB, Host: "h", Process: "p", Functions: []string{"a"}}
		f.noErr(f.s.RegisterWorker(f.ctx, plain, at(time.Second)), "RegisterWorker")
		ws := f.workers()
		f.eq("versions", ws[workerA].Versions, map[string]string{"a": "v2"})
		f.eq("policy", ws[workerA].VersionPolicy, domain.VersionAny)
		f.eq("versions of an unversioned worker", ws[workerB].Versions, map[string]string(nil))
		f.eq("policy by default", ws[workerB].VersionPolicy, domain.VersionStrict)
		bad := plain
		bad.VersionPolicy = "newest"
		f.isErr(f.s.RegisterWorker(f.ctx, bad, at(time.Second)), domain.ErrInvalidArgument, "RegisterWorker with an unknown policy")
		_, err := f.s.ClaimTasks(f.ctx, ports.ClaimParams{WorkerID: workerA, Functions: []string{"a"},
			Versions: map[string]string{"a": "v\x00"}, Limit: 1, Now: at(time.Second), Lease: storeLease})
		f.isErr(err, domain.ErrInvalidArgument, "ClaimTasks with a NUL in a version")
	})
}
