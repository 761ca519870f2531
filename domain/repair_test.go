package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

func repairTasks() []domain.Task {
	step := func(id, parent string, pos int, st domain.TaskState) domain.Task {
		return domain.Task{ID: id, ExecutionID: "e", ParentTaskID: parent, Position: pos, StepName: "fn-" + id, State: st}
	}
	return []domain.Task{
		step("s3", "root", 3, domain.TaskFailed),
		{ID: "root", ExecutionID: "e", Kind: domain.KindOrchestrator, StepName: "wf", State: domain.TaskFailed},
		step("s1", "root", 1, domain.TaskCompleted),
		step("s1.1", "s1", 1, domain.TaskCompleted),
		step("s1.2", "s1", 2, domain.TaskPending), // unawaited below a completed step
		step("s2", "root", 2, domain.TaskCompleted),
		step("s3.1", "s3", 1, domain.TaskFailed),
	}
}

func TestSplitAtStepKeepsTheStepsBeforeItAndTheirTrees(t *testing.T) {
	t.Parallel()
	ids := func(ts []domain.Task) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		n          int
		keep, drop string
	}{
		{1, "", "s1,s1.1,s1.2,s2,s3,s3.1"},
		{2, "s1,s1.1,s1.2", "s2,s3,s3.1"},
		{3, "s1,s1.1,s1.2,s2", "s3,s3.1"},
	} {
		sp, err := domain.SplitAtStep("e", "root", repairTasks(), tc.n)
		if err != nil {
			t.Fatalf("SplitAtStep(%d): %v", tc.n, err)
		}
		if ids(sp.Keep) != tc.keep || ids(sp.Drop) != tc.drop || sp.Root.ID != "root" || sp.Steps != 3 {
			t.Errorf("SplitAtStep(%d) = keep %s drop %s root %s steps %d; want keep %s drop %s",
				tc.n, ids(sp.Keep), ids(sp.Drop), sp.Root.ID, sp.Steps, tc.keep, tc.drop)
		}
	}
}

func TestSplitAtStepRejectsStepsItCannotKeep(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{
		0:  `execution "e": from step 0: steps are numbered from 1`,
		4:  `execution "e": from step 4: step 3 (fn-s3) is failed, and only a completed step's result can be kept; choose step 3 or earlier`,
		5:  `execution "e": from step 5: the execution has 3 recorded steps; choose a step from 1 to 4`,
		-2: `execution "e": from step -2: steps are numbered from 1`,
	} {
		_, err := domain.SplitAtStep("e", "root", repairTasks(), n)
		if err == nil || !errors.Is(err, domain.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("SplitAtStep(%d) = %v; want ErrInvalidArgument %q", n, err, want)
		}
	}
}

func TestForkStepsRenumbersTheCopiesUnderTheNewRoot(t *testing.T) {
	t.Parallel()
	sp, err := domain.SplitAtStep("e", "root", repairTasks(), 3)
	if err != nil {
		t.Fatal(err)
	}
	dl := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	got := domain.ForkSteps(sp.Keep, "root", "f", "froot", &dl)
	s1 := domain.StepID("f", "froot", 1)
	want := []struct{ id, parent string }{
		{s1, "froot"}, {domain.StepID("f", s1, 1), s1}, {domain.StepID("f", s1, 2), s1}, {domain.StepID("f", "froot", 2), "froot"},
	}
	for i, w := range want {
		if got[i].ID != w.id || got[i].ParentTaskID != w.parent || got[i].ExecutionID != "f" || !got[i].Deadline.Equal(dl) {
			t.Errorf("copy %d = %s under %s in %s; want %s under %s", i, got[i].ID, got[i].ParentTaskID, got[i].ExecutionID, w.id, w.parent)
		}
	}
	if got[2].State != domain.TaskCancelled {
		t.Errorf("a live task below a kept step is copied %s; want cancelled", got[2].State)
	}
}

func TestOnlyAnEndedRunThatDidNotCompleteCanBeReset(t *testing.T) {
	t.Parallel()
	for _, s := range domain.ExecutionStates {
		err := domain.CheckResettable("e", s)
		if domain.ExecReset.Allows(s) != (err == nil) {
			t.Errorf("CheckResettable(%s) = %v", s, err)
		}
		if err != nil && (!errors.Is(err, domain.ErrInvalidTransition) || !strings.Contains(err.Error(), `execution "e" is `+string(s)+`; only a failed, timed_out or cancelled execution can be reset`)) {
			t.Errorf("CheckResettable(%s) = %v; want ErrInvalidTransition naming the state and the allowed ones", s, err)
		}
	}
}
