package notifycore_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore"
)

func TestThePayloadFollowsTheSpecAndRoundTrips(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	ev := domain.Event{Kind: domain.EventTask, Topic: domain.TaskTopic("t1"), ID: "t1", ExecutionID: "e1",
		State: "completed", Queue: "q", Function: "f", At: at}
	b, err := notifycore.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("payload %s: %v", b, err)
	}
	want := map[string]any{"v": float64(1), "kind": "task", "topic": "task:t1", "id": "t1", "execution_id": "e1",
		"state": "completed", "queue": "q", "function": "f", "at": "2025-01-02T03:04:05.000006Z"}
	if len(got) != len(want) {
		t.Errorf("payload %s has %d fields, want %d", b, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("payload %s = %v, want %v (payload %s)", k, got[k], v, b)
		}
	}
	back, err := notifycore.Decode(string(b))
	ev.V = domain.EventVersion
	if err != nil || back != ev {
		t.Fatalf("Decode = %+v, %v; want %+v", back, err, ev)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	t.Run("a payload without a topic decodes with an empty topic", func(t *testing.T) {
		t.Parallel()
		ev, err := notifycore.Decode(`{"v":1,"kind":"task","id":"bare"}`)
		if err != nil || ev.Topic != "" || ev.ID != "bare" {
			t.Fatalf("Decode = %+v, %v", ev, err)
		}
	})
	for _, raw := range []string{`not json`, ``, `[]`, `{"v":1}`, `{"v":99,"kind":"task"}`, `{"kind":"task"}`} {
		t.Run("rejects "+raw, func(t *testing.T) {
			t.Parallel()
			if ev, err := notifycore.Decode(raw); err == nil {
				t.Fatalf("Decode(%q) = %+v, want an error", raw, ev)
			}
		})
	}
}
