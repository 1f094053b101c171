package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/pgtest"
	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// postgresDB makes a fresh database on TONEPAY_TEST_POSTGRES_URL's server.
var postgresDB = pgtest.FreshDB

// balancer sends each request to a random live server and, when a server
// does not answer, to another: what a load balancer in front of the cluster does.
type balancer struct {
	mu      sync.Mutex
	servers []*url.URL
	dead    map[string]bool
}

func (b *balancer) pick() *url.URL {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		u := b.servers[rand.IntN(len(b.servers))]
		if !b.dead[u.Host] {
			return u
		}
	}
}

func (b *balancer) kill(u *url.URL) { b.mu.Lock(); b.dead[u.Host] = true; b.mu.Unlock() }

func (b *balancer) RoundTrip(r *http.Request) (*http.Response, error) {
	var err error
	for try := 0; try < 8; try++ {
		target := b.pick()
		req := r.Clone(r.Context())
		if r.GetBody != nil {
			req.Body, _ = r.GetBody()
		}
		req.URL.Scheme, req.URL.Host, req.Host = target.Scheme, target.Host, target.Host
		var res *http.Response
		if res, err = http.DefaultTransport.RoundTrip(req); err == nil {
			return res, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, err
}

// TestCluster: three processes on one PostgreSQL database serve 200
// concurrent payments, each request to a random process; one process is
// killed in the middle. Every session ends exactly once, every callback is
// delivered and signed, and the processor charged each session once.
func TestCluster(t *testing.T) {
	db := postgresDB(t)
	dir := t.TempDir()
	processor := startProcess(t, []string{"processor", "--addr", "127.0.0.1:0"}, "TONEPAY_PROCESSOR_PASSWORD=clusterproc1")
	config := filepath.Join(dir, "tonepay.toml")
	os.WriteFile(config, []byte(`
[[connector]]
name = "Default"
type = "generic"
[connector.settings]
url = "`+processor.URL+`/"
username = "twilio"
password_env = "PROC_PASSWORD"
timeout = "5s"
`), 0o600)
	sid, token := tonepay.NewSID("AC"), "clustertoken1"
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := []string{"TONEPAY_DB=" + db, "TONEPAY_DATA_KEY=" + key, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token,
		"TONEPAY_CONFIG=" + config, "PROC_PASSWORD=clusterproc1", "TONEPAY_CONNECTOR_LEASE=5s"}
	lb := &balancer{dead: map[string]bool{}}
	var servers []*proc
	for range 3 {
		p := startServer(t, env...)
		servers = append(servers, p)
		u, _ := url.Parse(p.URL)
		lb.servers = append(lb.servers, u)
	}
	rc := newReceiver(t, token)
	c := &twclient.Client{Credentials: twclient.NewCredentials(sid, token), HTTPClient: &http.Client{Transport: lb, Timeout: 30 * time.Second}}
	c.SetAccountSid(sid)
	tw := api.NewApiServiceWithClient(c)
	hc := &http.Client{Transport: lb, Timeout: 30 * time.Second}
	ext := func(method, path string, form url.Values, out any) error {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, "http://tonepay/_tonepay/Accounts/"+sid+path, body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(sid, token)
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("%s %s: HTTP %d", method, path, res.StatusCode)
		}
		if out != nil {
			return json.NewDecoder(res.Body).Decode(out)
		}
		return nil
	}

	const payments = 200
	var started atomic.Int32
	killed := make(chan struct{})
	pks := make([]string, payments)
	errs := make(chan error, payments)
	sem := make(chan struct{}, 40)
	var wg sync.WaitGroup
	for i := range payments {
		sem <- struct{}{}
		if started.Add(1) == payments/2 {
			// Half-way: one process dies with requests, callbacks and sessions in flight.
			lb.kill(lb.servers[1])
			servers[1].kill()
			close(killed)
		}
		wg.Go(func() {
			defer func() { <-sem }()
			pk, err := clusterPayment(tw, ext, rc.srv.URL+"/cb", i)
			pks[i] = pk
			if err != nil {
				errs <- fmt.Errorf("payment %d (%s): %w", i, pk, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	<-killed
	if t.Failed() {
		return
	}

	// Every session ends exactly once, with success; every callback arrives signed.
	waitFor(t, 90*time.Second, "every session's result", func() bool {
		for _, pk := range pks {
			if len(results(rc, pk)) == 0 {
				return false
			}
		}
		return true
	})
	for _, pk := range pks {
		r := results(rc, pk)
		if len(r) != 1 || r[0] != "success" {
			t.Errorf("session %s ended %v", pk, r)
		}
	}
	for _, d := range rc.deliveries() {
		if !d.Valid {
			t.Fatalf("a callback with a bad signature: %v", d.Form)
		}
	}
	var recs struct {
		Transactions []struct {
			TransactionID string `json:"transaction_id"`
			ChargeID      string `json:"charge_id"`
		} `json:"transactions"`
	}
	req, _ := http.NewRequest("GET", processor.URL+"/", nil)
	req.SetBasicAuth("twilio", "clusterproc1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(res.Body).Decode(&recs)
	res.Body.Close()
	if len(recs.Transactions) != payments {
		t.Errorf("the processor charged %d transactions for %d sessions", len(recs.Transactions), payments)
	}
}

// results lists the distinct Result callbacks of a session (by idempotency
// token: a redelivered callback counts once).
func results(rc *receiver, pk string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range rc.forSession(pk) {
		if d.Form.Has("Result") && !seen[d.Token] {
			seen[d.Token] = true
			out = append(out, d.Form.Get("Result"))
		}
	}
	return out
}

// clusterPayment is one agent-assisted charge. Like a careful agent, it
// checks that each field was captured, and asks again if not: a key press
// sent to a process that died may or may not have been applied.
func clusterPayment(tw *api.ApiService, ext func(string, string, url.Values, any) error, cb string, i int) (string, error) {
	call, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl("https://example.com/twiml"))
	if err != nil {
		return "", err
	}
	pay, err := tw.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("create").SetStatusCallback(cb).
		SetChargeAmount(float32(1+i%50)))
	if err != nil {
		return "", err
	}
	pk := *pay.Sid
	for _, f := range []struct{ field, keys string }{
		{"payment-card-number", "4242424242424242#"}, {"expiration-date", "1230"}, {"security-code", "123"}, {"postal-code", "94109#"},
	} {
		for try := 0; ; try++ {
			if try == 5 {
				return pk, fmt.Errorf("%s not captured after %d tries", f.field, try)
			}
			if _, err := tw.UpdatePayments(*call.Sid, pk, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("c").SetStatusCallback(cb).SetCapture(f.field)); err != nil {
				continue
			}
			ext("POST", "/Calls/"+*call.Sid+"/Digits", url.Values{"Digits": {f.keys}}, nil)
			var view struct {
				Captured map[string]string `json:"captured"`
			}
			if ext("GET", "/Calls/"+*call.Sid+"/Payments/"+pk, nil, &view) == nil && view.Captured[f.field] != "" {
				break
			}
		}
	}
	_, err = tw.UpdatePayments(*call.Sid, pk, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("done").SetStatusCallback(cb).SetStatus("complete"))
	var te *twclient.TwilioRestError
	if errors.As(err, &te) && te.Code == tonepay.CodeInvalidOperation {
		err = nil // an earlier try reached a process that died after accepting it
	}
	return pk, err
}
