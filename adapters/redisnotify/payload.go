package redisnotify

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stenthq/stent/domain"
)

// wireEvent is the JSON payload of a notification (SPEC §7):
// {"v":1,"kind","id","execution_id","state","queue","function","at"}
// plus "topic", the unprefixed topic, which the reader checks against the
// channel the message arrived on.
type wireEvent struct {
	Topic string `json:"topic,omitempty"`
	domain.Event
}

func encodeEvent(ev domain.Event) ([]byte, error) {
	ev.V = domain.EventVersion
	b, err := json.Marshal(wireEvent{Topic: string(ev.Topic), Event: ev})
	if err != nil {
		return nil, fmt.Errorf("redisnotify: encode %s event: %w", ev.Kind, err)
	}
	return b, nil
}

// decodeEvent parses a payload received on topic's channel. A payload
// without "topic" is accepted (publishers that only follow SPEC §7's field
// list); one naming another topic is not.
func decodeEvent(payload string, topic domain.Topic) (domain.Event, error) {
	var w wireEvent
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		return domain.Event{}, err
	}
	switch {
	case w.V != domain.EventVersion:
		return domain.Event{}, fmt.Errorf("version %d, want %d", w.V, domain.EventVersion)
	case w.Kind == "":
		return domain.Event{}, errors.New("no kind")
	case w.Topic != "" && domain.Topic(w.Topic) != topic:
		return domain.Event{}, fmt.Errorf("topic %q arrived on the channel of %q", w.Topic, topic)
	}
	ev := w.Event
	ev.Topic = topic
	return ev, nil
}
