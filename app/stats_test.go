package app_test

import (
	"context"
	"testing"

	"go.uber.org/mock/gomock"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/ports/portsmock"
)

// Stats must answer from count queries only (review plan P1.3): the mock
// store fails the test on any other call, such as a List method.
func TestStatsUsesCountQueriesOnly(t *testing.T) {
	t.Parallel()
	ctrl := gomock.NewController(t)
	store := portsmock.NewMockStore(ctrl)
	store.EXPECT().CountExecutionsByState(gomock.Any()).Return(map[domain.ExecutionState]int64{
		domain.ExecutionRunning: 2, domain.ExecutionCompleted: 5}, nil)
	store.EXPECT().CountTasks(gomock.Any()).Return([]ports.TaskCount{
		{State: domain.TaskPending, Queue: "default", Kind: domain.KindActivity, N: 3},
		{State: domain.TaskPending, Queue: "default", Kind: domain.KindSleep, N: 4},
		{State: domain.TaskRunning, Queue: "mail", Kind: domain.KindOrchestrator, N: 2},
	}, nil)
	store.EXPECT().CountDeadLetters(gomock.Any()).Return(int64(1), nil)

	eng, err := app.New(app.Deps{Store: store, Registry: app.NewRegistry()}, app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s, err := eng.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Executions[domain.ExecutionCompleted] != 5 || s.DeadLetters != 1 ||
		s.Tasks[domain.TaskPending] != 7 || s.QueueDepth["default"] != 3 || s.QueueDepth["mail"] != 0 {
		t.Fatalf("stats %+v: queue depth counts only pending orchestrator and activity tasks", s)
	}
}
