// Package bench is the load generator behind `tonepay bench`: it measures a
// real `tonepay serve` child process against a bare net/http server doing the
// least equivalent work, in one run, on loopback. It is a tool for operators
// and for docs/performance.md, kept out of the server's own package.
package bench

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/cmd/tonepay/internal/cliflag"
	"github.com/tonepay/tonepay/webhook"
)

// benchResult is what `tonepay bench --json` prints.
type benchResult struct {
	BaselineRPS          float64            `json:"baseline_rps"`
	CreateRPS            float64            `json:"create_rps"` // the best of the concurrency levels
	Ratio                float64            `json:"ratio"`      // create_rps / baseline_rps
	Create               []levelResult      `json:"create"`
	Baseline             []levelResult      `json:"baseline"`
	FlowsPerS            float64            `json:"flows_per_s"`
	DigitCallbackP50MS   float64            `json:"digit_callback_p50_ms"`
	DigitCallbackP99MS   float64            `json:"digit_callback_p99_ms"`
	DigitPresses         int                `json:"digit_presses"`
	DigitCallbackP99MS3K float64            `json:"digit_callback_p99_ms_3000"` // the same at 3,000 calls (from latency_by_load)
	Latency              []loadPoint        `json:"latency_by_load"`            // every key-latency measure at every --loads
	BytesPerCall         float64            `json:"bytes_per_call"`             // Go heap per call waiting in a Gather
	VoiceCallsPerS       float64            `json:"voice_calls_per_s"`          // Say, Gather, key, Redirect, Hangup
	VoiceCalls           int                `json:"voice_calls"`
	GatherActionP50MS    float64            `json:"gather_action_p50_ms"` // key -> the Gather's action request
	GatherActionP99MS    float64            `json:"gather_action_p99_ms"`
	GatherCalls          int                `json:"gather_calls"`    // calls parked in the Gather at once
	PayFlowsPerS         float64            `json:"pay_flows_per_s"` // <Pay>: create, four fields' keys, charge, action
	PayFlows             int                `json:"pay_flows"`
	PayStatusP50MS       float64            `json:"pay_status_p50_ms"` // card number keys -> For=expiration-date statusCallback
	PayStatusP99MS       float64            `json:"pay_status_p99_ms"`
	PayStatusCalls       int                `json:"pay_status_calls"`           // calls parked at <Pay> at once
	Streams              int                `json:"streams"`                    // Media Streams held at once (issue 22)
	StreamFramesPerS     float64            `json:"stream_frames_per_s"`        // media frames the server read per second
	StreamLateRatio      float64            `json:"stream_late_ratio"`          // frames the bench could not write on time
	StreamCPUPercent     float64            `json:"stream_cpu_percent"`         // the server's CPU with every stream sending, of one core
	StreamCPUPerStreamMS float64            `json:"stream_cpu_ms_per_s"`        // CPU ms per stream per second of audio
	StreamKeyP50MS       float64            `json:"stream_key_callback_p50_ms"` // a key's first tone frame -> its partial-result callback
	StreamKeyP99MS       float64            `json:"stream_key_callback_p99_ms"`
	StreamKeys           int                `json:"stream_keys"`
	StreamTyping         int                `json:"stream_typing"`         // callers pressing keys at once, among the streams
	SIPCalls             int                `json:"sip_calls"`             // SIP calls bridged to the agent at once
	SIPSetupPerS         float64            `json:"sip_setup_calls_per_s"` // caller INVITE -> agent answered -> caller answered
	SIPSeconds           float64            `json:"sip_cpu_window_s"`      // the window of every call relaying, nobody typing
	SIPCPUPercent        float64            `json:"sip_cpu_percent"`       // the server's CPU in that window, of one core
	SIPCPUPerCallMS      float64            `json:"sip_cpu_ms_per_s"`      // CPU ms per bridged call per second of audio
	SIPBenchCPUPercent   float64            `json:"sip_bench_cpu_percent"` // the bench's own (callers, agent) in that window
	SIPToAgentP50MS      float64            `json:"sip_to_agent_p50_ms"`   // packet written by the caller -> its relay at the agent
	SIPToAgentP99MS      float64            `json:"sip_to_agent_p99_ms"`
	SIPToAgentMaxMS      float64            `json:"sip_to_agent_max_ms"`
	SIPToAgentSent       int                `json:"sip_to_agent_sent"`
	SIPToAgentLost       int                `json:"sip_to_agent_lost"`
	SIPToCallerP50MS     float64            `json:"sip_to_caller_p50_ms"` // packet written by the agent -> its relay at the caller
	SIPToCallerP99MS     float64            `json:"sip_to_caller_p99_ms"`
	SIPToCallerMaxMS     float64            `json:"sip_to_caller_max_ms"`
	SIPToCallerSent      int                `json:"sip_to_caller_sent"`
	SIPToCallerLost      int                `json:"sip_to_caller_lost"`
	SIPUnplaced          int                `json:"sip_unplaced"`            // relays not matched to a packet (duplicates, off the timestamp grid)
	SIPWriteErrors       int                `json:"sip_write_errors"`        // the bench's own sends that failed
	SIPKernelStamps      bool               `json:"sip_kernel_stamps"`       // arrivals stamped by the kernel (else by the bench's reader)
	SIPKeyP50MS          float64            `json:"sip_key_callback_p50_ms"` // a key's first RFC 4733 end packet -> its partial-result callback
	SIPKeyP99MS          float64            `json:"sip_key_callback_p99_ms"`
	SIPKeys              int                `json:"sip_keys"`
	SIPKeysMissed        int                `json:"sip_keys_missed"` // keys with no partial-result callback within 10 s
	SIPUDPDrops          int                `json:"sip_udp_drops"`   // the machine's UDP receive-buffer drops during the measure (-1: unknown)
	SIPTyping            int                `json:"sip_typing"`
	SIPAgentEvents       int                `json:"sip_agent_events"` // RFC 4733 packets that reached the agent (callers type only in sessions): must be 0
	SIPAgentTones        int                `json:"sip_agent_tones"`  // keys a detector found in the typing calls' audio at the agent: must be 0
	BytesPerSession      float64            `json:"bytes_per_session"`
	Sessions             int                `json:"sessions_open"`
	Machine              map[string]string  `json:"machine"`
	Errors               map[string]float64 `json:"errors,omitempty"`
	pgResult                                // pg.go
	growResult                              // grow.go
}

type levelResult struct {
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	RPS         float64 `json:"rps"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
}

// options are `tonepay bench`'s flags.
type options struct {
	asJSON                                                 bool
	requests, flows, calls, sessions, voiceCalls, payFlows int
	streams, typing                                        int
	sipCalls, sipTyping                                    int
	duration                                               time.Duration // how long the SIP calls relay before their callers type
	loads                                                  []int         // the key-latency measures' loads, in calls
	svg                                                    string        // where the latency chart goes
	only                                                   string
	postgres                                               string        // the PostgreSQL server of the postgres group
	pgbenchTime                                            time.Duration // each pgbench run
	growRows                                               int           // ended sessions in the grown store (hidden: tests shrink it)
}

// groups are --only's values: the measures run alone.
var groups = []string{"payments", "voice", "pay", "streams", "sip", "postgres", "grow"}

// parseOptions reads the words after "bench"; flag errors are written to
// stderr by cliflag.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	var err error
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.asJSON, "json", false, "print one JSON object instead of a table")
	fs.IntVar(&o.requests, "requests", 4000, "Payments creates per concurrency level")
	fs.IntVar(&o.flows, "flows", 200, "complete agent-assisted payments")
	fs.IntVar(&o.calls, "calls", 1000, "concurrent calls for the digit latency")
	fs.IntVar(&o.sessions, "sessions", 10000, "open sessions for the memory measure")
	fs.IntVar(&o.voiceCalls, "voice-calls", 5000, "simulated calls through a Say, Gather, Redirect, Hangup app")
	fs.IntVar(&o.payFlows, "pay-flows", 500, "card payments taken by <Pay> from a TwiML app")
	fs.IntVar(&o.streams, "streams", 1000, "concurrent Twilio Media Streams, detector on")
	fs.IntVar(&o.typing, "stream-typing", 100, "of the streams, callers typing keys at once (five each, 300 ms apart)")
	fs.IntVar(&o.sipCalls, "sip-calls", 500, "concurrent SIP trunk calls bridged to an agent, 20 ms PCMU both ways")
	fs.IntVar(&o.sipTyping, "sip-typing", 50, "of the SIP calls, callers typing keys as RFC 4733 events in an agent-assisted payment (five each, 300 ms apart)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long the SIP calls relay audio (the CPU window) before their callers type")
	loads := fs.String("loads", "100,300,1000,3000", "concurrent calls at which each key-latency measure runs (the chart's points; --calls is the headline figure)")
	fs.StringVar(&o.svg, "svg", "", "write a chart of key latency against load to this SVG file")
	fs.StringVar(&o.only, "only", "", "run only one group of measures: payments (the Payments API measures), voice (the TwiML app measures), pay (the <Pay> measures), streams (Media Streams), sip (SIP calls bridged to an agent), postgres (creates with 1-3 processes on one PostgreSQL database, and its commit rate) or grow (creates and keys on a store of a million ended sessions, and on an empty one)")
	fs.StringVar(&o.postgres, "postgres", "", "a PostgreSQL server's postgres:// URL, for the postgres measures; its user creates a database for the run and drops it (TONEPAY_BENCH_POSTGRES); without it they are skipped")
	fs.DurationVar(&o.pgbenchTime, "pgbench-time", 5*time.Second, "how long each pgbench run measures the commit rate")
	fs.IntVar(&o.growRows, "grow-rows", 1_000_000, "ended sessions and calls in the grown store")
	fs.Usage = func() { usage(fs) }
	if err = cliflag.Parse(fs, args); err != nil {
		return o, err
	}
	if o.loads, err = parseLoads(*loads); err != nil {
		return o, cliflag.Mistake("bench", err)
	}
	if o.only != "" && !slices.Contains(groups, o.only) {
		return o, cliflag.Mistake("bench", fmt.Errorf("--only %q: the groups are %s", o.only, strings.Join(groups, ", ")))
	}
	if o.sipCalls < 1 || o.sipTyping < 0 || o.sipTyping > o.sipCalls {
		return o, cliflag.Mistake("bench", fmt.Errorf("--sip-calls %d, --sip-typing %d: want at least one call, and no more callers typing than calls", o.sipCalls, o.sipTyping))
	}
	if o.postgres == "" {
		o.postgres = os.Getenv("TONEPAY_BENCH_POSTGRES") // not a flag default: --help would print a password
	}
	if o.only == "postgres" && o.postgres == "" {
		return o, cliflag.Mistake("bench", errors.New("--only postgres needs a server: --postgres URL or TONEPAY_BENCH_POSTGRES"))
	}
	if o.growRows < 1 {
		return o, cliflag.Mistake("bench", fmt.Errorf("--grow-rows %d: want at least 1", o.growRows))
	}
	if o.duration < time.Second {
		return o, cliflag.Mistake("bench", fmt.Errorf("--duration %v: want at least 1s", o.duration))
	}
	return o, nil
}

// runs says whether group's measures run.
func (o options) runs(group string) bool { return o.only == "" || o.only == group }

// Main runs `tonepay bench` with args (the words after "bench"). exe is the
// tonepay binary it starts as `exe serve` (the running one, from main).
func Main(ctx context.Context, args []string, exe string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	say := func(format string, a ...any) {
		if !o.asJSON {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	b, err := newBench(ctx, exe)
	if err != nil {
		return err
	}
	defer b.close()
	res := benchResult{Errors: map[string]float64{}, Machine: machine()}
	// Each group runs on a server of its own, started empty: a group's
	// leftovers (thousands of live calls and open sessions, a grown store)
	// would otherwise weigh on the next one's figures. The store's growth
	// is measured on purpose, by the grow group.
	first, freshErr := true, error(nil)
	fresh := func(group string) bool {
		if !o.runs(group) || freshErr != nil {
			return false
		}
		if !first {
			freshErr = b.restartServer(exe)
		}
		first = false
		return freshErr == nil
	}
	if fresh("payments") {
		if err := b.payments(&res, say, o); err != nil {
			return err
		}
	}
	if fresh("voice") {
		if err := b.voice(&res, say, o); err != nil {
			return err
		}
	}
	if fresh("pay") {
		if err := b.pay(&res, say, o); err != nil {
			return err
		}
	}
	if fresh("streams") {
		if err := b.streams(&res, say, o.streams, o.typing); err != nil {
			return err
		}
	}
	if fresh("sip") {
		if err := b.sip(&res, say, o.sipCalls, o.sipTyping, o.duration); err != nil {
			return err
		}
	}
	if freshErr != nil {
		return freshErr
	}
	if o.runs("postgres") {
		if o.postgres == "" {
			res.PGSkipped = "no --postgres URL or TONEPAY_BENCH_POSTGRES"
		} else if err := b.postgres(&res, say, exe, o.postgres, o.requests, o.pgbenchTime); err != nil {
			return err
		}
	}
	if o.runs("grow") {
		if err := b.grow(&res, say, exe, o.growRows, o.requests, growKeyCalls); err != nil {
			return err
		}
	}
	if bad := b.badSignatures.Load(); bad > 0 {
		return fmt.Errorf("%d callbacks had a bad signature", bad)
	}
	res.DigitCallbackP99MS3K = res.p99At(measureDigit, 3000)
	if o.svg != "" {
		if err := writeChart(o.svg, res); err != nil {
			return err
		}
	}
	if o.asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	printBench(stdout, res)
	printTargets(stdout, res)
	return nil
}

// payments runs the Payments API measures (issue 7) into res.
func (b *bench) payments(res *benchResult, say func(string, ...any), o options) error {
	requests, flows, sessions := o.requests, o.flows, o.sessions
	say("baseline: bare net/http (Basic auth, form parse, fixed 201 JSON)…")
	for _, c := range []int{1, 16, 64} {
		lr, errs := load(c, requests, func(int) string { return b.baselineURL }, b.createForm, http.StatusCreated, b.sid, b.token)
		res.Errors[fmt.Sprintf("baseline_c%d", c)] = float64(errs)
		res.Baseline = append(res.Baseline, lr)
		res.BaselineRPS = max(res.BaselineRPS, lr.RPS)
	}
	say("creating %d calls for the creates…", 3*requests)
	callSids, err := b.makeCalls(3*requests, 64)
	if err != nil {
		return err
	}
	next := 0
	for _, c := range []int{1, 16, 64} {
		b.quiet()
		say("Payments create at concurrency %d…", c)
		mine := callSids[next : next+requests]
		next += requests
		urls := b.paymentsURL(mine)
		lr, errs := load(c, requests, func(i int) string { return urls[i] }, b.createForm, http.StatusCreated, b.sid, b.token)
		res.Errors[fmt.Sprintf("create_c%d", c)] = float64(errs)
		res.Create = append(res.Create, lr)
		res.CreateRPS = max(res.CreateRPS, lr.RPS)
	}
	res.Ratio = res.CreateRPS / res.BaselineRPS

	b.quiet()
	say("%d complete payments (create, four captures with their digits, complete; every callback delivered and checked)…", flows)
	b.profileBehind("flows", 2*time.Second)
	if res.FlowsPerS, err = b.flows(flows, 16); err != nil {
		return err
	}
	say("digit to partial-result callback…")
	head, err := b.sweep(res, say, measureDigit, o.loads, o.calls, func(n int) ([]time.Duration, error) {
		b.quiet()
		return b.digitLatency(n, 5, n == o.calls)
	})
	if err != nil {
		return err
	}
	res.DigitPresses = head.Keys
	res.DigitCallbackP50MS, res.DigitCallbackP99MS = head.P50MS, head.P99MS
	say("memory: %d open sessions on %d calls…", sessions, sessions)
	res.Sessions = sessions
	res.BytesPerSession, err = b.memory(sessions)
	return err
}

// voice runs the TwiML measures (issue 14) into res against an app on
// loopback that checks every request's signature.
func (b *bench) voice(res *benchResult, say func(string, ...any), o options) error {
	calls := o.voiceCalls
	a, err := b.startVoiceApp()
	if err != nil {
		return err
	}
	defer a.close()
	b.quiet()
	say("%d simulated calls through a Say, Gather, Redirect, Hangup app, concurrency 16…", calls)
	res.VoiceCalls = calls
	b.profileBehind("voice", 2*time.Second)
	if res.VoiceCallsPerS, err = b.voiceCalls(a, calls, 16); err != nil {
		return err
	}
	say("key to Gather action request, calls parked in a Gather…")
	parked := 0
	head, err := b.sweep(res, say, measureGather, o.loads, o.calls, func(n int) ([]time.Duration, error) {
		b.quiet()
		parked += n
		var heap *float64
		if n == o.calls {
			heap = &res.BytesPerCall
		}
		return b.gatherLatency(a, n, heap)
	})
	if err != nil {
		return err
	}
	res.GatherCalls = head.Keys
	res.GatherActionP50MS, res.GatherActionP99MS = head.P50MS, head.P99MS
	return a.check(calls + parked)
}

func printBench(w io.Writer, r benchResult) {
	if len(r.Latency) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "\nkey latency\tcalls\tkeys\tp50 ms\tp99 ms\tserver CPU\tbench CPU\n")
		for _, p := range r.Latency {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.0f%%\t%.0f%%\n", p.Measure, p.Calls, p.Keys, p.P50MS, p.P99MS, p.ServerCPU, p.BenchCPU)
		}
		tw.Flush()
	}
	if len(r.Create) > 0 { // not with --only voice
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "\nmeasure\tconcurrency\trequests/s\tp50 ms\tp99 ms\n")
		for i := range r.Create {
			b, c := r.Baseline[i], r.Create[i]
			fmt.Fprintf(tw, "baseline (bare net/http)\t%d\t%.0f\t%.2f\t%.2f\n", b.Concurrency, b.RPS, b.P50MS, b.P99MS)
			fmt.Fprintf(tw, "Payments create\t%d\t%.0f\t%.2f\t%.2f\n", c.Concurrency, c.RPS, c.P50MS, c.P99MS)
		}
		tw.Flush()
		fmt.Fprintf(w, "\ncreate / baseline: %.0f / %.0f = %.2f\n", r.CreateRPS, r.BaselineRPS, r.Ratio)
		fmt.Fprintf(w, "complete payments: %.1f per second\n", r.FlowsPerS)
		fmt.Fprintf(w, "digit -> partial callback: p50 %.2f ms, p99 %.2f ms (%d presses)\n", r.DigitCallbackP50MS, r.DigitCallbackP99MS, r.DigitPresses)
		fmt.Fprintf(w, "memory per open session: %.0f bytes of Go heap, after a GC (%d sessions)\n", r.BytesPerSession, r.Sessions)
	}
	if r.VoiceCalls > 0 {
		fmt.Fprintf(w, "voice calls (Say, Gather, key, Redirect, Hangup): %.1f per second (%d calls)\n", r.VoiceCallsPerS, r.VoiceCalls)
		fmt.Fprintf(w, "key -> Gather action request: p50 %.2f ms, p99 %.2f ms (%d parked calls)\n", r.GatherActionP50MS, r.GatherActionP99MS, r.GatherCalls)
		if r.BytesPerCall != 0 {
			fmt.Fprintf(w, "memory per call waiting in a Gather: %.0f bytes of Go heap, after a GC\n", r.BytesPerCall)
		}
	}
	if r.Streams > 0 {
		fmt.Fprintf(w, "Media Streams held at once, detector on: %d (%.0f frames/s read, %.2f%% written late)\n", r.Streams, r.StreamFramesPerS, 100*r.StreamLateRatio)
		fmt.Fprintf(w, "server CPU with every stream sending: %.0f%% of one core, %.2f ms per stream per second\n", r.StreamCPUPercent, r.StreamCPUPerStreamMS)
		fmt.Fprintf(w, "key as tones -> partial-result callback: p50 %.2f ms, p99 %.2f ms (%d keys, %d callers typing)\n", r.StreamKeyP50MS, r.StreamKeyP99MS, r.StreamKeys, r.StreamTyping)
	}
	if r.SIPCalls > 0 {
		fmt.Fprintf(w, "SIP calls bridged to an agent at once: %d (set up at %.0f/s), 20 ms PCMU both ways; arrivals stamped by %s\n", r.SIPCalls, r.SIPSetupPerS, map[bool]string{true: "the kernel", false: "the bench's readers"}[r.SIPKernelStamps])
		fmt.Fprintf(w, "relay caller -> agent: p50 %.2f ms, p99 %.2f ms, max %.2f ms; lost %d of %d\n", r.SIPToAgentP50MS, r.SIPToAgentP99MS, r.SIPToAgentMaxMS, r.SIPToAgentLost, r.SIPToAgentSent)
		fmt.Fprintf(w, "relay agent -> caller: p50 %.2f ms, p99 %.2f ms, max %.2f ms; lost %d of %d\n", r.SIPToCallerP50MS, r.SIPToCallerP99MS, r.SIPToCallerMaxMS, r.SIPToCallerLost, r.SIPToCallerSent)
		if r.SIPUnplaced > 0 || r.SIPWriteErrors > 0 {
			fmt.Fprintf(w, "  relays not matched to a packet: %d; the bench's failed sends: %d\n", r.SIPUnplaced, r.SIPWriteErrors)
		}
		if r.SIPUDPDrops != 0 {
			fmt.Fprintf(w, "  UDP datagrams dropped by full receive buffers on this machine meanwhile: %d\n", r.SIPUDPDrops)
		}
		fmt.Fprintf(w, "server CPU with every call relaying: %.0f%% of one core, %.2f ms per call per second (the bench's own: %.0f%%)\n", r.SIPCPUPercent, r.SIPCPUPerCallMS, r.SIPBenchCPUPercent)
		if r.SIPTyping > 0 {
			fmt.Fprintf(w, "key as RFC 4733 events -> partial-result callback: p50 %.2f ms, p99 %.2f ms (%d keys, %d callers typing; %d keys missed)\n", r.SIPKeyP50MS, r.SIPKeyP99MS, r.SIPKeys, r.SIPTyping, r.SIPKeysMissed)
			fmt.Fprintf(w, "DTMF at the agent during the sessions: %d RFC 4733 packets, %d keys detected in its audio (must be 0)\n", r.SIPAgentEvents, r.SIPAgentTones)
		}
	}
	if r.PayFlows > 0 {
		fmt.Fprintf(w, "<Pay> card payments (create, four fields, charge, action): %.1f per second (%d payments)\n", r.PayFlowsPerS, r.PayFlows)
		fmt.Fprintf(w, "card number keys -> next <Pay> statusCallback: p50 %.2f ms, p99 %.2f ms (%d parked calls)\n", r.PayStatusP50MS, r.PayStatusP99MS, r.PayStatusCalls)
	}
	printPostgres(w, r)
	printGrow(w, r)
}

func machine() map[string]string {
	m := map[string]string{}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	m["cores"] = strconv.Itoa(runtime.NumCPU())
	return m
}

// bench is a tonepay serve child process, a callback receiver and a baseline
// server, all on loopback.
type bench struct {
	ctx         context.Context
	dir         string
	cmd         *exec.Cmd
	base        string // tonepay's URL
	baselineURL string
	sid, token  string
	// twilioSid and twilioToken are the "Twilio" account the streams measure
	// plays, linked to sid by the child's config file.
	twilioSid, twilioToken string
	pprof                  string // the server's pprof listener, for the heap
	servers                int    // serve children started so far, each on a file of its own
	sipAddr                string // the server's SIP listener (UDP)
	agent                  *benchAgent
	receiver               *http.Server
	callbackURL            string
	api                    *client.Client // tonepay's API as the account; load() measures with plain HTTP
	badSignatures          atomic.Int64
	cpu                    [2]float64   // the server's and the bench's CPU in the latest key phase (pressing)
	lastCallback           atomic.Int64 // UnixNano of the latest callback's arrival

	mu      sync.Mutex
	results map[string]chan struct{}  // session -> closed at its Result callback
	partial map[string]chan time.Time // session+":"+length -> arrival of that partial callback
	seen    map[string]int            // session -> the card number's length in its latest partial callback
}

func newBench(ctx context.Context, exe string) (*bench, error) {
	b := &bench{ctx: ctx, sid: tonepay.NewSID(tonepay.PrefixAccount), token: tonepay.RandomHex(16),
		twilioSid: tonepay.NewSID(tonepay.PrefixAccount), twilioToken: tonepay.RandomHex(16),
		results: map[string]chan struct{}{}, partial: map[string]chan time.Time{}, seen: map[string]int{}}
	var err error
	if b.dir, err = os.MkdirTemp("", "tonepay-bench"); err != nil {
		return nil, err
	}
	if err := b.startReceiver(); err != nil {
		return nil, err
	}
	if err := b.startBaseline(); err != nil {
		return nil, err
	}
	if err := b.startAgent(); err != nil {
		return b, err
	}
	if err := b.startServer(exe); err != nil {
		return b, err
	}
	if b.api, err = client.New(b.base, b.sid, b.token); err != nil {
		return b, err
	}
	b.api.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	return b, nil
}

// restartServer replaces the serve child with a new one on a new, empty
// SQLite file. The old one is killed: its store is thrown away.
func (b *bench) restartServer(exe string) error {
	b.cmd.Process.Kill()
	b.cmd.Wait()
	old, _ := filepath.Glob(filepath.Join(b.dir, fmt.Sprintf("bench%d.db*", b.servers)))
	for _, f := range old {
		os.Remove(f)
	}
	if err := b.startServer(exe); err != nil {
		return err
	}
	api, err := client.New(b.base, b.sid, b.token)
	if err != nil {
		return err
	}
	api.HTTPClient = b.api.HTTPClient
	api.HTTPClient.CloseIdleConnections()
	b.api = api
	return nil
}

func (b *bench) close() {
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Signal(os.Interrupt)
		b.cmd.Wait()
	}
	if b.receiver != nil {
		b.receiver.Close()
	}
	if b.agent != nil {
		b.agent.close()
	}
	os.RemoveAll(b.dir)
}

var (
	listeningRE = regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	sipRE       = regexp.MustCompile(`SIP: listening" addr=([0-9.:]+)`)
)

// freeAddr is a loopback address with a port free at the moment, for a
// child's listener that cannot say where it listens (pprof).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServer runs exe as `tonepay serve` on a temporary SQLite file: the
// real server, with fsync on every commit.
func (b *bench) startServer(exe string) error {
	// pprof on a port of its own: the memory measure reads the heap after a GC.
	pprof, err := freeAddr()
	if err != nil {
		return err
	}
	b.pprof = "http://" + pprof
	config := filepath.Join(b.dir, "tonepay.toml")
	if err := os.WriteFile(config, []byte(b.streamsConfig()+b.sipConfig()), 0o600); err != nil {
		return err
	}
	// info: it says where it listens, HTTP and SIP
	b.servers++
	b.cmd = exec.Command(exe, "serve", "--addr", "127.0.0.1:0", "--config", config, "--sip-addr", "127.0.0.1:0")
	b.cmd.Env = append(os.Environ(), "TONEPAY_DB="+filepath.Join(b.dir, fmt.Sprintf("bench%d.db", b.servers)), "TONEPAY_ACCOUNT_SID="+b.sid, "TONEPAY_AUTH_TOKEN="+b.token,
		"TONEPAY_PPROF_ADDR="+pprof, twilioTokenEnv+"="+b.twilioToken)
	stderr, _ := b.cmd.StderrPipe()
	if err := b.cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := sipRE.FindStringSubmatch(sc.Text()); m != nil {
			b.sipAddr = m[1] // before the HTTP line: SIP listens while the server is built
		}
		if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
			b.base = m[1]
			go io.Copy(benchLog(), stderr)
			return nil
		}
	}
	return errors.New("tonepay serve did not start")
}

// startBaseline serves the least a Payments create must do: check Basic auth,
// parse the form, and answer 201 with a fixed body of the same size.
func (b *bench) startBaseline() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	body := []byte(`{"account_sid":"` + b.sid + `","call_sid":"CA00000000000000000000000000000000","sid":"PK00000000000000000000000000000000",` +
		`"date_created":"Mon, 23 Nov 2026 01:02:03 +0000","date_updated":"Mon, 23 Nov 2026 01:02:03 +0000",` +
		`"uri":"/2010-04-01/Accounts/` + b.sid + `/Calls/CA00000000000000000000000000000000/Payments/PK00000000000000000000000000000000.json"}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != b.sid || subtle.ConstantTimeCompare([]byte(p), []byte(b.token)) != 1 {
			w.WriteHeader(401)
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("IdempotencyKey") == "" {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(201)
		w.Write(body)
	})}
	go srv.Serve(ln)
	b.baselineURL = "http://" + ln.Addr().String() + "/2010-04-01/Accounts/" + b.sid + "/Calls/CA00000000000000000000000000000000/Payments.json"
	return nil
}

// quiet waits until no callback has arrived for a while (at most 30 s), so
// that each measure starts without the previous one's callbacks in flight.
func (b *bench) quiet() {
	const still = 300 * time.Millisecond
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if time.Since(time.Unix(0, b.lastCallback.Load())) > still {
			return
		}
	}
}

// startReceiver takes status callbacks, checks each signature, and notes the
// arrival of partial results and results.
func (b *bench) startReceiver() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.callbackURL = "http://" + ln.Addr().String() + "/cb"
	b.receiver = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		b.lastCallback.Store(now.UnixNano())
		r.ParseForm()
		if !webhook.Verify(tonepay.NewSecret(b.token), "http://"+r.Host+r.URL.RequestURI(), r.PostForm, r.Header.Get("X-Twilio-Signature")) {
			b.badSignatures.Add(1)
		}
		f := r.PostForm
		pk := f.Get("Sid")
		b.mu.Lock()
		if f.Has("Result") {
			if ch := b.results[pk]; ch != nil {
				close(ch)
				delete(b.results, pk)
			}
		} else if f.Get("PartialResult") == "true" {
			b.seen[pk] = len(f.Get("PaymentCardNumber"))
			if ch := b.partial[pk+":"+strconv.Itoa(len(f.Get("PaymentCardNumber")))]; ch != nil {
				select {
				case ch <- now: // the first delivery counts; a redelivery does not block
				default:
				}
			}
		}
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	go b.receiver.Serve(ln)
	return nil
}

func (b *bench) createForm() url.Values {
	return url.Values{"IdempotencyKey": {tonepay.RandomHex(8)}, "StatusCallback": {b.callbackURL}, "ChargeAmount": {"10.00"}}
}

func (b *bench) paymentsURL(calls []string) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = b.base + "/2010-04-01/Accounts/" + b.sid + "/Calls/" + c + "/Payments.json"
	}
	return out
}

func (b *bench) newCall() (string, error) {
	c, err := b.api.CreateCall(b.ctx, client.CallParams{To: "+15005550006", From: "+15005550001", URL: "https://example.com/t"})
	return c.Sid, err
}

func (b *bench) makeCalls(n, conc int) ([]string, error) {
	out := make([]string, n)
	return out, parallel(n, conc, func(i int) (err error) {
		out[i], err = b.newCall()
		return err
	})
}

// payment starts a charging session on call and returns its SID.
func (b *bench) payment(call string) (string, error) {
	p, err := b.api.CreatePayment(b.ctx, call, client.PaymentParams{IdempotencyKey: tonepay.RandomHex(8), StatusCallback: b.callbackURL, ChargeAmount: "10.00"})
	return p.Sid, err
}

// update asks for a field or ends the session (u's Capture or Status).
func (b *bench) update(call, pk string, u client.PaymentUpdate) error {
	u.IdempotencyKey, u.StatusCallback = tonepay.RandomHex(8), b.callbackURL
	_, err := b.api.UpdatePayment(b.ctx, call, pk, u)
	return err
}

func (b *bench) press(call, keys string) error {
	_, err := b.api.Press(b.ctx, call, keys)
	return err
}

// flows runs n complete payments, conc at a time, and returns payments per
// second from the first request to the last result callback.
func (b *bench) flows(n, conc int) (float64, error) {
	start := time.Now()
	var done sync.WaitGroup
	err := parallel(n, conc, func(int) error {
		call, err := b.newCall()
		if err != nil {
			return err
		}
		pk, err := b.payment(call)
		if err != nil {
			return err
		}
		result := make(chan struct{})
		b.mu.Lock()
		b.results[pk] = result
		b.mu.Unlock()
		// 4242424242424242: the sandbox's documented test card.
		for _, f := range [][2]string{{"payment-card-number", "4242424242424242#"}, {"expiration-date", "1230"}, {"security-code", "123"}, {"postal-code", "94109#"}} {
			if err := b.update(call, pk, client.PaymentUpdate{Capture: f[0]}); err != nil {
				return err
			}
			if err := b.press(call, f[1]); err != nil {
				return err
			}
		}
		if err := b.update(call, pk, client.PaymentUpdate{Status: "complete"}); err != nil {
			return err
		}
		done.Add(1)
		go func() {
			defer done.Done()
			select {
			case <-result:
			case <-time.After(60 * time.Second):
			}
		}()
		return nil
	})
	done.Wait()
	return float64(n) / time.Since(start).Seconds(), err
}

// digitLatency puts calls sessions in capture, then has every caller press
// presses digits, one about every 300 ms, and measures from sending a digit
// to receiving its partial-result callback.
func (b *bench) digitLatency(calls, presses int, profile bool) ([]time.Duration, error) {
	type line struct{ call, pk string }
	lines := make([]line, calls)
	err := parallel(calls, 64, func(i int) error {
		call, err := b.newCall()
		if err != nil {
			return err
		}
		pk, err := b.payment(call)
		if err != nil {
			return err
		}
		lines[i] = line{call, pk}
		return b.update(call, pk, client.PaymentUpdate{Capture: "payment-card-number"})
	})
	if err != nil {
		return nil, err
	}
	b.quiet() // the setup's callbacks are delivered
	if profile {
		b.profileBehind("digits", 2*time.Second)
	}
	var mu sync.Mutex
	var lat []time.Duration
	err = b.pressing(calls, func(i int) error {
		l := lines[i]
		time.Sleep(time.Duration(i%300) * time.Millisecond) // callers do not press in step
		for n := 1; n <= presses; n++ {
			ch := make(chan time.Time, 1)
			k := l.pk + ":" + strconv.Itoa(n)
			b.mu.Lock()
			b.partial[k] = ch
			b.mu.Unlock()
			sent := time.Now()
			if err := b.press(l.call, "4"); err != nil {
				return err
			}
			select {
			case at := <-ch:
				mu.Lock()
				lat = append(lat, at.Sub(sent))
				mu.Unlock()
			case <-time.After(30 * time.Second):
				return errors.New("a partial callback never came")
			}
			b.mu.Lock()
			delete(b.partial, k)
			b.mu.Unlock()
			time.Sleep(300 * time.Millisecond)
		}
		return nil
	})
	return lat, err
}

// memory opens n sessions on n calls and returns the server's Go heap
// growth per session, each side read after a GC. Not its RSS: SQLite's page
// caches come and go with the load (they are given back when the store is
// idle), which made an RSS difference measure the caches, not the sessions.
func (b *bench) memory(n int) (float64, error) {
	before, err := b.heapInuse()
	if err != nil {
		return 0, err
	}
	err = parallel(n, 64, func(int) error {
		call, err := b.newCall()
		if err != nil {
			return err
		}
		_, err = b.payment(call)
		return err
	})
	if err != nil {
		return 0, err
	}
	time.Sleep(2 * time.Second) // callbacks delivered
	after, err := b.heapInuse()
	return float64(after-before) / float64(n), err
}

// heapInuse is the server's HeapInuse right after a GC, from pprof's heap
// profile (its "# HeapInuse = N" line).
func (b *bench) heapInuse() (int64, error) {
	res, err := http.Get(b.pprof + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapInuse = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("no HeapInuse in the heap profile")
}

// parallel runs fn(0..n-1), conc at a time, and returns the first error.
func parallel(n, conc int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	wg.Wait()
	return first
}

// load posts n forms, conc at a time, to urlFor(i) with Basic auth, and
// measures throughput and latency. Answers other than want count as errors.
func load(conc, n int, urlFor func(i int) string, form func() url.Values, want int, user, pass string) (levelResult, int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	defer client.CloseIdleConnections()
	lat := make([]time.Duration, n)
	var errs atomic.Int64
	start := time.Now()
	parallel(n, conc, func(i int) error {
		req, _ := http.NewRequest("POST", urlFor(i), strings.NewReader(form().Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		t0 := time.Now()
		res, err := client.Do(req)
		lat[i] = time.Since(t0)
		if err != nil {
			errs.Add(1)
			return nil
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			errs.Add(1)
		}
		return nil
	})
	elapsed := time.Since(start)
	return levelResult{Concurrency: conc, Requests: n, RPS: float64(n) / elapsed.Seconds(), P50MS: Percentile(lat, 50), P99MS: Percentile(lat, 99)}, int(errs.Load())
}

// Percentile returns the pth percentile of ds in milliseconds.
func Percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i]) / float64(time.Millisecond)
}

// benchLog is where the server's log goes after start-up: the file
// TONEPAY_BENCH_LOG names, else nowhere.
func benchLog() io.Writer {
	if p := os.Getenv("TONEPAY_BENCH_LOG"); p != "" {
		if f, err := os.Create(p); err == nil {
			return f
		}
	}
	return io.Discard
}
