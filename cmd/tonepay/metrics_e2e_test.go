package main

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestMetrics: /metrics on the main listener shows a payment's traffic, with
// no account, call or card value in any label; with --metrics-addr it moves
// to a listener of its own and leaves the API's.
func TestMetrics(t *testing.T) {
	scrape := func(t *testing.T, url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	t.Run("main listener", func(t *testing.T) {
		sid, token := tonepay.NewSID("AC"), "metricstoken1"
		srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "m.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
		tw, _ := newTwilio(t, srv.URL, sid, token, sid, loadSpec(t))
		rc := newReceiver(t, token)
		fl := &flow{t: t, srv: srv, tw: tw, sid: sid, token: token, rc: rc, cbURL: rc.srv.URL + "/cb"}
		fl.start((&api.CreatePaymentsParams{}).SetChargeAmount(1))
		fl.enter("payment-card-number", card4242+"#")
		fl.waitFor("PaymentCardNumber", "xxxxxxxxxxxx4242")
		code, body := scrape(t, srv.URL+"/metrics")
		if code != 200 {
			t.Fatalf("GET /metrics: %d", code)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`tonepay_http_requests_total\{code="201",route="POST /2010-04-01/Accounts/\{AccountSid\}/Calls/\{CallSid\}/Payments.json"\} 1\b`),
			regexp.MustCompile(`tonepay_keys_total\{source="keypad"\} 17\b`),
			regexp.MustCompile(`tonepay_sessions_open 1\b`),
			regexp.MustCompile(`tonepay_calls_active\{source="api"\} 1\b`),
			regexp.MustCompile(`tonepay_store_commit_seconds_count [1-9]`),
			regexp.MustCompile(`tonepay_callback_attempts_total\{outcome="delivered"\} [1-9]`),
		} {
			if !want.MatchString(body) {
				t.Errorf("no line matching %s", want)
			}
		}
		// Sample values are free numbers (a heap size may well contain 4242),
		// so the last four are looked for in names and labels only.
		var labels strings.Builder
		for line := range strings.Lines(body) {
			if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
				line = line[:i]
			}
			labels.WriteString(line)
		}
		for _, leak := range []string{sid, fl.call, fl.pk, card4242, token} {
			if strings.Contains(body, leak) {
				t.Errorf("/metrics shows %q", leak)
			}
		}
		if strings.Contains(labels.String(), "4242") {
			t.Errorf("/metrics shows the card's last four in a name or label")
		}
	})
	t.Run("own listener", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "m.db"), "TONEPAY_METRICS_ADDR="+addr)
		if code, body := scrape(t, srv.URL+"/metrics"); code != 404 || !strings.Contains(body, `"code":20404`) {
			t.Errorf("main listener /metrics with --metrics-addr: %d %s", code, body)
		}
		if code, body := scrape(t, "http://"+addr+"/metrics"); code != 200 || !strings.Contains(body, "tonepay_sessions_ended_total") {
			t.Errorf("metrics listener: %d", code)
		}
	})
}
