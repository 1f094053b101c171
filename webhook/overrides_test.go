package webhook_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/webhook"
)

func TestParseOverrides(t *testing.T) {
	def := webhook.DefaultOverrides()
	with := func(fn func(o *webhook.Overrides)) webhook.Overrides {
		o := def
		fn(&o)
		return o
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name  string
		url   string
		want  webhook.Overrides
		warns int
	}{
		{"no fragment", "https://app.example.com/voice?x=1", def, 0},
		{"empty fragment", "https://app.example.com/voice#", def, 0},
		{"Twilio's defaults", "https://a.example.com/v", webhook.Overrides{Connect: 5 * time.Second, Read: 15 * time.Second,
			Total: 15 * time.Second, Retries: 1, RetryOn: webhook.RetryConnect}, 0},
		{"all of them", "https://a.example.com/v?q=1#ct=1000&rt=3000&tt=10000&rc=2&rp=5xx,ct",
			webhook.Overrides{Connect: ms(1000), Read: ms(3000), Total: ms(10000), Retries: 2, RetryOn: webhook.Retry5xx | webhook.RetryConnect}, 0},
		{"rp all", "https://a.example.com/v#rp=all", with(func(o *webhook.Overrides) { o.RetryOn = webhook.RetryAll }), 0},
		{"rp escaped list", "https://a.example.com/v#rp=4xx%2Crt", with(func(o *webhook.Overrides) { o.RetryOn = webhook.Retry4xx | webhook.RetryRead }), 0},
		{"rc 0", "https://a.example.com/v#rc=0", with(func(o *webhook.Overrides) { o.Retries = 0 }), 0},
		{"bounds are valid", "https://a.example.com/v#ct=100&rt=15000&rc=5",
			with(func(o *webhook.Overrides) { o.Connect, o.Read, o.Retries = ms(100), ms(15000), 5 }), 0},
		{"tt over 15 s is valid (capped later)", "https://a.example.com/v#tt=60000", with(func(o *webhook.Overrides) { o.Total = time.Minute }), 0},
		{"edge and sni accepted, ignored", "https://a.example.com/v#e=ashburn&sni=y", def, 0},
		{"empty pairs", "https://a.example.com/v#&&rt=500&", with(func(o *webhook.Overrides) { o.Read = ms(500) }), 0},
		{"ct under 100", "https://a.example.com/v#ct=99", def, 1},
		{"ct over 10000", "https://a.example.com/v#ct=10001", def, 1},
		{"rt over 15000", "https://a.example.com/v#rt=15001", def, 1},
		{"rt not a number", "https://a.example.com/v#rt=5s", def, 1},
		{"tt under 100", "https://a.example.com/v#tt=10", def, 1},
		{"rc over 5", "https://a.example.com/v#rc=6", def, 1},
		{"rc negative", "https://a.example.com/v#rc=-1", def, 1},
		{"rp unknown word", "https://a.example.com/v#rp=ct,timeout", def, 1},
		{"rp empty", "https://a.example.com/v#rp=", def, 1},
		{"unknown key", "https://a.example.com/v#section-2", def, 1},
		{"the valid ones stand", "https://a.example.com/v#rt=abc&rc=2&ct=50&rp=all",
			with(func(o *webhook.Overrides) { o.Retries, o.RetryOn = 2, webhook.RetryAll }), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warns := webhook.ParseOverrides(tt.url)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("overrides (-want +got):\n%s", diff)
			}
			if len(warns) != tt.warns {
				t.Errorf("warnings %q, want %d", warns, tt.warns)
			}
			for _, w := range warns {
				if !strings.HasPrefix(w, "connection override ") || len(w) > 160 {
					t.Errorf("warning %q", w)
				}
			}
		})
	}
}

func TestOverridesWithin(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name  string
		frag  string
		limit time.Duration
		want  webhook.Overrides
	}{
		{"defaults in a fetch: rt is the total's", "", webhook.CallTimeout,
			webhook.Overrides{Connect: ms(5000), Read: 0, Total: ms(15000), Retries: 1, RetryOn: webhook.RetryConnect}},
		{"tt capped at 15 s", "#tt=60000&rt=2000", webhook.CallTimeout,
			webhook.Overrides{Connect: ms(5000), Read: ms(2000), Total: ms(15000), Retries: 1, RetryOn: webhook.RetryConnect}},
		{"a shorter tt holds", "#tt=3000&rt=500&ct=10000", webhook.CallTimeout,
			webhook.Overrides{Connect: ms(3000), Read: ms(500), Total: ms(3000), Retries: 1, RetryOn: webhook.RetryConnect}},
		{"a shorter limit", "#rt=500", 300 * time.Millisecond,
			webhook.Overrides{Connect: ms(300), Read: 0, Total: ms(300), Retries: 1, RetryOn: webhook.RetryConnect}},
		{"no limit", "#tt=60000&rt=500", 0,
			webhook.Overrides{Connect: ms(5000), Read: ms(500), Total: time.Minute, Retries: 1, RetryOn: webhook.RetryConnect}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := webhook.ParseOverrides("https://a.example.com/v" + tt.frag)
			if diff := cmp.Diff(tt.want, o.Within(tt.limit)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestFetchReadTimeout: #rt=500 against an app that answers after 2 s is a
// read timeout within about half a second, not after the fetch's 15 s; the
// request reached the app signed as Twilio signs it (without the fragment),
// and rt is not retried by default (rp=ct).
func TestFetchReadTimeout(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	slow := newApp(t, f.account.AuthToken.Reveal(), func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte("<Response/>"))
	})
	t.Cleanup(func() { close(release) })
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	start := time.Now()
	res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, CallSid: "CA1",
		URL: slow.srv.URL + "/voice?x=1#rt=500", Method: "POST", Params: url.Values{"CallSid": {"CA1"}}})
	took := time.Since(start)
	var fe *tonepay.FetchError
	if !asFetchError(err, &fe) || fe.Code != tonepay.CodeHTTPRetrieval || fe.Message != "read timed out (rt)" {
		t.Fatalf("got %+v, %v; want 11200 read timed out", res, err)
	}
	if took < 450*time.Millisecond || took > 1500*time.Millisecond {
		t.Errorf("took %v with rt=500", took)
	}
	hits := slow.got()
	if len(hits) != 1 || !hits[0].Valid || hits[0].URI != "/voice?x=1" {
		t.Errorf("requests %+v: want one, signed, without the fragment", hits)
	}
}

// TestFetchRetriesAsOverridden: rc and rp decide which failed attempts are
// repeated; each repeat is signed and carries the same idempotency token.
func TestFetchRetriesAsOverridden(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	fails := map[string]int{} // path -> answers left to fail
	a := newApp(t, f.account.AuthToken.Reveal(), func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n := fails[r.URL.Path]
		fails[r.URL.Path]--
		mu.Unlock()
		switch {
		case n > 0 && strings.HasPrefix(r.URL.Path, "/slow"):
			select { // no answer within rt
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
				return
			}
		case n > 0 && strings.HasPrefix(r.URL.Path, "/404"):
			w.WriteHeader(http.StatusNotFound)
			return
		case n > 0:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte("<Response/>"))
	})
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	tests := []struct {
		name     string
		path     string
		fail     int
		status   int // of the answer
		requests int
	}{
		{"default: a 503 is the answer", "/503-default", 2, 503, 1},
		{"rc=2 rp=all", "/503-all#rc=2&rp=all", 2, 200, 3},
		{"rc=1 rp=5xx: one retry", "/503-one#rc=1&rp=5xx", 2, 503, 2},
		{"rp=ct does not retry a 5xx", "/503-ct#rc=5&rp=ct", 2, 503, 1},
		{"rp=4xx retries a 404", "/404#rc=3&rp=4xx", 1, 200, 2},
		{"rp=rt retries a read timeout", "/slow#rt=300&rc=2&rp=rt", 1, 200, 2},
		{"an invalid rc is ignored: rc=1", "/503-bad#rc=9&rp=5xx", 2, 503, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, _ := strings.Cut(tt.path, "#")
			mu.Lock()
			fails[path] = tt.fail
			mu.Unlock()
			n := len(a.got())
			res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, URL: a.srv.URL + tt.path,
				Method: "POST", Params: url.Values{"CallSid": {"CA1"}}})
			if err != nil || res.Status != tt.status {
				t.Fatalf("got %+v, %v; want HTTP %d", res, err, tt.status)
			}
			hits := a.got()[n:]
			if len(hits) != tt.requests {
				t.Fatalf("%d requests, want %d", len(hits), tt.requests)
			}
			for _, h := range hits {
				if !h.Valid || h.Idem != hits[0].Idem || h.URI != path || h.Body.Get("CallSid") != "CA1" {
					t.Errorf("request %+v: want signed, the first's token, the path without the fragment, the form", h)
				}
			}
		})
	}
}

// TestFetchWarnsOfIgnoredOverrides: the runner puts these on the timeline.
func TestFetchWarnsOfIgnoredOverrides(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, f.account.AuthToken.Reveal(), nil)
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, URL: a.srv.URL + "/v#rt=fast&rc=1", Method: "POST"})
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `"rt=fast"`) {
		t.Fatalf("got %+v, %v; want one warning naming rt=fast", res, err)
	}
	_, err = fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, URL: "http://" + closedPort(t) + "/v#zz=1", Method: "POST"})
	var fe *tonepay.FetchError
	if !asFetchError(err, &fe) || fe.Code != tonepay.CodeHTTPConnection || len(fe.Warnings) != 1 {
		t.Fatalf("got %v; want 11205 with one warning", err)
	}
}

// TestCallbackReadTimeout: a status callback's URL's rt shortens its
// attempt; the failure is recorded as such and retried by the outbox.
func TestCallbackReadTimeout(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	rc.set(func(rc *receiver) { rc.delay = 2 * time.Second })
	d := &webhook.Dispatcher{Store: f.store, Policy: loopbackOnly(t), Backoff: func(int) time.Duration { return time.Hour }}
	run(t, d)
	cb := f.queue(t, "PK1", rc.srv.URL+"/cb#rt=300", 1, time.Now())[0]
	start := time.Now()
	d.Notify()
	waitFor(t, "the attempt recorded", func() bool { return len(f.attempts(t, cb.ID)) == 1 })
	a := f.attempts(t, cb.ID)[0]
	if a.Error != "read timed out" || a.StatusCode != 0 || a.Duration > 1500*time.Millisecond {
		t.Errorf("attempt %+v: want a read timeout after about 300 ms", a)
	}
	if el := time.Since(start); el > 1800*time.Millisecond {
		t.Errorf("recorded after %v", el)
	}
	if c := f.callbacks(t, "PK1")[0]; c.Status != tonepay.CallbackPending {
		t.Errorf("callback %s, want pending (the outbox retries it)", c.Status)
	}
	waitFor(t, "the receiver to finish", func() bool { return len(rc.deliveries()) == 1 })
	if d := rc.deliveries()[0]; !d.Valid || d.Path != "/cb" {
		t.Errorf("delivery %+v: want signed, without the fragment", d)
	}
}

func asFetchError(err error, fe **tonepay.FetchError) bool {
	e, ok := err.(*tonepay.FetchError)
	*fe = e
	return ok
}
