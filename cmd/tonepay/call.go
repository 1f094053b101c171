package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/cmd/tonepay/internal/cliflag"
)

// unreachable says what a request that reached no server means to the
// person at the command line: most often that no server runs where the
// command looked, which the bare "connection refused" does not say. Other
// errors (the server's, with Twilio's code) pass unchanged. fix is how the
// command is pointed elsewhere (callFix, testFix).
func unreachable(server string, err error, fix string) error {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("no tonepay server at %s (is `tonepay serve` running? %s)", tonepay.RedactURL(server), fix)
	case errors.As(err, &dns):
		return fmt.Errorf("no tonepay server at %s: host %s not found (%s)", tonepay.RedactURL(server), dns.Name, fix)
	}
	return err
}

// How `tonepay call` and `tonepay test` find their server, for unreachable:
// test reads no TONEPAY_SERVER, and needs no server at all.
const (
	callFix = "set --server or TONEPAY_SERVER"
	testFix = "check --server, or leave it out: tonepay test then runs a server of its own"
)

const callUsage = `Usage:
  tonepay call create [--to N] [--from N] [--url URL]
                                              create a simulated call; prints its SID.
                                              With --url it runs that app's TwiML; without,
                                              it holds for an hour (for agent payments)
  tonepay call press CALLSID KEYS             the caller presses KEYS (0-9 * #, w waits 0.5 s)
  tonepay call say CALLSID WORDS [--confidence C]
                                              the caller says WORDS, for a <Gather input="speech">
                                              (SpeechResult; Confidence C, default 0.9)
  tonepay call hangup CALLSID                 end the call
  tonepay call inbound --to N [--from N]      a caller dials N, one of the account's
                                              IncomingPhoneNumbers: its VoiceUrl runs;
                                              prints the call's SID
  tonepay call timeline CALLSID               what happened on the call, one line each:
                                              seq, time, kind and what it says

create and inbound answer once the app's first document ran: when the app
failed (no answer, an HTTP error, a document tonepay cannot run) they
print the call's SID, then the error and its Twilio code, and exit 1.

Keys go to whoever listens: a payment capturing a field (an agent's
Capture=..., or a <Pay>), else the call's <Gather>; otherwise they are
dropped. press answers once the TwiML the keys caused has run; say too,
once a listening <Gather> took the words (or nobody listened: dropped).

The server and credentials come from --server (TONEPAY_SERVER, default
http://127.0.0.1:8080), TONEPAY_ACCOUNT_SID and TONEPAY_AUTH_TOKEN.
`

// callVerbs are the commands of `tonepay call`.
var callVerbs = []string{"create", "press", "say", "hangup", "inbound", "timeline"}

// callCmd is `tonepay call …`: a person plays the caller against a running server.
func callCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, callUsage) }
	server := client.Server(getenv)
	fs.StringVar(&server, "server", server, "tonepay's base URL")
	to := fs.String("to", "+15005550006", "the number called")
	from := fs.String("from", "+15005550001", "the caller ID")
	twimlURL := fs.String("url", "", "create: the app's TwiML URL (default: a call that holds for an hour)")
	dial := fs.String("dial", "", "create, inbound: the far end of the call's <Dial>s: answer (default), busy, no-answer, failed or answer:N")
	confidence := fs.Float64("confidence", 0, "say: the recogniser's Confidence, above 0 and at most 1 (default 0.9)")
	if len(args) == 0 || args[0] == "help" || strings.HasPrefix(args[0], "-") {
		if err := cliflag.Parse(fs, args); err != nil {
			return err // -h, --help, or a flag before the verb
		}
		fs.Usage()
		return flag.ErrHelp
	}
	verb := args[0]
	if !slices.Contains(callVerbs, verb) {
		fs.Usage() // the call command's own list, not tonepay's
		return fmt.Errorf("call: unknown command %q", verb)
	}
	if err := cliflag.Parse(fs, args[1:]); err != nil {
		return err
	}
	c, err := client.New(server, getenv("TONEPAY_ACCOUNT_SID"), getenv("TONEPAY_AUTH_TOKEN"))
	if err != nil {
		if errors.Is(err, client.ErrNoCredentials) {
			return err
		}
		return fmt.Errorf("--server (or TONEPAY_SERVER) %w", err)
	}
	hint := func(err error) error { return unreachable(c.BaseURL(), err, callFix) }
	rest := fs.Args()
	switch {
	case verb == "create" && len(rest) == 0:
		p := client.CallParams{To: *to, From: *from, URL: *twimlURL, Dial: *dial}
		if *twimlURL == "" {
			p.Twiml = `<Response><Pause length="3600"/></Response>`
		}
		call, err := c.CreateCall(ctx, p)
		if err != nil {
			return hint(err)
		}
		fmt.Fprintln(stdout, call.Sid)
		return appErrors(ctx, c, call.Sid)
	case verb == "press" && len(rest) == 2:
		p, err := c.Press(ctx, rest[0], rest[1])
		if err != nil {
			return hint(err)
		}
		fmt.Fprintf(stdout, "%d keys applied, %d dropped\n", p.Applied, p.Dropped)
		return nil
	case verb == "say" && len(rest) >= 2:
		// The words may come as one quoted argument or as several.
		sp, err := c.Speak(ctx, rest[0], strings.Join(rest[1:], " "), *confidence)
		if err != nil {
			return hint(err)
		}
		if sp.Heard {
			fmt.Fprintln(stdout, "heard by the <Gather>")
		} else {
			fmt.Fprintln(stdout, "dropped: no <Gather> listens for speech")
		}
		return nil
	case verb == "hangup" && len(rest) == 1:
		_, err := c.Hangup(ctx, rest[0])
		return hint(err)
	case verb == "inbound" && len(rest) == 0:
		if !given(fs, "to") {
			return cliflag.Mistake("call", errors.New("call inbound needs --to, one of the account's IncomingPhoneNumbers"))
		}
		call, err := c.Inbound(ctx, client.InboundParams{To: *to, From: *from, Dial: *dial})
		if err != nil {
			return hint(err)
		}
		fmt.Fprintln(stdout, call.Sid)
		return appErrors(ctx, c, call.Sid)
	case verb == "timeline" && len(rest) == 1:
		return hint(printTimeline(ctx, c, rest[0], stdout))
	}
	return cliflag.Mistake("call", fmt.Errorf("bad arguments to call %s: %q", verb, rest))
}

// appErrors reads a new call's timeline for its app's errors: Calls create
// and Calls/Inbound answer once the call waits for its caller or has
// ended, so whatever its first document (and a fallback, redirects) did is
// there. Each error is one line with Twilio's code; any makes an exitError
// with status 1: the call was made, its app failed.
func appErrors(ctx context.Context, c *client.Client, callSid string) error {
	var lines []string
	err := c.EachEntry(ctx, callSid, func(e client.Entry) {
		if e.Kind != "error" {
			return
		}
		line := "  error"
		if e.Code != 0 {
			line += fmt.Sprintf(" %d", e.Code)
		}
		if e.Text != "" {
			line += ": " + e.Text
		}
		if e.URL != "" {
			line += " (" + tonepay.RedactURL(e.URL) + ")"
		}
		lines = append(lines, line)
	})
	if err != nil {
		return fmt.Errorf("call %s was made, but its timeline could not be read: %w", callSid, unreachable(c.BaseURL(), err, callFix))
	}
	if len(lines) == 0 {
		return nil
	}
	return &exitError{code: 1, err: fmt.Errorf("call %s: its app failed:\n%s\n\"tonepay call timeline %s\" shows the whole call",
		callSid, strings.Join(lines, "\n"), callSid)}
}

// given reports whether the flag was set on the command line.
func given(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// printTimeline prints the call's whole timeline, one line an entry.
func printTimeline(ctx context.Context, c *client.Client, callSid string, stdout io.Writer) error {
	return c.EachEntry(ctx, callSid, func(e client.Entry) {
		var fields map[string]any // every field, those added later too
		json.Unmarshal(e.Raw, &fields)
		fmt.Fprintln(stdout, timelineLine(fields))
	})
}

// timelineLine is one entry as a person reads it: seq, time of day (UTC),
// kind, then what the entry says, the fields known to the runtime first
// and any others after them as name=value, so that a field added later is
// shown rather than lost.
func timelineLine(e map[string]any) string {
	str := func(k string) string {
		v, ok := e[k]
		delete(e, k)
		if !ok || v == nil {
			return ""
		}
		if s, ok := v.(string); ok {
			return s
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	seq, at := str("seq"), str("at")
	if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
		at = t.UTC().Format("15:04:05.000")
	}
	parts := []string{fmt.Sprintf("%4s", seq), at, fmt.Sprintf("%-8s", str("kind"))}
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	add(str("verb"))
	if text := str("text"); text != "" {
		add(strconv.Quote(text))
	}
	method, u := str("method"), str("url")
	add(strings.TrimSpace(method + " " + u))
	if s := str("status"); s != "" {
		add("HTTP " + s)
	}
	if s := str("code"); s != "" {
		add("code " + s)
	}
	for _, k := range []string{"voice", "language", "loop"} {
		if s := str(k); s != "" {
			add(k + "=" + s)
		}
	}
	if str("masked") == "true" {
		add("(masked)")
	}
	rest := make([]string, 0, len(e))
	for k := range e {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		add(k + "=" + str(k))
	}
	return strings.Join(parts, "  ")
}
