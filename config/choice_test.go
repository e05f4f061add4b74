package config

import "testing"

func TestExactlyOne(t *testing.T) {
	const oneOf = "a, b or c"
	for _, tc := range []struct {
		a, b, c   bool
		want, err string
	}{
		{err: "x.a: required: set one of a, b or c"},
		{b: true, want: "b"},
		{a: true, c: true, err: "x.c: set only one of a, b or c (found a and c)"},
		{a: true, b: true, c: true, err: "x.b: set only one of a, b or c (found a and b and c)"},
	} {
		got, err := ExactlyOne("x", oneOf, Choice{"a", tc.a}, Choice{"b", tc.b}, Choice{"c", tc.c})
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("%+v: got %q, %v", tc, got, err)
		}
	}
}
