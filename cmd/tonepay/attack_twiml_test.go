package main

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestAttackTwiMLSize: documents an app can serve within the 64 KiB limit
// that cost far more than their size (issue 19, items 2 and 7). 9,000
// nested elements (63 KB) allocated ~300 MiB in the server per call; 12,500
// unknown attributes on one <Say> (62.5 KB) wrote 12,500 timeline rows and
// ~1.8 MB of saved state rewritten on every key. Calls of both kinds run at
// once: the nested ones end with 12100, the others run with one 12200
// warning and a small state, and the server allocates a bounded amount for
// all of them (its own Go metrics on /metrics: it runs as a process).
func TestAttackTwiMLSize(t *testing.T) {
	const (
		calls    = 4        // of each kind, at once
		maxAlloc = 96 << 20 // bytes the server may allocate for all of them
		maxState = 8 << 10  // bytes of a call's saved state
	)
	db := filepath.Join(t.TempDir(), "voice.db")
	fs := newFaultServer(t, db)
	nested := `<Response><Say>` + strings.Repeat("<a>", 9000) + "deep" + strings.Repeat("</a>", 9000) + `</Say></Response>`
	attrs := `<Response><Say` + strings.Repeat(` a=""`, 12500) + `>Hello</Say><Gather numDigits="1" action="/done"><Say>Press a key</Say></Gather></Response>`
	if len(nested) > 64<<10 || len(attrs) > 64<<10 {
		t.Fatalf("documents of %d and %d bytes: over the fetcher's limit", len(nested), len(attrs))
	}
	app := newVoiceApp(t, fs.token, map[string]string{"/nested": nested, "/attrs": attrs, "/done": `<Response><Say>Thanks</Say></Response>`})
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))
	metrics := *fs.url.Load() + "/metrics"

	// The server's first calls set up what every call uses (statements,
	// pools): one of each before the measure.
	create := func(path string) (string, error) {
		c, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.url(path)))
		if err != nil {
			return "", err
		}
		return *c.Sid, nil
	}
	for _, p := range []string{"/nested", "/attrs"} {
		if _, err := create(p); err != nil {
			t.Fatal(err)
		}
	}
	allocBefore, rssBefore := serverMetric(t, metrics, "go_memstats_alloc_bytes_total"), serverMetric(t, metrics, "process_resident_memory_bytes")

	var wg sync.WaitGroup
	sids := make([]string, 2*calls)
	errs := make([]error, 2*calls)
	for i := range sids {
		path := "/nested"
		if i%2 == 1 {
			path = "/attrs"
		}
		wg.Go(func() { sids[i], errs[i] = create(path) })
	}
	wg.Wait()

	state := openReadOnly(t, db)
	stock := "say:We're sorry, but an application error has occurred. Goodbye!"
	tried, correct := 0, 0
	var maxStateSeen, maxKey int
	var keyTimes []time.Duration
	for i, sid := range sids {
		tried++
		if errs[i] != nil {
			t.Errorf("create %d: %v", i, errs[i])
			continue
		}
		if i%2 == 0 {
			status, es := fs.timeline(t, sid)
			if got := heard(es); status != "completed" || !slices.Equal(got, []string{"error:12100", stock, "hangup:completed"}) {
				t.Errorf("nested %s: status %s, heard %q", sid, status, got)
				continue
			}
			correct++
			continue
		}
		// Waiting in the Gather: the state saved now is rewritten on each key.
		n := savedState(t, state, sid)
		maxStateSeen = max(maxStateSeen, n)
		start := time.Now()
		if code, body, err := fs.do("POST", fs.ext("/Calls/"+sid+"/Digits"), url.Values{"Digits": {"1"}}); err != nil || code != 200 {
			t.Errorf("digits %s: %d %v %s", sid, code, err, body)
			continue
		}
		keyTimes = append(keyTimes, time.Since(start))
		status, es := fs.timeline(t, sid)
		var warnings []timelineEntry
		for _, e := range es {
			if e.Kind == "warning" {
				warnings = append(warnings, e)
			}
		}
		got := heard(es)
		switch {
		case status != "completed" || !slices.Equal(got, []string{"say:Hello", "say:Press a key", "key:1", "say:Thanks", "hangup:completed"}):
			t.Errorf("attributes %s: status %s, heard %q", sid, status, got)
		case len(warnings) != 1 || warnings[0].Code != 12200 || !strings.Contains(warnings[0].Text, "12500"):
			t.Errorf("attributes %s: %d warnings: %+v", sid, len(warnings), warnings[:min(len(warnings), 3)])
		case n > maxState:
			t.Errorf("attributes %s: %d bytes of saved state, want at most %d", sid, n, maxState)
		default:
			correct++
		}
	}
	alloc := serverMetric(t, metrics, "go_memstats_alloc_bytes_total") - allocBefore
	rss := serverMetric(t, metrics, "process_resident_memory_bytes") - rssBefore
	if alloc > maxAlloc {
		t.Errorf("the server allocated %.1f MiB for %d calls, want at most %d MiB", alloc/(1<<20), 2*calls, maxAlloc>>20)
	}
	for _, d := range keyTimes {
		maxKey = max(maxKey, int(d.Milliseconds()))
	}
	figures(t, "attack-twiml-size", tried, correct, fmt.Sprintf("server_alloc_mib=%.1f rss_growth_mib=%.1f max_state_bytes=%d max_key_ms=%d calls=%d",
		alloc/(1<<20), rss/(1<<20), maxStateSeen, maxKey, 2*calls))
}

// serverMetric reads one unlabelled sample from the server's /metrics.
func serverMetric(t *testing.T, metricsURL, name string) float64 {
	t.Helper()
	res, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no %s on /metrics", name)
	return 0
}

// savedState is the size of a call's saved run (voice.State as JSON).
func savedState(t *testing.T, d *sql.DB, call string) int {
	t.Helper()
	var n int
	if err := d.QueryRow(`SELECT length(state) FROM call_runs WHERE call_sid = ?`, call).Scan(&n); err != nil {
		t.Fatalf("call run %s: %v", call, err)
	}
	return n
}
