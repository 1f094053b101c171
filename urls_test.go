package tonepay

import "testing"

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://example.com/cb?x=1", "https://example.com/cb?x=1"},
		{"https://user:pass@example.com/cb?x=1", "https://example.com/cb?x=1"},
		{"https://user@example.com:8443/cb", "https://example.com:8443/cb"},
		{"http://us%40er:p@ss@example.com/", "http://example.com/"},        // an unescaped "@" in the password: the last one ends it
		{"http://u:p@example.com?next=a@b", "http://example.com?next=a@b"}, // "@" in the query is not userinfo
		{"http://example.com/a@b/c", "http://example.com/a@b/c"},           // nor in the path
		{"http://u:p@example.com#frag@x", "http://example.com#frag@x"},     // nor in the fragment
		{"http://u:p\\q@host/x", "http://host/x"},                          // malformed userinfo still hidden
		{" http://u:secret@host/x", " http://host/x"},                      // does not parse as a URL: hidden anyway
		{"HTTPS://U:P@[::1]:8080/x?y=%20", "HTTPS://[::1]:8080/x?y=%20"},
		{"http://x/a%20b?c=d%2Fe", "http://x/a%20b?c=d%2Fe"}, // no re-encoding: the signature covers these bytes
		{"mailto:someone@example.com", "mailto:someone@example.com"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{`Gather: invalid URL "http://AC1:tok@127.0.0.1/x"`, `Gather: invalid URL "http://127.0.0.1/x"`},
		{"a http://u:p@h1/x and https://v:q@h2?y then //w:r@h3", "a http://h1/x and https://h2?y then //h3"},
		{"http://u:p@host", "http://host"},
		{"http://u:p\\q@host/x", "http://host/x"},
		{"mail bob@example.com // ok", "mail bob@example.com // ok"}, // no URL: nothing to hide
		{"see http://host and bob@example.com", "see http://host and bob@example.com"},
		{"http://example.com/a@b http://x.org?q=a@b", "http://example.com/a@b http://x.org?q=a@b"},
		{"'ftp://u:p@h'", "'ftp://h'"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactURLs(tt.in); got != tt.want {
			t.Errorf("RedactURLs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
