// Package webhook delivers status callbacks from the outbox: it signs each one
// as Twilio does, posts it where the operator's Policy allows, retries with
// backoff (per callback, and per host for a host that keeps failing), and
// records every attempt.
package webhook

import (
	"net/url"

	"github.com/tonepay/tonepay"
)

// Sign returns Twilio's X-Twilio-Signature for a form POST to fullURL
// (tonepay.Signature, the one rule).
func Sign(authToken tonepay.Secret, fullURL string, form url.Values) string {
	return tonepay.Signature(authToken, fullURL, form)
}

// Verify reports whether signature, a request's X-Twilio-Signature, is the
// one authToken makes for a request to fullURL with form
// (tonepay.ValidSignature). twilio-go's validator also tries the URL with
// and without the default port; DESIGN §11 tries a trailing "/": a receiver
// that accepts more than one form of its URL calls Verify once for each.
func Verify(authToken tonepay.Secret, fullURL string, form url.Values, signature string) bool {
	return tonepay.ValidSignature(authToken, fullURL, form, signature)
}
