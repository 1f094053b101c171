package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/storetest"
	"github.com/tonepay/tonepay/webhook"
)

// cookieApp sets the cookies its query asks for (?set=name=value;attrs,
// repeated) and records the Cookie header of every request.
type cookieApp struct {
	*app
	mu   sync.Mutex
	sent []string // Cookie headers, in order
}

func newCookieApp(t *testing.T, token string) *cookieApp {
	c := &cookieApp{}
	c.app = newApp(t, token, func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.sent = append(c.sent, r.Header.Get("Cookie"))
		c.mu.Unlock()
		for _, s := range r.URL.Query()["set"] {
			w.Header().Add("Set-Cookie", s)
		}
		if loc := r.URL.Query().Get("redirect"); loc != "" {
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, "<Response/>")
	})
	return c
}

func (c *cookieApp) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[len(c.sent)-1]
}

// cookieNames are the names in a Cookie header, sorted.
func cookieNames(h string) []string {
	var names []string
	for part := range strings.SplitSeq(h, ";") {
		if name, _, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func setQuery(cookies ...string) string {
	q := url.Values{"set": cookies}
	return "?" + q.Encode()
}

// TestFetchCookiesPerCall: the cookies an app sets come back on the same
// call's later requests (Path and deletion as a browser keeps them; Secure
// and Domain are jar_test.go's: loopback counts as a secure origin), never on another call's, another account's, or a request of
// no call, and are gone once the call has ended.
func TestFetchCookiesPerCall(t *testing.T) {
	f := newFixture(t)
	other := storetest.MustAccount(t, f.store, "", time.Now())
	a := newCookieApp(t, f.account.AuthToken.Reveal())
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	byIP := a.srv.URL // http://127.0.0.1:port
	byName := strings.Replace(byIP, "127.0.0.1", "localhost", 1)
	fetch := func(t *testing.T, acct, call, target string) *tonepay.FetchResponse {
		t.Helper()
		res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: acct, CallSid: call, URL: target, Method: "POST",
			Params: url.Values{"CallSid": {call}}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	fetch(t, f.account.Sid, "CA1", byIP+"/voice"+setQuery("session=s1", "visits=1; Path=/", "deep=1; Path=/menu",
		"gone=1", "ip=1; Domain=127.0.0.1"))
	tests := []struct {
		name, acct, call, url string
		want                  []string
	}{
		{"the same call", f.account.Sid, "CA1", byIP + "/voice", []string{"gone", "ip", "session", "visits"}},
		{"under its Path", f.account.Sid, "CA1", byIP + "/menu/1", []string{"deep", "gone", "ip", "session", "visits"}},
		{"deleted by Max-Age=0 in its answer", f.account.Sid, "CA1", byIP + "/voice" + setQuery("gone=; Max-Age=0"), []string{"gone", "ip", "session", "visits"}},
		{"after the deletion", f.account.Sid, "CA1", byIP + "/voice", []string{"ip", "session", "visits"}},
		{"another host", f.account.Sid, "CA1", byName + "/voice", nil},
		{"another call", f.account.Sid, "CA2", byIP + "/voice", nil},
		{"another account, the same CallSid", other.Sid, "CA1", byIP + "/voice", nil},
		{"no call", f.account.Sid, "", byIP + "/voice", nil},
		{"the call again", f.account.Sid, "CA1", byIP + "/voice", []string{"ip", "session", "visits"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fetch(t, tt.acct, tt.call, tt.url)
			if got := cookieNames(a.last()); !slices.Equal(got, tt.want) {
				t.Errorf("cookies %q, want %q", got, tt.want)
			}
		})
	}
	// A request of no call keeps nothing; another call's cookies stay its own.
	fetch(t, f.account.Sid, "", byIP+"/voice"+setQuery("nocall=1"))
	fetch(t, f.account.Sid, "CA2", byIP+"/voice"+setQuery("two=2"))
	fetch(t, f.account.Sid, "CA1", byIP+"/voice")
	if got := cookieNames(a.last()); !slices.Equal(got, []string{"ip", "session", "visits"}) {
		t.Errorf("CA1 then sent %q", got)
	}
	// A cookie set on a redirect's 3xx goes with the redirected request.
	fetch(t, f.account.Sid, "CA1", byIP+"/voice"+setQuery("hop=1")+"&redirect=/next")
	if got := cookieNames(a.last()); !slices.Contains(got, "hop") {
		t.Errorf("the redirected request sent %q, want hop among them", got)
	}
	// The call ends: its cookies go; CA2's stay.
	fetcher.CallEnded(f.account.Sid, "CA1")
	fetch(t, f.account.Sid, "CA1", byIP+"/voice")
	if h := a.last(); h != "" {
		t.Errorf("after the call ended: Cookie %q", h)
	}
	fetch(t, f.account.Sid, "CA2", byIP+"/voice")
	if got := cookieNames(a.last()); !slices.Equal(got, []string{"two"}) {
		t.Errorf("CA2 sent %q", got)
	}
	for _, h := range a.got() {
		if !h.Valid && strings.Contains(h.URI, "CA1") {
			t.Errorf("request %s: signature rejected", h.URI)
		}
	}
}

// TestFetchCookieBounds: a call keeps at most 20 cookies, 4 KiB each and
// 16 KiB in all; those over the bounds are not kept, the fetch warns of each
// (by name), and a cookie kept may still be replaced or deleted.
func TestFetchCookieBounds(t *testing.T) {
	f := newFixture(t)
	a := newCookieApp(t, f.account.AuthToken.Reveal())
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	fetch := func(t *testing.T, call, query string) *tonepay.FetchResponse {
		t.Helper()
		res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, CallSid: call, URL: a.srv.URL + "/voice" + query, Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("c%02d=%d", i, i)
	}
	res := fetch(t, "CA1", setQuery(many...))
	if len(res.Warnings) != 5 || !strings.Contains(res.Warnings[0], `"c20"`) || strings.Contains(res.Warnings[0], "=20") {
		t.Errorf("warnings %q: want 5, naming c20..c24, never a value", res.Warnings)
	}
	res = fetch(t, "CA1", setQuery("c00=new", "c01=; Max-Age=0", "c99=1"))
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %q: a replacement and a deletion make room", res.Warnings)
	}
	fetch(t, "CA1", "")
	if got := cookieNames(a.last()); len(got) != 20 || !slices.Contains(got, "c99") || slices.Contains(got, "c01") || !strings.Contains(a.last(), "c00=new") {
		t.Errorf("after a replacement, a deletion and a new one: %d cookies %q", len(got), a.last())
	}

	// One cookie over 4 KiB; then 16 KiB in all.
	big := strings.Repeat("x", 4096-len("big"))
	res = fetch(t, "CA2", setQuery("big="+big+"x", "ok="+big[:100]))
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `"big"`) {
		t.Errorf("warnings %q", res.Warnings)
	}
	res = fetch(t, "CA3", setQuery("b1="+big[:4000], "b2="+big[:4000], "b3="+big[:4000], "b4="+big[:4000], "b5="+big[:4000]))
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `"b5"`) {
		t.Errorf("warnings %q: want b5 over 16 KiB", res.Warnings)
	}
	fetch(t, "CA3", "")
	if got := cookieNames(a.last()); !slices.Equal(got, []string{"b1", "b2", "b3", "b4"}) {
		t.Errorf("CA3 sent %q", got)
	}
}
