package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/e2e"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestParseServePruneFlag: --timeline-retention and --retention, their
// variables, defaults and minimums.
func TestParseServePruneFlag(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	timeline := func(c *serveConfig) time.Duration { return c.TimelineRetention }
	sessions := func(c *serveConfig) time.Duration { return c.Retention }
	tests := []struct {
		name    string
		get     func(*serveConfig) time.Duration
		args    []string
		env     func(string) string
		want    time.Duration
		wantErr string
	}{
		{"timeline: default a day", timeline, nil, env(), 24 * time.Hour, ""},
		{"timeline: flag", timeline, []string{"--timeline-retention", "90m"}, env(), 90 * time.Minute, ""},
		{"timeline: environment", timeline, nil, env("TONEPAY_TIMELINE_RETENTION", "168h"), 168 * time.Hour, ""},
		{"timeline: flag beats environment", timeline, []string{"--timeline-retention", "2h"}, env("TONEPAY_TIMELINE_RETENTION", "3h"), 2 * time.Hour, ""},
		{"timeline: the minimum", timeline, []string{"--timeline-retention", "1m"}, env(), time.Minute, ""},
		{"timeline: below the minimum", timeline, []string{"--timeline-retention", "59s"}, env(), 0, "--timeline-retention must be at least 1m"},
		{"timeline: zero", timeline, nil, env("TONEPAY_TIMELINE_RETENTION", "0s"), 0, "--timeline-retention must be at least 1m"},
		{"timeline: not a duration", timeline, nil, env("TONEPAY_TIMELINE_RETENTION", "a day"), 0, "TONEPAY_TIMELINE_RETENTION"},
		{"sessions: default 30 days", sessions, nil, env(), 30 * 24 * time.Hour, ""},
		{"sessions: flag", sessions, []string{"--retention", "2160h"}, env(), 90 * 24 * time.Hour, ""},
		{"sessions: environment", sessions, nil, env("TONEPAY_RETENTION", "168h"), 168 * time.Hour, ""},
		{"sessions: flag beats environment", sessions, []string{"--retention", "2h"}, env("TONEPAY_RETENTION", "3h"), 2 * time.Hour, ""},
		{"sessions: the minimum", sessions, []string{"--retention", "1h"}, env(), time.Hour, ""},
		{"sessions: below the minimum", sessions, []string{"--retention", "59m"}, env(), 0, "--retention must be at least 1h"},
		{"sessions: zero", sessions, nil, env("TONEPAY_RETENTION", "0s"), 0, "--retention must be at least 1h"},
		{"sessions: not a duration", sessions, nil, env("TONEPAY_RETENTION", "a month"), 0, "TONEPAY_RETENTION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServe(tt.args, tt.env, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(&c); got != tt.want {
				t.Errorf("retention = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRetentionE2E: with a retention of a few seconds (set in process,
// under --retention's minimum) and the pruner looking every 50 ms, a
// payment that ended longer ago than that reads 20404 through the API, as
// do its callbacks, and not before its retention; one that ended just now
// reads fine.
func TestRetentionE2E(t *testing.T) {
	const retention = 3 * time.Second
	sid, token := tonepay.NewSID("AC"), "retentiontoken1"
	cfg := defaultServeConfig()
	cfg.Addr, cfg.DB = "127.0.0.1:0", filepath.Join(t.TempDir(), "r.db")
	cfg.AccountSid, cfg.AuthToken = sid, token
	cfg.Retention = retention
	s, err := buildServer(context.Background(), cfg, func(string) string { return "" }, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.payments.PruneEvery = 50 * time.Millisecond
	s.run()
	t.Cleanup(func() { s.close(true) })
	base := "http://" + s.ln.Addr().String()
	tw, _ := newTwilio(t, base, sid, token, sid, loadSpec(t))
	rc := newReceiver(t, token)

	// ended starts a payment, cancels it, waits for its last callback and
	// returns the flow and when it ended (before the cancel was sent).
	ended := func() (*flow, time.Time) {
		t.Helper()
		fl := &flow{t: t, srv: &proc{&e2e.Proc{URL: base}}, tw: tw, sid: sid, token: token, rc: rc, cbURL: rc.srv.URL + "/cb"}
		fl.start((&api.CreatePaymentsParams{}).SetChargeAmount(5))
		at := time.Now()
		if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("cancel")); err != nil {
			t.Fatal(err)
		}
		fl.waitFor("Result", "*")
		return fl, at
	}
	// read GETs the payment (or its callbacks, with suffix) and returns
	// the HTTP status and Twilio code.
	read := func(fl *flow, suffix string) (int, int) {
		t.Helper()
		u := base + "/_tonepay/Accounts/" + sid + "/Calls/" + fl.call + "/Payments/" + fl.pk + suffix
		req, _ := http.NewRequest("GET", u, nil)
		req.SetBasicAuth(sid, token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Code int }
		json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body.Code
	}

	old, endedAt := ended()
	if st, _ := read(old, ""); st != 200 {
		t.Fatalf("a payment that just ended: %d", st)
	}
	waitFor(t, 10*retention, "the old payment pruned", func() bool {
		st, _ := read(old, "")
		return st == 404
	})
	if gone := time.Since(endedAt); gone < retention {
		t.Errorf("pruned %v after it ended, before its retention (%v)", gone, retention)
	}
	recent, _ := ended()
	for _, suffix := range []string{"", "/Callbacks"} {
		if st, code := read(old, suffix); st != 404 || code != 20404 {
			t.Errorf("GET old payment%s = %d, %d; want 404, 20404", suffix, st, code)
		}
		if st, _ := read(recent, suffix); st != 200 {
			t.Errorf("GET recent payment%s = %d; want 200", suffix, st)
		}
	}
}
