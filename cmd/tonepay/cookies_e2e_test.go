package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// cookieIVR is an IVR that keeps its state in cookies, as express-session
// or Flask's session do: a session cookie naming the caller's session
// (server-side, tied to the CallSid it began on) and a visit counter. It
// checks every request's X-Twilio-Signature with twilio-go's
// RequestValidator, and records the Cookie header of status callbacks.
type cookieIVR struct {
	t        *testing.T
	srv      *httptest.Server
	token    string
	mu       sync.Mutex
	sessions map[string]string // session cookie -> the CallSid it began on
	visits   map[string][]int  // CallSid -> the count each request carried, in order
	problems []string
	status   []string // Cookie headers of status callbacks
	next     int
}

func newCookieIVR(t *testing.T, token string) *cookieIVR {
	a := &cookieIVR{t: t, token: token, sessions: map[string]string{}, visits: map[string][]int{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *cookieIVR) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	params := map[string]string{}
	if r.Method == "POST" {
		for k := range r.PostForm {
			params[k] = r.PostForm.Get(k)
		}
	}
	// The URL as the app sees it: Twilio neither sends nor signs a fragment.
	full := "http://" + r.Host + r.URL.RequestURI()
	v := twclient.NewRequestValidator(a.token)
	valid := v.Validate(full, params, r.Header.Get("X-Twilio-Signature"))
	call := r.Form.Get("CallSid")
	a.mu.Lock()
	defer a.mu.Unlock()
	if !valid {
		a.problems = append(a.problems, r.URL.Path+": X-Twilio-Signature does not validate")
	}
	if r.URL.Path == "/status" {
		a.status = append(a.status, r.Header.Get("Cookie"))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	n := 0
	if c, err := r.Cookie("visits"); err == nil {
		n, _ = strconv.Atoi(c.Value)
	}
	a.visits[call] = append(a.visits[call], n)
	if c, err := r.Cookie("session"); err == nil {
		if began := a.sessions[c.Value]; began != call {
			a.problems = append(a.problems, fmt.Sprintf("%s: %s sent the session of %s", r.URL.Path, call, began))
		}
	} else {
		if n != 0 {
			a.problems = append(a.problems, r.URL.Path+": visits without a session")
		}
		a.next++
		s := "s" + strconv.Itoa(a.next)
		a.sessions[s] = call
		http.SetCookie(w, &http.Cookie{Name: "session", Value: s, Path: "/", HttpOnly: true, MaxAge: 3600})
	}
	n++
	http.SetCookie(w, &http.Cookie{Name: "visits", Value: strconv.Itoa(n), Path: "/"})
	w.Header().Set("Content-Type", "text/xml")
	switch r.URL.Path {
	case "/start":
		fmt.Fprintf(w, `<Response><Gather numDigits="1" action="/menu"><Say>Visit %d</Say></Gather></Response>`, n)
	case "/menu":
		// A Redirect with connection overrides: not sent, not signed.
		fmt.Fprintf(w, `<Response><Say>Visit %d</Say><Redirect>/again#rt=5000&amp;rc=2&amp;rp=5xx,ct</Redirect></Response>`, n)
	default:
		fmt.Fprintf(w, `<Response><Say>Visit %d</Say><Hangup/></Response>`, n)
	}
}

// TestVoiceCookies: an app that keeps its IVR state in cookies counts its
// visits across <Gather> → action → <Redirect> as it would on Twilio, every
// request signed; two calls at once to the same app never see each other's
// cookies; status callbacks carry none; a call's URLs may carry connection
// overrides, and one tonepay ignores is a warning on the timeline.
func TestVoiceCookies(t *testing.T) {
	fs := newVoiceServer(t)
	app := newCookieIVR(t, fs.token)
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))

	// Two calls at once, each pressing its key while the other runs.
	calls := make([]string, 2)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			c, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").
				SetUrl(app.srv.URL + "/start#ct=2000&e=ashburn").SetStatusCallback(app.srv.URL + "/status").
				SetStatusCallbackEvent([]string{"answered", "completed"}))
			if err != nil {
				t.Error(err)
				return
			}
			calls[i] = *c.Sid
			press(t, fs, *c.Sid, strconv.Itoa(i+1))
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, call := range calls {
		status, es := fs.timeline(t, call)
		if got := heard(es); status != tonepay.CallCompleted || !slices.Equal(got, []string{"say:Visit 1", "key:" + keyOf(calls, call), "say:Visit 2", "say:Visit 3", "hangup:completed"}) {
			t.Errorf("call %s %s heard %q", call, status, got)
		}
		for _, e := range es {
			if e.Kind == "warning" {
				t.Errorf("call %s: warning %q for valid overrides", call, e.Text)
			}
		}
	}
	waitFor(t, 10*time.Second, "the status callbacks", func() bool {
		app.mu.Lock()
		defer app.mu.Unlock()
		return len(app.status) == 4
	})
	app.mu.Lock()
	for _, call := range calls {
		if got := app.visits[call]; !slices.Equal(got, []int{0, 1, 2}) {
			t.Errorf("call %s: the app saw visits %v, want 0 1 2", call, got)
		}
	}
	for _, h := range app.status {
		if h != "" {
			t.Errorf("a status callback carried Cookie %q", h)
		}
	}
	for _, p := range app.problems {
		t.Error(p)
	}
	app.mu.Unlock()

	// An override tonepay does not know is ignored, and said so.
	c, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.srv.URL + "/start#rt=fast"))
	if err != nil {
		t.Fatal(err)
	}
	_, es := fs.timeline(t, *c.Sid)
	warned := false
	for _, e := range es {
		warned = warned || e.Kind == "warning" && strings.Contains(e.Text, `"rt=fast"`)
	}
	if !warned || !slices.Contains(heard(es), "say:Visit 1") {
		t.Errorf("timeline %+v: want the ignored override warned, and the call run", es)
	}
}

// keyOf is the key call i pressed: i+1.
func keyOf(calls []string, call string) string {
	return strconv.Itoa(slices.Index(calls, call) + 1)
}
