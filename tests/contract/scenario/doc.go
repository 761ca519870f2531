// Package scenario holds the engine scenario suite: real registries,
// engines and workers (package app) on a store under test, covering
// retries, fan-out, signals, sleeps, suspension and recovery. RunEngine
// runs it with a store factory, as contract.RunStore runs the port suite;
// the two are separate packages so the port suites in tests/contract never
// depend on the engine (archtest enforces it). Like tests/contract it is a
// normal package, imported only from _test.go files.
package scenario
