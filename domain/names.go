package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameBytes is the longest function, queue, tag, signal or execution id.
const MaxNameBytes = 200

// ValidateName checks a user-supplied name (what says which kind, e.g.
// "function name"): non-empty, valid UTF-8, printable, at most 200 bytes.
func ValidateName(what, name string) error {
	switch {
	case name == "":
		return InvalidArgument("%s is empty", what)
	case len(name) > MaxNameBytes:
		return InvalidArgument("%s %q is %d bytes; the maximum is %d", what, truncateForMessage(name), len(name), MaxNameBytes)
	case !utf8.ValidString(name):
		return InvalidArgument("%s %q is not valid UTF-8", what, name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return InvalidArgument("%s %q contains the unprintable character %U", what, name, r)
		}
	}
	return nil
}

// ValidateFunctionName checks a durable function name: a valid name that
// does not use the reserved "stent." prefix.
func ValidateFunctionName(name string) error {
	if err := ValidateName("function name", name); err != nil {
		return err
	}
	if strings.HasPrefix(name, ReservedPrefix) {
		return InvalidArgument("function name %q uses the reserved prefix %q", name, ReservedPrefix)
	}
	return nil
}

func truncateForMessage(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "..."
}
