package tonepay

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// Secret holds a credential (an auth token, an API key secret). It prints,
// marshals and logs as "[redacted]" so that it cannot leak through a log line,
// an error or a JSON body by accident; Reveal is the one deliberate way out.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{s} }

// Reveal returns the secret's value; call it only where the value must leave
// (signing, a response that shows the secret once).
func (s Secret) Reveal() string { return s.v }

// Equal compares in constant time.
func (s Secret) Equal(v string) bool { return subtle.ConstantTimeCompare([]byte(s.v), []byte(v)) == 1 }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

func (Secret) String() string               { return "[redacted]" }
func (Secret) GoString() string             { return "[redacted]" }
func (Secret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }
func (Secret) Format(f fmt.State, _ rune)   { f.Write([]byte("[redacted]")) }
