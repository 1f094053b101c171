package twilioapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/events"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
	"github.com/tonepay/tonepay/twilioapi"
)

// TestEventStream: a session change reaches the account's event stream as a
// masked session view, and not another account's stream.
func TestEventStream(t *testing.T) {
	store, err := sqlite.Open(t.TempDir() + "/ev.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hub := events.New()
	box, _ := seal.New(make([]byte, 32))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conns := tonepay.Connectors{"Default": sandbox.New()}
	svc := servicetest.New(store, nopNotifier{}, box, conns, log)
	svc.Payments.Publish, svc.Payments.Subscribe = hub.Publish, hub.Subscribe
	srv := httptest.NewServer(twilioapi.NewServer(log, svc.Services(), twilioapi.Options{}))
	t.Cleanup(srv.Close) // after the streams' own cleanups, which end them
	acct := storetest.MustAccount(t, store, "", time.Now())
	other := storetest.MustAccount(t, store, "", time.Now())
	call := storetest.MustCall(t, store, acct.Sid, time.Now())

	stream := func(a *tonepay.Account) *bufio.Reader {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/_tonepay/Accounts/"+a.Sid+"/Events", nil)
		req.SetBasicAuth(a.Sid, a.AuthToken.Reveal())
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("Events: %v %v", res, err)
		}
		r := bufio.NewReader(res.Body)
		if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "retry:") {
			t.Fatalf("first line %q", line)
		}
		return r
	}
	mine, theirs := stream(acct), stream(other)

	form := url.Values{"IdempotencyKey": {"k"}, "StatusCallback": {"https://example.com/cb"}}
	req, _ := http.NewRequest("POST", srv.URL+"/2010-04-01/Accounts/"+acct.Sid+"/Calls/"+call.Sid+"/Payments.json", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(acct.Sid, acct.AuthToken.Reveal())
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	var view map[string]any
	for {
		line, err := mine.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && data != "{}\n" {
			json.Unmarshal([]byte(data), &view)
			break
		}
	}
	if view["call_sid"] != call.Sid || view["status"] != "open" {
		t.Errorf("event data %v", view)
	}
	got := make(chan string, 1)
	go func() {
		for {
			line, err := theirs.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "event: session") {
				got <- line
			}
		}
	}()
	select {
	case <-got:
		t.Error("another account's stream got the event")
	case <-time.After(300 * time.Millisecond):
	}
}
