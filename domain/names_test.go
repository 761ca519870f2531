package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stenthq/stent/domain"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  string // exact message; "" means valid
	}{
		{"a plain name is valid", "charge-card", ""},
		{"dots, slashes and colons are valid", "billing/charge.v2:eu", ""},
		{"inner spaces are valid", "send email", ""},
		{"non-ASCII letters are valid", "zahlung-prüfen-支付", ""},
		{"exactly 200 bytes is valid", strings.Repeat("a", 200), ""},
		{"200 bytes of multi-byte runes is valid", strings.Repeat("é", 100), ""},
		{"an empty name is rejected", "", "stent: queue name is empty"},
		{"201 bytes is rejected with a truncated quote", strings.Repeat("a", 201),
			`stent: queue name "` + strings.Repeat("a", 40) + `..." is 201 bytes; the maximum is 200`},
		{"invalid UTF-8 is rejected", "bad\xffname", `stent: queue name "bad\xffname" is not valid UTF-8`},
		{"a newline is rejected", "a\nb", `stent: queue name "a\nb" contains the unprintable character U+000A`},
		{"a tab is rejected", "a\tb", `stent: queue name "a\tb" contains the unprintable character U+0009`},
		{"a NUL byte is rejected", "a\x00b", `stent: queue name "a\x00b" contains the unprintable character U+0000`},
		{"a non-breaking space is rejected", "a\u00a0b", `stent: queue name "a\u00a0b" contains the unprintable character U+00A0`},
		{"a zero-width joiner is rejected", "a\u200db", `stent: queue name "a\u200db" contains the unprintable character U+200D`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidateName("queue name", tc.input)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateName(%q) = %v, want nil", tc.input, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateName(%q) = nil, want %q", tc.input, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("ValidateName(%q) = %q, want %q", tc.input, err.Error(), tc.want)
			}
			if !errors.Is(err, domain.ErrInvalidArgument) {
				t.Errorf("error %v does not match ErrInvalidArgument", err)
			}
		})
	}
}

func TestValidateFunctionName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		input string
		want  string
	}{
		{"charge", ""},
		{"stent", ""},
		{"stentx.charge", ""},
		{"Stent.charge", ""}, // the reserved prefix is case-sensitive
		{"my.stent.charge", ""},
		{"stent.sleep", `stent: function name "stent.sleep" uses the reserved prefix "stent."`},
		{"stent.", `stent: function name "stent." uses the reserved prefix "stent."`},
		{"", "stent: function name is empty"},
		{"a\nb", `stent: function name "a\nb" contains the unprintable character U+000A`},
	}
	for _, tc := range tests {
		t.Run(tc.input, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidateFunctionName(tc.input)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateFunctionName(%q) = %v, want nil", tc.input, err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || !errors.Is(err, domain.ErrInvalidArgument) {
				t.Fatalf("ValidateFunctionName(%q) = %v, want %q matching ErrInvalidArgument", tc.input, err, tc.want)
			}
		})
	}
}

func TestStepNames(t *testing.T) {
	t.Parallel()
	if got := domain.SignalStepName("approval"); got != "signal:approval" {
		t.Errorf("SignalStepName = %q", got)
	}
	if domain.SleepStepName != "stent.sleep" || !strings.HasPrefix(domain.SleepStepName, domain.ReservedPrefix) {
		t.Errorf("SleepStepName = %q does not use the reserved prefix %q", domain.SleepStepName, domain.ReservedPrefix)
	}
	if domain.ValidateFunctionName(domain.SleepStepName) == nil {
		t.Error("a user may register a function named like the sleep step")
	}
	if got := domain.PatchStepName("ship-v2"); got != "stent.patch/ship-v2" {
		t.Errorf("PatchStepName = %q", got)
	}
	if domain.ValidateFunctionName(domain.PatchStepName("ship-v2")) == nil {
		t.Error("a user may register a function named like a patch marker")
	}
}
