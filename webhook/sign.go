// Package webhook delivers status callbacks from the outbox: it signs each one
// as Twilio does, posts it where the operator's Policy allows, retries with
// backoff (per callback, and per host for a host that keeps failing), and
// records every attempt.
package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
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

// Verify reports whether signature, a request's X-Twilio-Signature, is the
// one authToken makes for a request to fullURL with form: a form POST signs
// the URL and its parameters; a GET or a WebSocket upgrade signs the URL
// alone (form nil; its query is part of the URL). The comparison takes the
// same time however much of the signature matches.
//
// fullURL is compared as given, as the sender signed it: scheme, host (and a
// port only if the request named one), path and query. A receiver that
// accepts more than one form of its URL (twilio-go's validator also tries
// the URL with and without the default port; DESIGN §11 tries a trailing
// "/") calls Verify once for each.
func Verify(authToken tonepay.Secret, fullURL string, form url.Values, signature string) bool {
	if signature == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Sign(authToken, fullURL, form)), []byte(signature)) == 1
}
