package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/calls"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/metrics"
	"github.com/tonepay/tonepay/payments"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
	"github.com/tonepay/tonepay/twilioapi"
	"github.com/tonepay/tonepay/webhook"
)

// nop queues callbacks without delivering them: they stay pending until the
// test runs a dispatcher.
type nop struct{}

func (nop) HandOver() time.Duration       { return 0 }
func (nop) Committed([]*tonepay.Callback) {}

// env is a server wired as cmd/tonepay wires it, on a real SQLite store.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	store *sqlite.Store
	m     *metrics.Metrics
	acct  *tonepay.Account
	disp  *webhook.Dispatcher
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := sqlite.Open(t.TempDir() + "/m.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m := metrics.New(metrics.Options{Live: store, LiveFor: time.Nanosecond, Connectors: []string{"Default"}})
	store.ObserveCommit = m.Commit

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	box, _ := seal.New(make([]byte, 32))
	conns := tonepay.Connectors{"Default": sandbox.New()}
	svc := servicetest.New(store, nop{}, box, conns, log)
	svc.Payments.Hooks = payments.Hooks{Ended: m.SessionEnded, Connector: m.ConnectorCall}
	svc.Hooks = calls.Hooks{Keys: m.Keys}
	t.Cleanup(svc.Wait)
	disp := &webhook.Dispatcher{Store: store, Logger: log, Observe: m.CallbackAttempt}

	root := http.NewServeMux()
	root.Handle("GET /metrics", m.Handler())
	root.Handle("/", twilioapi.NewServer(log, svc.Services(), twilioapi.Options{}))
	srv := httptest.NewServer(m.Wrap(twilioapi.Errors(root)))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: store, m: m, disp: disp, acct: storetest.MustAccount(t, store, "", time.Now())}
}

func (e *env) post(path string, form url.Values) int {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.acct.Sid, e.acct.AuthToken.Reveal())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode >= 300 {
		e.t.Fatalf("POST %s: %d %s", path, res.StatusCode, body)
	}
	return res.StatusCode
}

// scrape GETs /metrics and parses it.
func (e *env) scrape() (string, map[string]*dto.MetricFamily) {
	e.t.Helper()
	res, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		e.t.Fatalf("GET /metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		e.t.Fatalf("parsing the scrape: %v", err)
	}
	return string(body), fams
}

// value is the value of the series of name with labels (name=value
// pairs); a histogram's is its count. -1 when absent.
func (e *env) value(name string, labels ...string) float64 {
	e.t.Helper()
	_, fams := e.scrape()
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func (e *env) want(name string, want float64, labels ...string) {
	e.t.Helper()
	if got := e.value(name, labels...); got != want {
		e.t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// eventually waits for a series to reach want: what a connector or a
// dispatcher does happens after the request that started it.
func (e *env) eventually(name string, want float64, labels ...string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.value(name, labels...) != want {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s%v = %v, want %v", name, labels, e.value(name, labels...), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetricsMove drives a whole card payment through the HTTP API and a
// callback dispatcher, and checks that each metric moves as it should.
func TestMetricsMove(t *testing.T) {
	e := newEnv(t)
	var received atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { received.Add(1) }))
	t.Cleanup(recv.Close)

	// Series that exist at zero before anything happened.
	e.want("tonepay_sessions_open", 0)
	e.want("tonepay_calls_active", 0, "source", "api")
	e.want("tonepay_keys_total", 0, "source", "keypad")
	e.want("tonepay_sessions_ended_total", 0, "result", "success")
	e.want("tonepay_connector_requests_total", 0, "connector", "Default", "outcome", "ok")

	acctPath := "/2010-04-01/Accounts/" + e.acct.Sid
	e.post(acctPath+"/Calls.json", url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {"https://example.com/twiml"}})
	call := storetest.MustCall(t, e.store, e.acct.Sid, time.Now()).Sid // a second call, whose SID the test knows
	e.want("tonepay_calls_active", 2, "source", "api")

	cb := recv.URL + "/cb"
	e.post(acctPath+"/Calls/"+call+"/Payments.json", url.Values{"IdempotencyKey": {"k0"}, "StatusCallback": {cb}, "ChargeAmount": {"10.00"}, "PostalCode": {"false"}})
	e.want("tonepay_sessions_open", 1)
	if e.value("tonepay_callbacks_pending") < 1 {
		t.Errorf("no pending callback after create")
	}
	sessions, err := e.store.FindOpenSession(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	pk := sessions.Sid
	for _, fk := range [][2]string{{"payment-card-number", "4242424242424242#"}, {"expiration-date", "1230"}, {"security-code", "123"}} {
		e.post(acctPath+"/Calls/"+call+"/Payments/"+pk+".json", url.Values{"IdempotencyKey": {"c" + fk[0]}, "StatusCallback": {cb}, "Capture": {fk[0]}})
		e.post("/_tonepay/Accounts/"+e.acct.Sid+"/Calls/"+call+"/Digits", url.Values{"Digits": {fk[1]}})
	}
	e.want("tonepay_keys_total", 17+4+3, "source", "keypad")
	e.post(acctPath+"/Calls/"+call+"/Payments/"+pk+".json", url.Values{"IdempotencyKey": {"done"}, "StatusCallback": {cb}, "Status": {"complete"}})
	e.eventually("tonepay_sessions_ended_total", 1, "result", "success")
	e.want("tonepay_sessions_open", 0)
	e.want("tonepay_connector_requests_total", 1, "connector", "Default", "outcome", "ok")
	e.want("tonepay_connector_duration_seconds", 1, "connector", "Default")

	// Routes are patterns; unmatched paths and failures get fixed labels.
	e.want("tonepay_http_requests_total", 3, "route", "POST /_tonepay/Accounts/{AccountSid}/Calls/{CallSid}/Digits", "code", "200")
	e.want("tonepay_http_requests_total", 1, "route", "POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Payments.json", "code", "201")
	e.want("tonepay_http_requests_total", 4, "route", "POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}/Payments/{PaymentSid}", "code", "202")
	e.want("tonepay_http_request_duration_seconds", 3, "route", "POST /_tonepay/Accounts/{AccountSid}/Calls/{CallSid}/Digits")
	for _, path := range []string{"/nothing/" + e.acct.Sid, "/2010-04-01/Accounts/" + e.acct.Sid + "/Calls/" + call + "/Nope.json"} {
		res, err := http.Get(e.srv.URL + path)
		if err != nil || res.StatusCode != 404 {
			t.Fatalf("GET %s: %v %v", path, res, err)
		}
		res.Body.Close()
	}
	e.want("tonepay_http_requests_total", 2, "route", metrics.RouteUnmatched, "code", "404")
	res, _ := http.Get(e.srv.URL + acctPath + "/Calls.json") // no credentials
	res.Body.Close()
	e.want("tonepay_http_requests_total", 1, "route", "GET /2010-04-01/Accounts/{AccountSid}/Calls.json", "code", "401")
	if e.value("tonepay_store_commit_seconds") < 1 {
		t.Error("no store commit observed")
	}

	// The outbox drains: pending goes to 0, every callback is one delivered attempt.
	pending := e.value("tonepay_callbacks_pending")
	if pending < 5 {
		t.Fatalf("%v callbacks pending before the dispatcher runs; want the whole session's", pending)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.disp.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	e.eventually("tonepay_callbacks_pending", 0)
	e.eventually("tonepay_callback_attempts_total", pending, "outcome", "delivered")
	e.want("tonepay_callback_delivery_seconds", pending)
	e.want("tonepay_callback_attempt_seconds", pending)
	if received.Load() != int64(pending) {
		t.Errorf("receiver got %d callbacks, metrics say %v", received.Load(), pending)
	}

	e.post(acctPath+"/Calls/"+call+".json", url.Values{"Status": {"completed"}})
	e.want("tonepay_calls_active", 1, "source", "api")

	// No label value holds a SID, a card number or its last four.
	text, fams := e.scrape()
	if testing.Verbose() {
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "tonepay_") && !strings.Contains(l, "_bucket") {
				t.Log(l)
			}
		}
	}
	sid := regexp.MustCompile(`(AC|CA|PK|SK|TX)[0-9a-f]{32}`)
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				v := l.GetValue()
				if sid.MatchString(v) || strings.Contains(v, "4242") || strings.Contains(v, "1230") ||
					strings.Contains(v, e.acct.Sid) || strings.Contains(v, call) || strings.Contains(v, pk) {
					t.Errorf("%s has label %s=%q", name, l.GetName(), v)
				}
			}
		}
	}
	for _, v := range []string{e.acct.Sid, call, pk, "42424242"} {
		if strings.Contains(text, v) {
			t.Errorf("the scrape holds %q", v)
		}
	}
}

// TestLiveCountFails: a store that cannot count leaves its gauges out, and
// the rest of the scrape is served.
func TestLiveCountFails(t *testing.T) {
	store, err := sqlite.Open(t.TempDir() + "/m.db")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{Live: store, LiveFor: time.Nanosecond})
	store.Close()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != 200 || strings.Contains(body, "tonepay_sessions_open") || !strings.Contains(body, "tonepay_keys_total") {
		t.Errorf("scrape with a closed store: %d\n%s", rec.Code, body)
	}
}
