package packaging

import (
	"path"
	"regexp"
	"strings"
	"testing"
)

// dockerfile parses deploy/Dockerfile; the build stage is the one that
// runs go build, the runtime stage the last one.
func dockerfile(t *testing.T) (globals []instruction, build, runtime stage) {
	t.Helper()
	globals, stages, err := parseDockerfile(read(t, "deploy/Dockerfile"))
	if err != nil {
		t.Fatalf("deploy/Dockerfile: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("deploy/Dockerfile has %d stages; want a build and a runtime stage", len(stages))
	}
	return globals, stages[0], stages[len(stages)-1]
}

// goBuildRun is the build stage's RUN that calls go build, and the ARGs
// declared before it in the stage.
func goBuildRun(t *testing.T, build stage) (instruction, map[string]string) {
	t.Helper()
	var found, args []instruction
	for _, in := range build.Body {
		switch {
		case in.Cmd == "ARG":
			args = append(args, in)
		case in.Cmd == "RUN" && strings.Contains(in.Args, "go build"):
			found = append(found, in)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the build stage has %d RUN go build; want exactly one", len(found))
	}
	var before []instruction
	for _, in := range args {
		if in.Line < found[0].Line {
			before = append(before, in)
		}
	}
	return found[0], argDefaults(before)
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	globals, build, runtime := dockerfile(t)

	t.Run("the build stage runs the same command as make build-bin", func(t *testing.T) {
		t.Parallel()
		run, args := goBuildRun(t, build)
		if _, ok := args["VERSION"]; !ok {
			t.Errorf("line %d: VERSION is not an ARG of the build stage before the build, so ${VERSION} is empty", run.Line)
		}
		for _, f := range run.Flags {
			if !strings.HasPrefix(f, "--mount=type=cache,") {
				t.Errorf("line %d: RUN %s: only cache mounts are expected", run.Line, f)
			}
		}
		docker, err := shellWords(expand(run.Args, map[string]string{"VERSION": testVersion}))
		if err != nil {
			t.Fatal(err)
		}
		want := makeCommand(t, "build-bin")
		if strings.Join(docker, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("deploy/Dockerfile line %d builds with\n  %q\nmake build-bin with\n  %q", run.Line, docker, want)
		}
	})

	t.Run("the build image's Go is the go directive of go.mod", func(t *testing.T) {
		t.Parallel()
		base := expand(build.Base, argDefaults(globals))
		m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(read(t, "go.mod"))
		if m == nil {
			t.Fatal("no go directive in go.mod")
		}
		if !strings.HasPrefix(base, "golang:"+m[1]) {
			t.Errorf("the build stage is FROM %s; want golang:%s", base, m[1])
		}
	})

	t.Run("make image builds deploy/Dockerfile with VERSION", func(t *testing.T) {
		t.Parallel()
		cmd := strings.Join(makeCommand(t, "image"), " ")
		for _, want := range []string{"docker build", "-f deploy/Dockerfile", "--build-arg VERSION=" + testVersion, "-t stent:" + testVersion} {
			if !strings.Contains(cmd, want) {
				t.Errorf("make image runs %q: no %q", cmd, want)
			}
		}
		if !strings.HasSuffix(cmd, " .") {
			t.Errorf("make image runs %q: the context must be the repository root", cmd)
		}
	})

	t.Run("the runtime stage is distroless static and runs as a non-root user", func(t *testing.T) {
		t.Parallel()
		if !strings.HasPrefix(runtime.Base, "gcr.io/distroless/static") {
			t.Errorf("the runtime stage is FROM %s; want gcr.io/distroless/static (the binaries are static)", runtime.Base)
		}
		users := runtime.find("USER")
		if len(users) == 0 {
			t.Fatal("the runtime stage sets no USER")
		}
		user, _, _ := strings.Cut(users[len(users)-1].Args, ":")
		if user == "" || user == "root" || user == "0" {
			t.Errorf("the runtime stage runs as %q; want a non-root user", users[len(users)-1].Args)
		}
		if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(user) {
			t.Errorf("USER %s: want a numeric uid so runAsNonRoot can check it", user)
		}
	})

	t.Run("the entrypoint and the healthcheck are exec form and copied from the build", func(t *testing.T) {
		t.Parallel()
		copied := copiedBinaries(t, build, runtime)
		eps := runtime.find("ENTRYPOINT")
		if len(eps) != 1 {
			t.Fatalf("the runtime stage has %d ENTRYPOINT; want one", len(eps))
		}
		ep, ok := execForm(eps[0].Args)
		if !ok || len(ep) == 0 || !copied[ep[0]] || path.Base(ep[0]) != "stentd" {
			t.Errorf("ENTRYPOINT %s: want exec form running the copied stentd (copied: %v)", eps[0].Args, copied)
		}
		hcs := runtime.find("HEALTHCHECK")
		if len(hcs) != 1 {
			t.Fatalf("the runtime stage has %d HEALTHCHECK; want one", len(hcs))
		}
		kind, rest, _ := strings.Cut(hcs[0].Args, " ")
		argv, ok := execForm(rest)
		if kind != "CMD" || !ok || len(argv) == 0 {
			t.Fatalf("HEALTHCHECK %s: want CMD in exec form (distroless has no shell)", hcs[0].Args)
		}
		if !copied[argv[0]] {
			t.Errorf("HEALTHCHECK runs %s, which the runtime stage does not copy (copied: %v)", argv[0], copied)
		}
		if _, ok := hcs[0].flag("start-period"); !ok {
			t.Error("HEALTHCHECK has no --start-period: stentd may wait for its store at start")
		}
	})

	t.Run("the image's environment holds stentd settings that load", func(t *testing.T) {
		t.Parallel()
		known := stentdSettings(t)
		env := map[string]string{}
		for _, in := range runtime.find("ENV") {
			for k, v := range envPairs(t, in.Args) {
				if !known.envs[k] {
					t.Errorf("ENV %s is not a stentd setting", k)
				}
				env[k] = v
			}
		}
		env["STENT_HTTP_TOKEN"] = "given-at-run-time"
		if _, err := loadConfig(nil, env); err != nil {
			t.Errorf("stentd rejects the image's environment: %v", err)
		}
		vol := runtime.find("VOLUME")
		if len(vol) != 1 || !strings.Contains(vol[0].Args, path.Dir(env["STENT_DB"])) {
			t.Errorf("STENT_DB=%s is not in the image's VOLUME %v", env["STENT_DB"], vol)
		}
	})
}

// copiedBinaries returns the paths in the runtime stage of the files it
// copies from the build stage's bin/, after checking each is one that
// build-bin produces.
func copiedBinaries(t *testing.T, build, runtime stage) map[string]bool {
	t.Helper()
	var workdir string
	for _, w := range build.find("WORKDIR") {
		workdir = path.Join(workdir, w.Args)
	}
	words := makeCommand(t, "build-bin")
	_, out := buildOutput(t, words)
	produced := map[string]bool{}
	for _, p := range buildPackages(words) {
		produced[path.Join(workdir, out, path.Base(p))] = true
	}
	copied := map[string]bool{}
	for _, in := range runtime.find("COPY") {
		if from, _ := in.flag("from"); from != build.Name {
			continue
		}
		f := strings.Fields(in.Args)
		dst := f[len(f)-1]
		for _, src := range f[:len(f)-1] {
			if !strings.HasPrefix(src, path.Join(workdir, out)+"/") {
				continue
			}
			if !produced[src] {
				t.Errorf("line %d: COPY %s: make build-bin does not produce it (it produces %v)", in.Line, src, produced)
			}
			if strings.HasSuffix(dst, "/") {
				copied[path.Join(dst, path.Base(src))] = true
			} else {
				copied[dst] = true
			}
		}
	}
	return copied
}
