package config

import (
	"slices"
	"strings"
)

// Closest is the known word a mistyped one most likely meant ("formt" ->
// "format", "quietperiod" -> "quietPeriod"), or "" when none is close: at
// most 2 edits apart ignoring case, or a third of the word's length for a
// longer one. For "did you mean" in errors about keys and flags.
func Closest(word string, known []string) string {
	best, bestD := "", -1
	w := strings.ToLower(word)
	for _, k := range known {
		d := distance(w, strings.ToLower(k))
		if d > max(2, len([]rune(word))/3) || d >= len([]rune(word)) {
			continue
		}
		if bestD < 0 || d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
