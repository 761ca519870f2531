package notifycore

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stenthq/stent/domain"
)

// wireEvent is the JSON payload of a notification (SPEC §7):
// {"v":1,"kind","id","execution_id","state","queue","function","at"} plus
// "topic", the unprefixed topic, which lets a reader route (PostgreSQL: a
// channel carries a whole topic kind) or check (Redis: a channel is one
// topic) what arrives.
type wireEvent struct {
	Topic string `json:"topic,omitempty"`
	domain.Event
}

// Encode returns ev's payload, with "v" set to the current EventVersion.
func Encode(ev domain.Event) ([]byte, error) {
	ev.V = domain.EventVersion
	b, err := json.Marshal(wireEvent{Topic: string(ev.Topic), Event: ev})
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", ev.Kind, err)
	}
	return b, nil
}

// Decode parses a payload. The event's Topic is the payload's "topic",
// empty when it has none: the caller decides whether that is allowed and
// whether the topic belongs to the channel the payload arrived on. A
// payload that is not JSON, has another version or no kind is an error.
func Decode(payload string) (domain.Event, error) {
	var w wireEvent
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		return domain.Event{}, err
	}
	switch {
	case w.V != domain.EventVersion:
		return domain.Event{}, fmt.Errorf("version %d, want %d", w.V, domain.EventVersion)
	case w.Kind == "":
		return domain.Event{}, errors.New("no kind")
	}
	ev := w.Event
	ev.Topic = domain.Topic(w.Topic)
	return ev, nil
}
