package config

import "strings"

// Choice is one of the keys a block accepts exactly one of (the ways to
// sign in, for example).
type Choice struct {
	Key string
	Set bool
}

// ExactlyOne checks that exactly one choice is set. oneOf names them for a
// human; the error's key is under prefix: the first choice when none is
// set, the second one set when several are. It returns the choice set.
func ExactlyOne(prefix, oneOf string, choices ...Choice) (string, error) {
	var set []string
	for _, c := range choices {
		if c.Set {
			set = append(set, c.Key)
		}
	}
	switch len(set) {
	case 0:
		return "", &Error{Key: prefix + "." + choices[0].Key, Msg: "required: set one of " + oneOf}
	case 1:
		return set[0], nil
	}
	return "", &Error{Key: prefix + "." + set[1], Msg: "set only one of " + oneOf + " (found " + strings.Join(set, " and ") + ")"}
}
