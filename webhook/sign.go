// Package webhook delivers status callbacks from the outbox: it signs each one
// as Twilio does, posts it where the operator's Policy allows, retries with
// backoff (per callback, and per host for a host that keeps failing), and
// records every attempt.
package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"

	"github.com/tonepay/tonepay"
)

// Sign returns Twilio's X-Twilio-Signature for a form POST to fullURL:
// base64(HMAC-SHA1(auth token, URL + each parameter's name and value, names
// in byte order)). The URL is signed exactly as given, query string and all,
// because the receiver checks it against the URL it was called on.
func Sign(authToken tonepay.Secret, fullURL string, form url.Values) string {
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	m := hmac.New(sha1.New, []byte(authToken.Reveal()))
	m.Write([]byte(fullURL))
	for _, k := range names {
		for _, v := range form[k] {
			m.Write([]byte(k))
			m.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
