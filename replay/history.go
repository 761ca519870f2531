// Package replay checks the current build's workflow code against the
// recorded histories of executions, without side effects: it runs a
// root function's body again with every durable call answered from the
// recorded steps (nothing runs, nothing is written to any real store) and
// reports the first call that differs from the recorded one.
//
// A History is an execution's root input and its root's ordered step
// records; LoadHistory reads one from a store and `stent export <id>`
// writes one as JSON. Replay and ReplayDir are the Go API a user's
// `go test` calls on a folder of exported histories before deploying.
package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// Format is the version of the History JSON layout.
const Format = 1

// History is an execution's recorded root input and the ordered step
// records of its root task (durable calls, sleeps, signal waits, patch
// markers "stent.patch/<id>").
type History struct {
	Format      int                   `json:"format"`
	ExecutionID string                `json:"execution_id"`
	Function    string                `json:"function"`
	State       domain.ExecutionState `json:"state"`
	Input       json.RawMessage       `json:"input,omitempty"`
	Steps       []Step                `json:"steps"`
}

// Step is one recorded step of the root: its call number, function name
// and outcome.
type Step struct {
	Position int               `json:"position"`
	Name     string            `json:"name"`
	Kind     domain.TaskKind   `json:"kind"`
	State    domain.TaskState  `json:"state"`
	Result   json.RawMessage   `json:"result,omitempty"`
	Error    *domain.TaskError `json:"error,omitempty"`
}

// Finished reports whether the recorded execution had ended.
func (h History) Finished() bool { return h.State.Terminal() }

// Reader is what LoadHistory reads.
type Reader interface {
	GetExecution(ctx context.Context, id string) (domain.Execution, error)
	ListTasks(ctx context.Context, f ports.TaskFilter) ([]domain.Task, error)
}

// LoadHistory reads execution id's history from a store.
func LoadHistory(ctx context.Context, st Reader, id string) (History, error) {
	ex, err := st.GetExecution(ctx, id)
	if err != nil {
		return History{}, err
	}
	h := History{Format: Format, ExecutionID: ex.ID, Function: ex.RootFunction, State: ex.State, Input: ex.Input}
	const page = 1000
	for off := 0; ; off += page {
		ts, err := st.ListTasks(ctx, ports.TaskFilter{ExecutionID: id, ParentTaskID: ex.RootTaskID, Limit: page, Offset: off})
		if err != nil {
			return History{}, err
		}
		for _, t := range ts {
			h.Steps = append(h.Steps, Step{Position: t.Position, Name: t.StepName, Kind: t.Kind,
				State: t.State, Result: t.Result, Error: t.Error})
		}
		if len(ts) < page {
			break
		}
	}
	sort.Slice(h.Steps, func(i, j int) bool { return h.Steps[i].Position < h.Steps[j].Position })
	return h, nil
}

// Marshal encodes h as indented JSON.
func (h History) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Unmarshal decodes a History written by Marshal.
func Unmarshal(b []byte) (History, error) {
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return History{}, fmt.Errorf("stent: reading a history: %w", err)
	}
	if h.Format != Format {
		return History{}, fmt.Errorf("stent: history format %d; this build reads %d", h.Format, Format)
	}
	if h.Function == "" || h.ExecutionID == "" {
		return History{}, fmt.Errorf("stent: history without execution_id or function")
	}
	return h, nil
}

// LoadDir reads every *.json history of dir, sorted by file name.
func LoadDir(dir string) ([]History, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var hs []History
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		h, err := Unmarshal(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		hs = append(hs, h)
	}
	return hs, nil
}
