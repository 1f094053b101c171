package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestAttackTimelineLeaks: a tenant's TwiML points its calls at an internal
// service on loopback, which the default --callback-networks allows (a
// /metrics page, a pprof stack dump, an admin page, an XML config, a JSON
// state, a 500 error page, each holding a secret marker), directly, by
// <Redirect> and by a Gather action; and it writes credentials (a marker
// password) into the call's Url, a <Play>, a Gather action, a <Redirect>,
// a Dial action, a fallback, a StatusCallback, a Calls update and a URL
// quoted by an error. The marker never reaches the Timeline API, the store's
// files (database and WAL, byte for byte) or the log; the password never
// reaches the Timeline API, the store's timeline rows or the log, while the
// requests themselves are made.
func TestAttackTimelineLeaks(t *testing.T) {
	t.Parallel()
	marker := "leak" + tonepay.RandomHex(8)
	pw := "pw" + tonepay.RandomHex(8)
	db := filepath.Join(t.TempDir(), "leaks.db")
	fs := newFaultServer(t, db, "TONEPAY_LOG_LEVEL=debug")
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))

	// The internal service: what another process on this host answers.
	var metrics strings.Builder
	for i := 0; metrics.Len() < 13000; i++ {
		fmt.Fprintf(&metrics, "# HELP go_memstats_%d_bytes Bytes of memory.\n# TYPE go_memstats_%d_bytes gauge\ngo_memstats_%d_bytes 1.2e+06\n", i, i, i)
	}
	metrics.WriteString(`tonepay_build_info{secret="` + marker + `"} 1` + "\n")
	stack := "goroutine profile: total 3\n1 @ 0x43e2d6 0x40a6c5 0x4727c4\n#\t0x4727c3\tmain.(*vault).unseal+0x43\t/srv/" + marker + "/vault.go:88\n" +
		"#\t0x46f1e0\tnet/http.(*conn).serve+0x5c0\t/usr/local/go/src/net/http/server.go:2092\n"
	internal := map[string]struct{ ct, body string }{
		"/metrics":               {"text/plain; version=0.0.4; charset=utf-8", metrics.String()},
		"/debug/pprof/goroutine": {"text/plain; charset=utf-8", stack},
		"/token":                 {"text/plain", marker},
		"/admin":                 {"text/html; charset=utf-8", "<html><body><h1>Admin</h1><p>key " + marker + " &amp; more</p></body></html>"},
		"/config.xml":            {"application/xml", "<" + marker + "><db>postgres://app@10.0.0.5/prod</db></" + marker + ">"},
		"/state.json":            {"application/json", `{"secret":"` + marker + `"}`},
		"/fail":                  {"text/plain", "panic: " + marker},
	}
	var mu sync.Mutex
	hits := map[string]int{}
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		a, ok := internal[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.ct)
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		w.Write([]byte(a.body))
	}))
	t.Cleanup(svc.Close)
	hit := func(path string) int { mu.Lock(); defer mu.Unlock(); return hits[path] }

	// The tenant's app. cred is its own base URL with credentials in it.
	app := newVoiceApp(t, fs.token, nil)
	cred := strings.Replace(app.srv.URL, "http://", "http://"+fs.sid+":"+pw+"@", 1)
	pages := map[string]string{
		"/gather": `<Response><Gather numDigits="1" action="` + svc.URL + `/token" method="GET"><Say>Press</Say></Gather></Response>`,
		"/c1":     `<Response><Play>` + cred + `/a.mp3</Play><Gather numDigits="1" action="` + cred + `/c2"><Say>Press</Say></Gather></Response>`,
		"/c2":     `<Response><Redirect method="GET">` + cred + `/c3</Redirect></Response>`,
		"/c3":     `<Response><Dial action="` + cred + `/c4">+15557654321</Dial></Response>`,
		"/c4":     `<Response><Say>never heard: the call was redirected or ended</Say></Response>`,
		"/status": `<Response/>`, // a 2xx: the next progress callback goes at once
		"/fb":     `<Response><Say>Fallback</Say><Gather action="ftp://` + fs.sid + `:` + pw + `@127.0.0.1/x"/></Response>`,
	}
	for path := range internal {
		pages["/to"+path] = `<Response><Say>Going in</Say><Redirect method="GET">` + svc.URL + path + `</Redirect></Response>`
	}
	app.SetPages(pages)

	create := func(p *api.CreateCallParams) string {
		t.Helper()
		c, err := tw.CreateCall(p.SetTo("+15005550006").SetFrom("+15005550001"))
		if err != nil {
			t.Fatal(err)
		}
		return *c.Sid
	}
	press := func(sid, keys string) {
		t.Helper()
		if code, body, err := fs.do("POST", fs.ext("/Calls/"+sid+"/Digits"), url.Values{"Digits": {keys}}); err != nil || code != 200 {
			t.Fatalf("digits: %d %v %s", code, err, body)
		}
	}
	timeline := func(sid string) string {
		t.Helper()
		code, body, err := fs.do("GET", fs.ext("/Calls/"+sid+"/Timeline"), nil)
		if err != nil || code != 200 {
			t.Fatalf("timeline: %d %v %s", code, err, body)
		}
		return string(body)
	}

	tried, correct := 0, 0
	check := func(what, problem string) {
		tried++
		if problem == "" {
			correct++
		} else {
			t.Errorf("%s: %s", what, problem)
		}
	}
	unless := func(ok bool, problem string) string {
		if ok {
			return ""
		}
		return problem
	}
	shows := func(s, secret string) string {
		if i := strings.Index(s, secret); i >= 0 {
			return fmt.Sprintf("shows it: ...%.160s", s[max(0, i-100):])
		}
		return ""
	}

	// Bug A: answers that are not TwiML.
	leakCalls := map[string]string{}
	for path := range internal {
		leakCalls["by <Redirect> to "+path] = create((&api.CreateCallParams{}).SetUrl(app.url("/to" + path)).SetMethod("GET"))
	}
	leakCalls["the call's Url is /metrics"] = create((&api.CreateCallParams{}).SetUrl(svc.URL + "/metrics"))
	g := create((&api.CreateCallParams{}).SetUrl(app.url("/gather")))
	press(g, "1")
	leakCalls["a Gather action to /token"] = g
	for path := range internal {
		check("the internal service got "+path, unless(hit(path) > 0, "never requested: the test proves nothing"))
	}
	for name, sid := range leakCalls {
		tl := timeline(sid)
		problem := shows(tl, marker)
		if problem == "" && !strings.Contains(tl, `"completed"`) {
			problem = "the call did not end: " + tl
		}
		check("the timeline of the call "+name, problem)
	}

	// Bug B: credentials in URLs.
	b1 := create((&api.CreateCallParams{}).SetUrl(cred + "/c1").SetStatusCallback(cred + "/status").
		SetStatusCallbackEvent([]string{"initiated", "answered", "completed"}))
	press(b1, "1")                                                                             // the Gather action, then the Redirect, then the Dial waits
	if _, err := tw.UpdateCall(b1, (&api.UpdateCallParams{}).SetUrl(cred+"/c3")); err != nil { // the Dial action is notified, the update runs
		t.Fatal(err)
	}
	if _, err := tw.UpdateCall(b1, (&api.UpdateCallParams{}).SetStatus("completed")); err != nil {
		t.Fatal(err)
	}
	b2 := create((&api.CreateCallParams{}).SetUrl(cred + "/missing").SetFallbackUrl(cred + "/fb"))
	var got []string
	for _, r := range app.requests() {
		got = append(got, r.Path)
	}
	for _, path := range []string{"/c1", "/c2", "/c3", "/c4", "/missing", "/fb"} {
		found := false
		for _, p := range got {
			found = found || p == path
		}
		check("the app got "+path, unless(found, fmt.Sprintf("not requested (requests %q): the test proves nothing", got)))
	}
	waitFor(t, 15*time.Second, "the completed callback's answer on the timeline", func() bool {
		return strings.Contains(timeline(b1), "call progress: completed")
	})
	for name, sid := range map[string]string{"play, gather, redirect, dial, update, status callback": b1, "fallback, an error quoting a URL": b2} {
		tl := timeline(sid)
		problem := shows(tl, pw)
		if problem == "" && !strings.Contains(tl, strings.TrimPrefix(app.srv.URL, "http://")) {
			problem = "shows no URL of the app at all: " + tl
		}
		check("the timeline of the call with "+name, problem)
	}

	// The store and the log.
	rows := openReadOnly(t, db)
	var all strings.Builder
	r, err := rows.Query(`SELECT entry FROM call_timeline`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var e string
		r.Scan(&e)
		all.WriteString(e + "\n")
	}
	r.Close()
	check("the store's timeline rows and the password", shows(all.String(), pw))
	check("the store's timeline rows and the marker", shows(all.String(), marker))
	for name, data := range storeFiles(t, db) {
		check("the store file "+name, shows(string(data), marker))
	}
	check("the log and the marker", shows(fs.logs(), marker))
	check("the log and the password", shows(fs.logs(), pw))
	figures(t, "attack-timeline-leaks", tried, correct, fmt.Sprintf("calls=%d", len(leakCalls)+2))
}
