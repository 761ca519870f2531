package scenario_test

import (
	"testing"

	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
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
	for _, k := range teststore.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			scenario.RunEngine(t, func(t *testing.T) ports.Store { return k.Open(t) }, scenario.EngineCaps{Name: k.Name})
		})
	}
}
