package domain

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"time"
)

// stentNamespace is the UUIDv5 namespace for execution ids that are not
// UUIDs themselves (caller-chosen ids).
var stentNamespace = [16]byte{0x6b, 0x1c, 0x3e, 0x0a, 0x52, 0x8d, 0x4f, 0x2e, 0x9c, 0x11, 0x7a, 0x5d, 0x0e, 0x44, 0xb3, 0x61}

// StepID returns the deterministic id of call n (1-based) made by
// parentTaskID inside executionID: UUIDv5(execution id, parentTaskID+"/"+n).
// An execution id that is not a UUID is first mapped into one with UUIDv5
// under a fixed Stent namespace. Re-runs, retries and replays keep the task
// id, so the same call gets the same id on every run.
func StepID(executionID, parentTaskID string, n int) string {
	ns, ok := parseUUID(executionID)
	if !ok {
		ns = uuidV5(stentNamespace, executionID)
	}
	return formatUUID(uuidV5(ns, parentTaskID+"/"+strconv.Itoa(n)))
}

// NewID returns a random (version 4) UUID string.
func NewID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go 1.24+)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

// NewTimeID returns a time-ordered (version 7) UUID string for an id
// created at t: ids made later sort later, so new rows land at the end of
// an index instead of all over it. The clock is the caller's.
func NewTimeID(t time.Time) string {
	var u [16]byte
	_, _ = rand.Read(u[6:])
	ms := uint64(t.UnixMilli())
	u[0], u[1], u[2] = byte(ms>>40), byte(ms>>32), byte(ms>>24)
	u[3], u[4], u[5] = byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return formatUUID(u)
}

func uuidV5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, false
	}
	return u, true
}
