package pgnotify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/notifycore"
)

// MaxPayloadBytes is PostgreSQL's NOTIFY payload limit: a payload must be
// shorter than 8000 bytes.
const MaxPayloadBytes = 8000

// maxChannelBytes is PostgreSQL's identifier limit (NAMEDATALEN - 1).
const maxChannelBytes = 63

// decodeEvent parses a payload that arrived on channel: it must name its
// topic (a channel carries every topic of a kind, and the reader routes by
// it), and the topic must belong to channel.
func (n *Notifier) decodeEvent(channel, payload string) (domain.Event, error) {
	ev, err := notifycore.Decode(payload)
	switch {
	case err != nil:
		return domain.Event{}, err
	case ev.Topic == "":
		return domain.Event{}, errors.New("no topic")
	case n.Channel(ev.Topic) != channel:
		return domain.Event{}, fmt.Errorf("topic %q does not belong to channel %q", ev.Topic, channel)
	}
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
