package packaging

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// shellWords splits a POSIX shell command line into words: single and
// double quotes and backslash escapes; no expansion.
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch {
			case r == '"':
				quote = 0
			case r == '\\' && i+1 < len(rs) && strings.ContainsRune(`"\$`+"`", rs[i+1]):
				i++
				cur.WriteRune(rs[i])
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			in = true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	t.Parallel()
	got, err := shellWords(`CGO_ENABLED=0 go build -ldflags "-s -w -X main.version=\"v1\"" -o 'bin/ x' a\ b`)
	want := []string{"CGO_ENABLED=0", "go", "build", "-ldflags", `-s -w -X main.version="v1"`, "-o", "bin/ x", "a b"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("shellWords = %q, %v; want %q", got, err, want)
	}
	if _, err := shellWords(`echo "open`); err == nil {
		t.Error("an unterminated quote is accepted")
	}
}

// instruction is one Dockerfile instruction.
type instruction struct {
	Line  int
	Cmd   string   // upper case: FROM, RUN, ...
	Flags []string // leading --flag=value options (RUN --mount=..., COPY --from=...)
	Args  string   // the rest, continuation lines joined
}

// stage is a build stage: its FROM and the instructions after it.
type stage struct {
	Name, Base string
	Body       []instruction
}

// parseDockerfile splits a Dockerfile into the global ARGs and its stages.
// It handles comments, parser directives, backslash continuations and
// leading --flags, which is all deploy/Dockerfile uses (no heredocs).
func parseDockerfile(text string) (globals []instruction, stages []stage, err error) {
	var logical []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue // comments (and parser directives) and blank lines
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.Contains(line, "<<") {
			return nil, nil, fmt.Errorf("line %d: heredocs are not supported by this parser", i+1)
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		fields := strings.SplitN(cur.String(), " ", 2)
		in := instruction{Line: start, Cmd: strings.ToUpper(fields[0])}
		rest := ""
		if len(fields) == 2 {
			rest = strings.TrimSpace(fields[1])
		}
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			in.Flags = append(in.Flags, f)
			rest = strings.TrimSpace(r)
		}
		in.Args = rest
		logical = append(logical, in)
		cur.Reset()
	}
	if cur.Len() > 0 {
		return nil, nil, fmt.Errorf("line %d: the file ends inside a continuation", start)
	}
	for _, in := range logical {
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{Base: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				return nil, nil, fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Cmd)
			}
			globals = append(globals, in)
			continue
		}
		stages[len(stages)-1].Body = append(stages[len(stages)-1].Body, in)
	}
	return globals, stages, nil
}

// find returns the instructions of a stage with the command cmd.
func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Body {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// flag returns the value of --name=value among an instruction's flags.
func (in instruction) flag(name string) (string, bool) {
	for _, f := range in.Flags {
		if v, ok := strings.CutPrefix(f, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// execForm decodes a JSON-array (exec form) argument; ok is false for the
// shell form.
func execForm(args string) (argv []string, ok bool) {
	if !strings.HasPrefix(strings.TrimSpace(args), "[") {
		return nil, false
	}
	if err := json.Unmarshal([]byte(args), &argv); err != nil {
		return nil, false
	}
	return argv, true
}

// argDefaults returns NAME -> default of ARG instructions.
func argDefaults(ins []instruction) map[string]string {
	m := map[string]string{}
	for _, in := range ins {
		if in.Cmd != "ARG" {
			continue
		}
		name, def, _ := strings.Cut(in.Args, "=")
		m[name] = def
	}
	return m
}

// expand replaces $NAME and ${NAME} from vars.
func expand(s string, vars map[string]string) string {
	return regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`).ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m, "${}")
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// envPairs parses ENV KEY=value KEY2=value2 (quotes allowed).
func envPairs(t *testing.T, args string) map[string]string {
	t.Helper()
	words, err := shellWords(args)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			t.Fatalf("ENV %q: only the KEY=value form is supported", args)
		}
		m[k] = v
	}
	return m
}
