package config

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Bounds on what a configuration file and its errors may grow to: a file of
// a few KB must not be able to produce an error of hundreds of MB (aliases
// expanded, a long value quoted in every message).
const (
	// MaxFileSize is the largest configuration file accepted.
	MaxFileSize = 1 << 20
	// maxErrors is how many errors are reported before "and N more".
	maxErrors = 20
	// maxQuoted is how many characters of a value an error quotes.
	maxQuoted = 100
)

// Quote is %q of v cut to maxQuoted characters ("…" marks the cut).
func Quote(v string) string {
	return strconv.Quote(clip(v, maxQuoted))
}

// clip cuts s to n characters, marking the cut with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// capErrors joins errs, keeping the first maxErrors and counting the rest.
func capErrors(errs []error) error {
	if len(errs) > maxErrors {
		more := len(errs) - maxErrors
		errs = append(errs[:maxErrors:maxErrors], &Error{Msg: fmt.Sprintf("and %d more %s", more, plural(more, "error"))})
	}
	return errors.Join(errs...)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
