package pgnotify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stenthq/stent/domain"
)

// MaxPayloadBytes is PostgreSQL's NOTIFY payload limit: a payload must be
// shorter than 8000 bytes.
const MaxPayloadBytes = 8000

// maxChannelBytes is PostgreSQL's identifier limit (NAMEDATALEN - 1).
const maxChannelBytes = 63

// wireEvent is the JSON payload of a notification (SPEC §7):
// {"v":1,"kind","id","execution_id","state","queue","function","at"} plus
// "topic", the unprefixed topic: a channel carries every topic of a kind,
// so the reader routes by it.
type wireEvent struct {
	Topic string `json:"topic"`
	domain.Event
}

func encodeEvent(ev domain.Event) ([]byte, error) {
	ev.V = domain.EventVersion
	b, err := json.Marshal(wireEvent{Topic: string(ev.Topic), Event: ev})
	if err != nil {
		return nil, fmt.Errorf("pgnotify: encode %s event: %w", ev.Kind, err)
	}
	return b, nil
}

// decodeEvent parses a payload; the caller checks its topic belongs to the
// channel it arrived on.
func decodeEvent(payload string) (domain.Event, error) {
	var w wireEvent
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		return domain.Event{}, err
	}
	switch {
	case w.V != domain.EventVersion:
		return domain.Event{}, fmt.Errorf("version %d, want %d", w.V, domain.EventVersion)
	case w.Kind == "":
		return domain.Event{}, errors.New("no kind")
	case w.Topic == "":
		return domain.Event{}, errors.New("no topic")
	}
	ev := w.Event
	ev.Topic = domain.Topic(w.Topic)
	return ev, nil
}

// topicKind is the part of a topic before its first colon ("task" for
// "task:<id>"), or the whole topic: the unit of LISTEN.
func topicKind(t domain.Topic) string {
	kind, _, _ := strings.Cut(string(t), ":")
	return kind
}

// channelName is the PostgreSQL channel of prefix+kind. A name that would
// exceed 63 bytes, or holds anything but printable ASCII (which every
// server encoding accepts), keeps its printable ASCII head and ends with a
// hash of the full name, so distinct names stay distinct.
func channelName(prefix, kind string) string {
	name := prefix + kind
	if len(name) <= maxChannelBytes && printableASCII(name) {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	tail := "~" + hex.EncodeToString(sum[:8]) // 17 bytes
	head := strings.Map(func(r rune) rune {
		if r >= 0x20 && r <= 0x7e {
			return r
		}
		return -1
	}, name)
	return head[:min(len(head), maxChannelBytes-len(tail))] + tail
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
