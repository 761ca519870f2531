package contract_test

import (
	"testing"

	"github.com/stenthq/stent/internal/testenv/teststore"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/tests/contract"
)

// The store contract on every store of this repository (memstore, SQLite,
// PostgreSQL on STENT_TEST_POSTGRES_DSN):
//
//	go test ./tests/contract/ -run 'TestContract/(memstore|sqlite|postgres)' -v
//
// runs the same subtests on each. The engine scenario suite runs from
// tests/contract/scenario.
func TestContract(t *testing.T) {
	t.Parallel()
	teststore.Run(t, func(t *testing.T, k teststore.Kind) {
		contract.RunStore(t, k.Factory(), contract.StoreCaps{Name: k.Name})
	})
}

// BenchmarkStore measures every store's hot paths:
//
//	go test ./tests/contract/ -run '^$' -bench 'Store/sqlite'
func BenchmarkStore(b *testing.B) {
	for _, k := range teststore.Kinds() {
		b.Run(k.Name, func(b *testing.B) {
			contract.RunBenchmarks(b, func(b *testing.B) ports.Store { return k.Open(b) })
		})
	}
}
