package webhook

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func names(cs []*http.Cookie) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestCallJarScope: where a call's cookies go is net/http/cookiejar's rule
// (Domain, Path, Secure), with every top-level domain a public suffix.
func TestCallJarScope(t *testing.T) {
	now := time.Now()
	j := newCallJar(now)
	set := mustURL(t, "http://ivr.app.example.com/voice/start")
	warns := j.set(set, []*http.Cookie{
		{Name: "host", Value: "1"},
		{Name: "parent", Value: "1", Domain: "app.example.com"},
		{Name: "dotted", Value: "1", Domain: ".example.com"},
		{Name: "tld", Value: "1", Domain: "com"},
		{Name: "sibling", Value: "1", Domain: "other.example.com"},
		{Name: "elsewhere", Value: "1", Domain: "example.org"},
		{Name: "secure", Value: "1", Secure: true},
		{Name: "deep", Value: "1", Path: "/voice/menu"},
	}, now)
	if len(warns) != 3 || !strings.Contains(warns[0], `"tld"`) || !strings.Contains(warns[2], `"elsewhere"`) {
		t.Errorf("warnings %q: want tld, sibling, elsewhere refused", warns)
	}
	tests := []struct {
		url  string
		want []string
	}{
		{"http://ivr.app.example.com/voice/next", []string{"dotted", "host", "parent"}},
		{"https://ivr.app.example.com/voice/next", []string{"dotted", "host", "parent", "secure"}},
		{"http://ivr.app.example.com/voice/menu/1", []string{"deep", "dotted", "host", "parent"}},
		{"http://ivr.app.example.com/other", nil}, // the default path is /voice
		{"http://pay.app.example.com/voice/x", []string{"dotted", "parent"}},
		{"http://www.example.com/voice/x", []string{"dotted"}},
		{"http://example.org/voice/x", nil},
		{"http://evil.com/voice/x", nil},
	}
	for _, tt := range tests {
		if got := names(j.cookies(mustURL(t, tt.url))); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.url, got, tt.want)
		}
	}
	if len(j.kept) != 5 {
		t.Errorf("%d counted, want the 5 the jar keeps", len(j.kept))
	}
}

// TestCallJarCountsAsTheJarKeeps: a cookie that expires leaves room, a
// deletion too, and the same cookie set again is one.
func TestCallJarCountsAsTheJarKeeps(t *testing.T) {
	now := time.Now()
	j := newCallJar(now)
	u := mustURL(t, "https://app.example.com/voice")
	var cs []*http.Cookie
	for i := range MaxCallCookies - 1 {
		cs = append(cs, &http.Cookie{Name: "c" + string(rune('a'+i)), Value: "1"})
	}
	cs = append(cs, &http.Cookie{Name: "short", Value: "1", MaxAge: 1})
	if w := j.set(u, cs, now); len(w) != 0 {
		t.Fatalf("warnings %q", w)
	}
	if w := j.set(u, []*http.Cookie{{Name: "new", Value: "1"}}, now); len(w) != 1 {
		t.Fatalf("a 21st cookie: warnings %q", w)
	}
	if w := j.set(u, []*http.Cookie{{Name: "ca", Value: "2"}, {Name: "ca", Value: "3", Path: "/"}}, now); len(w) != 0 {
		t.Fatalf("setting a cookie kept again: warnings %q", w)
	}
	later := now.Add(2 * time.Second)
	if w := j.set(u, []*http.Cookie{{Name: "new", Value: "1"}}, later); len(w) != 0 {
		t.Fatalf("after short expired: warnings %q", w)
	}
	if w := j.set(u, []*http.Cookie{{Name: "cb", Expires: later.Add(-time.Hour)}, {Name: "newer", Value: "1"}}, later); len(w) != 0 {
		t.Fatalf("after an Expires in the past: warnings %q", w)
	}
	// 18 of ca..cs (cb deleted) at 3 bytes, new and newer.
	if len(j.kept) != MaxCallCookies || j.size != 18*3+4+6 {
		t.Errorf("kept %d, %d bytes; want %d, %d", len(j.kept), j.size, MaxCallCookies, 18*3+4+6)
	}
	// The jar's own clock is the real one: short (Max-Age=1) is still in
	// it now, and goes within a second, as it went from the count at later.
	if got := names(j.cookies(u)); len(got) != MaxCallCookies+1 || slices.Contains(got, "cb") {
		t.Errorf("the jar sends %q", got)
	}
}

// TestJarsForgetIdleCalls: a call whose end this process is not told about
// (another process ended it) loses its jar once idle for jarIdle.
func TestJarsForgetIdleCalls(t *testing.T) {
	var js jars
	t0 := time.Now()
	a := js.get("AC1", "CA1", t0)
	if js.get("AC2", "CA1", t0) == a {
		t.Fatal("two accounts share a jar")
	}
	if js.get("AC1", "CA1", t0.Add(jarIdle/2)) != a {
		t.Fatal("a call got a new jar")
	}
	js.get("AC1", "CA2", t0.Add(jarIdle+time.Hour))
	if n := js.len(); n != 2 {
		t.Errorf("%d jars, want AC1's CA1 (used half a jarIdle ago) and CA2", n)
	}
	js.get("AC1", "CA3", t0.Add(3*jarIdle))
	if n := js.len(); n != 1 {
		t.Errorf("%d jars, want CA3", n)
	}
	js.drop("AC1", "CA3")
	if n := js.len(); n != 0 {
		t.Errorf("%d jars after drop, want none", n)
	}
}
