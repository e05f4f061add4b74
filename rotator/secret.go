package rotator

import (
	"fmt"
	"io"
)

// redacted is what a Secret prints as, whatever the verb.
const redacted = "[redacted]"

// Secret holds a token value. It never prints its value: not with any fmt
// verb, not as JSON or text, not through zap's reflection encoder. The only way
// to read it is Reveal, which adapters call at the moment they put the value
// on the wire.
type Secret struct{ v string }

// NewSecret wraps a token value.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the value. Call it only to send the value to the system that
// needs it, never to build a message.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no value is held.
func (s Secret) IsZero() bool { return s.v == "" }

// Equal compares two secrets without revealing either.
func (s Secret) Equal(o Secret) bool { return s.v == o.v }

func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return redacted }
func (Secret) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, redacted) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (s *Secret) UnmarshalJSON(_ []byte) error {
	return fmt.Errorf("rotator.Secret cannot be decoded from JSON")
}
