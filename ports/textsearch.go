package ports

import "strings"

// FoldASCII lowers the ASCII letters of s and keeps every other byte: the
// case folding of ExecutionFilter.Text, which every store applies alike
// (SQLite's LIKE folds ASCII only, so the others do the same).
func FoldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// ContainsText reports whether haystack contains needle with ASCII letters
// matched regardless of case (ExecutionFilter.Text).
func ContainsText(haystack, needle string) bool {
	return strings.Contains(FoldASCII(haystack), FoldASCII(needle))
}

// LikeContains returns a LIKE pattern (escape character `\`) matching text
// that contains s: `%`, `_` and `\` in s match themselves.
func LikeContains(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}
