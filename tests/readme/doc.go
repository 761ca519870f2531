// Package readme checks that the Go code of the repository's README
// compiles against the current API: every ```go block is extracted,
// placed in a small scaffold that declares what the snippet leaves out
// (the user's types, the registry, the engine), and built with the go
// command. It has tests only.
package readme
