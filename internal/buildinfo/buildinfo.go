// Package buildinfo names the version of a Stent binary: the one stamped
// at build time (`-ldflags "-X main.version=..."`, as `make build-bin`
// does), else what the Go toolchain recorded.
package buildinfo

import "runtime/debug"

// Version is what `stent version` and `stentd --version` print: the stamped version when there
// is one, else the module version (`go install ...@v1.2.3`), else the VCS
// revision and time `go build` records (with "+dirty" for a modified
// tree), else "devel (no build information)". It never prints a bare
// "(devel)".
func Version(stamped string, buildInfo func() (*debug.BuildInfo, bool)) string {
	if stamped != "" {
		return stamped
	}
	bi, ok := buildInfo()
	if !ok || bi == nil {
		return "devel (no build information)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel (no VCS information; build with `make build-bin` to stamp a version)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	if at != "" {
		return "devel-" + rev + " (" + at + ")"
	}
	return "devel-" + rev
}
