package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"

	"github.com/tonepay/tonepay/internal/e2e"
)

// The tests measure a tonepay built once, by e2e.Main.
func TestMain(m *testing.M) { e2e.Main(m) }

// TestBench runs the load generator at a tiny size against a freshly built
// tonepay: it works and its JSON carries the fields the performance report
// reads.
func TestBench(t *testing.T) {
	exe := e2e.Binary()
	var out, errOut bytes.Buffer
	chart := filepath.Join(t.TempDir(), "latency.svg")
	args := []string{"--json", "--requests", "40", "--flows", "4", "--calls", "10", "--loads", "5,10", "--svg", chart, "--sessions", "40", "--voice-calls", "10", "--pay-flows", "4", "--streams", "10",
		"--sip-calls", "6", "--sip-typing", "2", "--duration", "1s", "--grow-rows", "50"}
	if err := Main(context.Background(), args, exe, &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("bench --json printed %q: %v", out.String(), err)
	}
	for _, k := range []string{"create_rps", "baseline_rps", "ratio", "flows_per_s", "digit_callback_p99_ms", "bytes_per_session",
		"voice_calls_per_s", "streams", "stream_frames_per_s", "stream_cpu_percent", "stream_key_callback_p99_ms", "gather_action_p50_ms", "gather_action_p99_ms", "pay_flows_per_s", "pay_status_p50_ms", "pay_status_p99_ms",
		"sip_calls", "sip_to_agent_sent", "sip_to_caller_sent", "sip_to_agent_p99_ms", "sip_to_caller_p99_ms", "sip_cpu_percent", "sip_key_callback_p99_ms",
		"create_rps_1m", "create_rps_empty", "key_p99_ms_1m", "key_p99_ms_empty"} {
		if v, ok := r[k].(float64); !ok || k != "bytes_per_session" && v <= 0 {
			t.Errorf("%s = %v", k, r[k])
		}
	}
	// every key-latency measure at every load, the chart drawn from them
	var res benchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{measureDigit, measureGather, measurePay} {
		for _, n := range []int{5, 10} {
			if res.p99At(m, n) <= 0 {
				t.Errorf("latency_by_load has no %s at %d calls: %+v", m, n, res.Latency)
			}
		}
	}
	svg, err := os.ReadFile(chart)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{})); err != nil || !bytes.Contains(svg, []byte("<polyline")) {
		t.Errorf("the chart is not an SVG with lines (%v):\n%s", err, svg)
	}
}

// TestBenchOnlyVoice runs just the voice measures, whose app checks every
// request's signature and counts the IVR's requests (Main fails otherwise).
func TestBenchOnlyVoice(t *testing.T) {
	exe := e2e.Binary()
	var out, errOut bytes.Buffer
	if err := Main(context.Background(), []string{"--only", "voice", "--voice-calls", "20", "--calls", "20", "--loads", "20"}, exe, &out, &errOut); err != nil {
		t.Fatalf("bench --only voice: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"voice calls", "(20 calls)", "Gather action", "(20 parked calls)"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if bytes.Contains(out.Bytes(), []byte("Payments create")) || bytes.Contains(out.Bytes(), []byte("<Pay>")) {
		t.Errorf("--only voice ran other measures:\n%s", out.String())
	}
	if err := Main(context.Background(), []string{"--only", "digits"}, exe, &out, &errOut); err == nil {
		t.Error("--only digits was accepted")
	}
}

// TestBenchOnlyPay runs just the <Pay> measures, whose app checks every
// request's signature, that every payment succeeded and that no request
// carried the clear card number (Main fails otherwise).
func TestBenchOnlyPay(t *testing.T) {
	exe := e2e.Binary()
	var out, errOut bytes.Buffer
	if err := Main(context.Background(), []string{"--only", "pay", "--pay-flows", "8", "--calls", "20", "--loads", "20"}, exe, &out, &errOut); err != nil {
		t.Fatalf("bench --only pay: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"<Pay> card payments", "(8 payments)", "next <Pay> statusCallback", "(20 parked calls)"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, not := range []string{"Payments create", "voice calls"} {
		if bytes.Contains(out.Bytes(), []byte(not)) {
			t.Errorf("--only pay ran other measures (%q):\n%s", not, out.String())
		}
	}
}

// TestBenchOnlyStreams runs just the Media Streams measure: the bench plays
// Twilio (signed upgrades, Twilio's frames) and every key, sent as in-band
// tones only, must reach its partial-result callback (Main fails otherwise).
func TestBenchOnlyStreams(t *testing.T) {
	exe := e2e.Binary()
	var out, errOut bytes.Buffer
	if err := Main(context.Background(), []string{"--only", "streams", "--streams", "20", "--stream-typing", "20"}, exe, &out, &errOut); err != nil {
		t.Fatalf("bench --only streams: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"Media Streams held at once, detector on: 20", "key as tones -> partial-result callback", "(100 keys, 20 callers typing)"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if bytes.Contains(out.Bytes(), []byte("Payments create")) || bytes.Contains(out.Bytes(), []byte("<Pay>")) {
		t.Errorf("--only streams ran other measures:\n%s", out.String())
	}
}

// TestBenchOnlySIP runs just the SIP bridge measure: the bench's trunk
// calls tonepay, tonepay bridges each call to the bench's agent, audio
// flows both ways, and every key typed as RFC 4733 events during a
// payment session reaches its partial-result callback (Main fails
// otherwise) and none reaches the agent.
func TestBenchOnlySIP(t *testing.T) {
	exe := e2e.Binary()
	var out, errOut bytes.Buffer
	args := []string{"--only", "sip", "--json", "--sip-calls", "20", "--sip-typing", "4", "--duration", "2s"}
	if err := Main(context.Background(), args, exe, &out, &errOut); err != nil {
		t.Fatalf("bench --only sip: %v\n%s", err, errOut.String())
	}
	var r benchResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("bench --json printed %q: %v", out.String(), err)
	}
	// 2 s of 20 calls at 50 packets a second each way, at least.
	if r.SIPCalls != 20 || r.SIPToAgentSent < 1500 || r.SIPToCallerSent < 2000 {
		t.Errorf("calls %d, packets sent to the agent %d, to the caller %d", r.SIPCalls, r.SIPToAgentSent, r.SIPToCallerSent)
	}
	// Loopback at 20 calls loses nothing; every relay is placed.
	if r.SIPToAgentLost != 0 || r.SIPToCallerLost != 0 || r.SIPUnplaced != 0 || r.SIPWriteErrors != 0 {
		t.Errorf("lost %d and %d, unplaced %d, write errors %d", r.SIPToAgentLost, r.SIPToCallerLost, r.SIPUnplaced, r.SIPWriteErrors)
	}
	if r.SIPKeys != 20 || r.SIPKeysMissed != 0 || r.SIPTyping != 4 || r.SIPKeyP99MS <= 0 {
		t.Errorf("keys %d (missed %d) of %d callers typing, p99 %v ms", r.SIPKeys, r.SIPKeysMissed, r.SIPTyping, r.SIPKeyP99MS)
	}
	if r.SIPAgentEvents != 0 || r.SIPAgentTones != 0 {
		t.Errorf("DTMF reached the agent during the sessions: %d RFC 4733 packets, %d keys detected", r.SIPAgentEvents, r.SIPAgentTones)
	}
	if r.SIPCPUPercent <= 0 || r.SIPToAgentP99MS <= 0 || r.SIPToCallerP99MS <= 0 || r.Streams != 0 || len(r.Create) != 0 {
		t.Errorf("result %+v", r)
	}
}
