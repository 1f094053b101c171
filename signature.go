package tonepay

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"sort"
)

// Signature returns Twilio's X-Twilio-Signature for a request to fullURL:
// base64(HMAC-SHA1(auth token, URL + each form parameter's name and value,
// names in byte order)). A GET or a WebSocket upgrade signs the URL alone
// (form nil). The URL is signed exactly as given, query string and all,
// because the receiver checks it against the URL it was called on. Every
// signer and checker (webhook's callbacks and fetches, mediastream's
// upgrades both ways) uses this one rule.
func Signature(authToken Secret, fullURL string, form url.Values) string {
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

// ValidSignature reports whether signature is the one authToken makes for
// a request to fullURL with form, in the same time however much of it
// matches. fullURL is compared as given; a receiver that accepts more than
// one form of its URL calls it once for each.
func ValidSignature(authToken Secret, fullURL string, form url.Values, signature string) bool {
	if signature == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Signature(authToken, fullURL, form)), []byte(signature)) == 1
}
