package tonepay

import (
	"strings"
	"unicode"
)

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

// RedactURLs returns text with RedactURL applied to every URL in it: the
// timeline's texts (an error quoting the URL it could not use, words that
// name one) show URLs only through it. In text an authority also ends at
// white space, a quote or an angle bracket, so that the words after a URL
// are kept; a URL whose credentials hold one of those is not a URL that
// parses, and tonepay never requests it.
func RedactURLs(text string) string {
	if !strings.Contains(text, "@") {
		return text
	}
	var b strings.Builder
	rest := text
	for {
		i := strings.Index(rest, "//")
		if i < 0 {
			break
		}
		start := i + 2
		end := start + strings.IndexFunc(rest[start:], func(r rune) bool {
			return strings.ContainsRune("/?#\"'<>`", r) || unicode.IsSpace(r)
		})
		if end < start { // no end: the authority runs to the end of text
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[start:end], '@'); at >= 0 {
			b.WriteString(rest[:start])
			rest = rest[start+at+1:]
		} else {
			b.WriteString(rest[:end])
			rest = rest[end:]
		}
	}
	b.WriteString(rest)
	return b.String()
}
