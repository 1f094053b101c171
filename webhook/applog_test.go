package webhook_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay/webhook"
)

// TestAppErrorLog: one WARN per host per Every, the next counting those
// held back; another host has its own; never the URL's credentials, path
// or query.
func TestAppErrorLog(t *testing.T) {
	var logs logBuffer
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	l := &webhook.AppErrorLog{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }}
	broken := "https://user:pw@app.example.com/voice/hidden?key=topsecret"
	for range 3 {
		l.Report("CA1", 11200, broken)
	}
	l.Report("CA2", 12100, "http://other.example.com:8080/x")
	l.Report("CA3", 0, "")
	out := logs.String()
	if n := strings.Count(out, "host=app.example.com:443"); n != 1 {
		t.Errorf("%d lines for one host within a minute, want 1:\n%s", n, out)
	}
	for _, want := range []string{"level=WARN", "call=CA1", "code=11200", "host=other.example.com:8080", "code=12100", `host="inline TwiML"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	now = now.Add(time.Minute)
	l.Report("CA4", 11200, broken)
	out = logs.String()
	if !strings.Contains(out, "call=CA4") || !strings.Contains(out, "similar_not_logged=2") {
		t.Errorf("a minute later: want CA4's line counting the 2 held back:\n%s", out)
	}
	for _, leak := range []string{"topsecret", "hidden", "pw@", "user"} {
		if strings.Contains(out, leak) {
			t.Errorf("the log shows %q:\n%s", leak, out)
		}
	}
}
