package domain_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stenthq/stent/domain"
)

func TestTopics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want domain.Topic
	}{
		{domain.TaskTopic("t1"), "task:t1"},
		{domain.ExecutionTopic("e1"), "execution:e1"},
		{domain.TopicReady, "ready"},
		{domain.TopicCancel, "cancel"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("topic %q, want %q", tc.got, tc.want)
		}
	}
}

func TestEventJSONLeavesTheTopicOut(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	ev := domain.Event{V: domain.EventVersion, Kind: domain.EventTask, Topic: domain.TaskTopic("t1"), ID: "t1", ExecutionID: "e1", State: "completed", At: at}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"v":1,"kind":"task","id":"t1","execution_id":"e1","state":"completed","at":"2030-01-02T03:04:05.000006Z"}`
	if string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
	var back domain.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	ev.Topic = ""
	if back != ev {
		t.Fatalf("round trip = %+v, want %+v", back, ev)
	}
}
