// Package contract holds the behaviour suites every adapter must pass.
// RunStore checks a ports.Store against the ports doc comments and the
// store semantics shared by memstore, sqlitestore and pgxstore. It is a
// normal package so adapters outside this repository can run it; import it
// only from _test.go files.
package contract

import (
	"testing"

	"github.com/stenthq/stent/ports"
)

// StoreCaps describes the store under test. Every store keeps times at
// 1 µs precision and passes every subtest; there are no optional
// behaviours.
type StoreCaps struct {
	// Name labels failures (e.g. "memstore", "sqlite", "postgres").
	Name string
}

// RunStore runs the store contract. newStore must return a fresh, empty,
// ready (migrated) store for each call and register its own cleanup with
// t.Cleanup; it is called once per subtest, from parallel subtests. The
// store must also implement ports.Inspector (the suite reads signals,
// cache entries and idempotency records through it); a store that does not
// fails every subtest.
func RunStore(t *testing.T, newStore func(t *testing.T) ports.Store, caps StoreCaps) {
	t.Helper()
	if caps.Name == "" {
		caps.Name = "store"
	}
	h := storeSuite{newStore: newStore, caps: caps}
	for _, a := range storeAreas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			a.run(t, h)
		})
	}
}

// storeAreas are the areas of RunStore, in order: the first level of its
// subtest names. docs/store-adapters.md has a row for each (checked by
// TestStoreAdaptersDocNamesEveryArea in tests/contract/scenario).
var storeAreas = []struct {
	name string
	run  func(*testing.T, storeSuite)
}{
	{"executions", testExecutions},
	{"batch executions", testCreateExecutions},
	{"dispatch dedupe", testDispatchDedupe},
	{"dispatch dedupe replay", testDispatchDedupeReplay},
	{"dispatch dedupe across functions", testDispatchDedupeOtherFunction},
	{"payloads and times", testPayloadsAndTimes},
	{"cancel and timeout", testCancelAndTimeout},
	{"claims", testClaims},
	{"claim routing", testClaimRouting},
	{"function limits", testFunctionLimits},
	{"concurrency", testConcurrency},
	{"flow limits", testFlowLimits},
	{"limit usage", testLimitUsage},
	{"fencing", testFencing},
	{"finishing tasks", testFinishingTasks},
	{"steps", testSteps},
	{"inline and batched steps", testInlineAndBatchSteps},
	{"first claim", testFirstClaim},
	{"sleep and reset", testSleepAndReset},
	{"parking", testParking},
	{"workers", testWorkers},
	{"schedules", testSchedules},
	{"function versions", testVersions},
	{"queues", testQueues},
	{"cache", testCache},
	{"idempotency", testIdempotency},
	{"signals", testSignals},
	{"dead letters", testDeadLetters},
	{"keyset pages", testKeysetPages},
	{"execution filters", testExecutionFilters},
	{"finished executions", testListFinished},
	{"fork and reset", testRepair},
	{"stats", testStats},
	{"cleanup", testCleanup},
	{"catalogue", testCatalogue},
	{"lifecycle", testLifecycle},
	{"bad input", testBadInput},
	{"bad text input", testBadTextInput},
	{"bad step input", testBadStepInput},
	{"rows as stored", testRowsAsStored},
}

// AreaNames lists the areas RunStore runs, in order.
func AreaNames() []string {
	names := make([]string, len(storeAreas))
	for i, a := range storeAreas {
		names[i] = a.name
	}
	return names
}

// storeSuite runs one subtest per behaviour, each on its own store.
type storeSuite struct {
	newStore func(t *testing.T) ports.Store
	caps     StoreCaps
}

// run runs body as a parallel subtest with a fresh store.
func (h storeSuite) run(t *testing.T, name string, body func(t *testing.T, f *fixture)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		s := h.newStore(t)
		if s == nil {
			t.Fatalf("%s: newStore returned nil", h.caps.Name)
		}
		insp, ok := s.(ports.Inspector)
		if !ok {
			t.Fatalf("%s: the store (%T) does not implement ports.Inspector, which the contract suite requires", h.caps.Name, s)
		}
		body(t, &fixture{t: t, s: s, insp: insp, ctx: t.Context(), name: h.caps.Name})
	})
}
