package tonepay

import "strings"

// RedactURL returns a webhook URL without the credentials of its authority
// (the "user:password@" of https://user:password@host/...), everything else
// byte for byte. Views, timelines, logs and errors show a URL only through
// it: the credentials are the tenant's secret for its receiver, and Twilio
// never shows them back either.
//
// It is also the URL as the receiver sees it (credentials are never part of
// a request line), so it is the URL that X-Twilio-Signature covers.
//
// It cuts at the last "@" before the authority ends (at "/", "?" or "#"), as
// Go's URL parser does, and it works on text that does not parse as a URL
// at all: a malformed URL must not show its credentials either.
func RedactURL(raw string) string {
	start := strings.Index(raw, "//")
	if start < 0 {
		return raw
	}
	start += 2
	end := len(raw)
	if i := strings.IndexAny(raw[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(raw[start:end], '@')
	if at < 0 {
		return raw
	}
	return raw[:start] + raw[start+at+1:]
}
