package main

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVoiceCluster: two processes on one PostgreSQL database run calls
// together: a call placed on one takes its key on the other (the Gather's
// action is requested once), a <Pay> takes its fields on both and charges
// once, and a Gather whose process died times out on the survivor.
func TestVoiceCluster(t *testing.T) {
	db := postgresDB(t)
	a := newFaultServer(t, db)
	b := newFaultServer(t, db, "TONEPAY_ACCOUNT_SID="+a.sid, "TONEPAY_AUTH_TOKEN="+a.token)
	b.sid, b.token = a.sid, a.token
	// /menu waits a minute for its key (never timed out by a slow machine
	// before the test presses it), /menu-short 3 s (the one left to time out).
	const menu = `<Response><Gather numDigits="1" action="/chosen" timeout="60"><Say>Press a key</Say></Gather><Say>No key</Say></Response>`
	app := newVoiceApp(t, a.token, map[string]string{
		"/menu":       menu,
		"/menu-short": strings.Replace(menu, `timeout="60"`, `timeout="3"`, 1),
		"/chosen":     `<Response><Say>Chosen</Say></Response>`,
		"/pay":        `<Response><Pay action="/paid" chargeAmount="4.00" timeout="30"/></Response>`,
		"/paid":       `<Response><Say>Paid</Say></Response>`,
	})
	create := func(fs *faultServer, path string) string {
		code, body, err := fs.do("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {app.url(path)}})
		if err != nil || code != 201 {
			t.Fatalf("create: %d %v %s", code, err, body)
		}
		return sidOf(body)
	}
	count := func(path string) int {
		n := 0
		for _, r := range app.requests() {
			if r.Path == path {
				n++
			}
		}
		return n
	}

	call := create(a, "/menu")
	press(t, b, call, "7")
	if _, es := b.timeline(t, call); !slices.Contains(heard(es), "say:Chosen") || count("/chosen") != 1 {
		t.Fatalf("key on the other process: %q, %d actions", heard(es), count("/chosen"))
	}

	paying := create(b, "/pay")
	press(t, a, paying, card+"#")
	press(t, b, paying, "1230")
	press(t, a, paying, "123")
	press(t, b, paying, "94105#")
	waitFor(t, 10*time.Second, "the <Pay> action", func() bool { return count("/paid") == 1 })
	var paid appRequest
	for _, r := range app.requests() {
		if r.Path == "/paid" {
			paid = r
		}
	}
	if paid.Params.Get("Result") != "success" {
		t.Fatalf("<Pay> across processes: %v", paid.Params)
	}

	left := create(a, "/menu-short")
	a.kill() // its timer for left's Gather dies with it
	waitFor(t, 15*time.Second, "the survivor to time the Gather out", func() bool {
		st, _ := b.timeline(t, left)
		return st == "completed"
	})
	if _, es := b.timeline(t, left); !slices.Contains(heard(es), "say:No key") {
		t.Errorf("heard %q", heard(es))
	}
	time.Sleep(time.Second)
	if count("/chosen") != 1 || count("/paid") != 1 {
		t.Errorf("a request made twice: /chosen %d, /paid %d", count("/chosen"), count("/paid"))
	}
	app.checkSigned()
}
