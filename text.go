package tonepay

import "unicode/utf8"

// Clip shortens s to at most n bytes and "...", never inside a character:
// for quoting a tenant's text (a cookie name, an attribute, a fragment) in
// a warning or an error, where the whole of it need not be kept.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
