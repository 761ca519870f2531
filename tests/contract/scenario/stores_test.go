package scenario_test

import (
	"testing"

	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/tests/contract/scenario"
)

// The engine scenarios on every store of this repository (memstore,
// SQLite, PostgreSQL on STENT_TEST_POSTGRES_DSN), with the in-process
// notifier; the Redis and PostgreSQL notifier packages run them with
// theirs.
//
//	go test ./tests/contract/scenario/ -run 'TestEngine/sqlite/' -v
func TestEngine(t *testing.T) {
	t.Parallel()
	teststore.Run(t, func(t *testing.T, k teststore.Kind) {
		scenario.RunEngine(t, k.Factory(), scenario.EngineCaps{Name: k.Name})
	})
}
