package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// TestAttackVoice: what a hostile or broken TwiML app can make tonepay do.
// A document cannot send tonepay's fetches to its own API or to link-local
// addresses (directly, by <Redirect>, or by an HTTP redirect); a document
// too large, a redirect loop and an app that never answers each end the
// call with Twilio's code in bounded time and hold nothing else up.
func TestAttackVoice(t *testing.T) {
	fs := newVoiceServer(t)
	own := *fs.url.Load()
	var loops atomic.Int64
	hang := make(chan struct{})
	mux := http.NewServeMux()
	xml := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml")
			w.Write([]byte(body))
		}
	}
	mux.Handle("/own-redirect", xml(`<Response><Say>Going in</Say><Redirect>`+own+`/2010-04-01/Accounts.json</Redirect></Response>`))
	mux.Handle("/metadata", xml(`<Response><Gather numDigits="1" action="http://169.254.169.254/latest/meta-data"><Say>Press</Say></Gather></Response>`))
	mux.HandleFunc("/bounce", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, own+"/2010-04-01/Accounts.json", http.StatusFound)
	})
	mux.Handle("/huge", xml(`<Response><Say>`+strings.Repeat("a", 70<<10)+`</Say></Response>`))
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		loops.Add(1)
		xml(`<Response><Redirect>/loop</Redirect></Response>`)(w, r)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-hang })
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	t.Cleanup(func() { close(hang) }) // first: Close waits for the hanging handler

	create := func(t *testing.T, u string) string {
		code, body, err := fs.do("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {u}})
		if err != nil || code != 201 {
			t.Fatalf("create: %d %v %s", code, err, body)
		}
		return sidOf(body)
	}
	ends := func(t *testing.T, sid string, want ...string) {
		t.Helper()
		status, es := fs.timeline(t, sid)
		if status != "completed" || !slices.Equal(heard(es), want) {
			t.Errorf("status %s, heard %q, want %q", status, heard(es), want)
		}
	}
	stock := "say:We're sorry, but an application error has occurred. Goodbye!"
	t.Run("own API by Redirect", func(t *testing.T) {
		ends(t, create(t, app.URL+"/own-redirect"), "say:Going in", "error:11205", stock, "hangup:completed")
	})
	t.Run("own API by HTTP redirect", func(t *testing.T) {
		ends(t, create(t, app.URL+"/bounce"), "error:11205", stock, "hangup:completed")
	})
	t.Run("link-local action", func(t *testing.T) {
		sid := create(t, app.URL+"/metadata")
		if code, _, _ := fs.do("POST", fs.ext("/Calls/"+sid+"/Digits"), url.Values{"Digits": {"1"}}); code != 200 {
			t.Fatal("digits")
		}
		ends(t, sid, "say:Press", "key:1", "error:11205", stock, "hangup:completed")
	})
	t.Run("too large", func(t *testing.T) {
		ends(t, create(t, app.URL+"/huge"), "error:11750", stock, "hangup:completed")
	})
	t.Run("redirect loop", func(t *testing.T) {
		sid := create(t, app.URL+"/loop")
		status, es := fs.timeline(t, sid)
		if status != "completed" || loops.Load() > 101 {
			t.Errorf("loop: status %s after %d fetches", status, loops.Load())
		}
		if last := es[len(es)-2]; last.Kind != "error" || !strings.Contains(last.Text, "redirect loop") {
			t.Errorf("loop ends with %+v", last)
		}
	})
	t.Run("an app that never answers", func(t *testing.T) {
		// Twilio's 15 s limit; meanwhile other calls run as usual.
		done := make(chan string)
		go func() { done <- create(t, app.URL+"/hang") }()
		ends(t, create(t, app.URL+"/huge"), "error:11750", stock, "hangup:completed")
		ends(t, <-done, "error:11200", stock, "hangup:completed")
	})
}
