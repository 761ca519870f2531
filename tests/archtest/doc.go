// Package archtest enforces the dependency rule of ARCHITECTURE.md: imports
// point inward only (domain <- ports <- adapters, app; only stentfx and cmd
// wire fx and concrete adapters; tools stay out of the runtime graph).
//
// The rules are data (rules_test.go); the test lists every package of the
// module with `go list -deps -json` and fails naming each package and the
// import that breaks a rule. It runs as part of `go test ./...`. It also
// checks that the sentinel errors have one home (sentinels_test.go): only
// package app re-exports domain.Err*, for users.
package archtest
