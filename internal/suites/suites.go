// Package suites lets a test that needs an outside program (PostgreSQL,
// Chromium, stripe-mock, espeak-ng, SIPp, node's MCP SDK, Twilio's SDKs) skip on a developer's machine and
// say so, while CI runs everything: under CI=true a missing program fails
// the test.
//
// Each check lives here once, used both by the suites (PostgresURL, Browser,
// FindStripeMock, SIPp) and by Missing, which internal/suites/notrun runs on
// every `go test ./...` to tell the person who ran it which suites did not run
// and how to run them (Say). go test hides what a passing package prints
// and replays nothing from its cache, so the packages that skip cannot say
// it themselves. For tests only.
package suites

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The suites that need a program `go test` does not install.
const (
	PostgresSuite = "PostgreSQL suites (store conformance, cluster, both-store wire and fault tests)"
	ConsoleSuite  = "console browser test"
	StripeSuite   = "Stripe connector tests against stripe-mock"
	SpeechSuite   = "speech tests (tts, talk-off on espeak-ng speech)"
	SIPSuite      = "SIP interop tests against SIPp"
	MCPSuite      = "MCP interop test with the official TypeScript SDK's client"
	SDKSuite      = "Twilio SDK interop tests (the official Node.js and Python helper libraries)"
)

// StripeMockVersion is the stripe-mock the Stripe tests are written
// against, the one .ci/run installs.
const StripeMockVersion = "v0.203.0"

// Note is a suite that cannot run here, and what to do to run it (one line).
type Note struct{ Suite, How string }

// Need stops t because suite's program is missing: a failure under CI, a
// skip elsewhere. how says what to do, in one line.
func Need(t testing.TB, suite, how string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s cannot run under CI: %s", suite, how)
	}
	t.Skipf("%s not run: %s", suite, how)
}

// PostgresURL returns TONEPAY_TEST_POSTGRES_URL, or "" and how to set it.
func PostgresURL() (url, how string) {
	if u := os.Getenv("TONEPAY_TEST_POSTGRES_URL"); u != "" {
		return u, ""
	}
	return "", "start a PostgreSQL server and set TONEPAY_TEST_POSTGRES_URL=postgres://USER@127.0.0.1:5432/postgres?sslmode=disable (README, Testing)"
}

// Browser finds what the console's browser test needs: node on PATH,
// Chromium ($CHROMIUM, else /usr/bin/chromium) and playwright-core under
// e2e, the console/e2e directory. It returns Chromium's path, or "" and
// what is missing.
func Browser(e2e string) (chromium, how string) {
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node"
	} else if _, err := os.Stat(chromium); err != nil {
		missing = chromium + " (apt-get install chromium, or set CHROMIUM)"
	} else if _, err := os.Stat(filepath.Join(e2e, "node_modules", "playwright-core")); err != nil {
		missing = "playwright-core (npm ci in console/e2e)"
	}
	if missing != "" {
		return "", "needs " + missing + " (README, Testing)"
	}
	return chromium, ""
}

// MCPClient checks what the MCP interop test needs: node, and the
// official TypeScript SDK in dir's node_modules (mcp/e2e). It returns how
// to get what is missing, or "".
func MCPClient(dir string) (how string) {
	if _, err := exec.LookPath("node"); err != nil {
		return "needs node (README, Testing)"
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		return "needs @modelcontextprotocol/sdk (npm ci in mcp/e2e) (README, Testing)"
	}
	return ""
}

// TwilioSDKs finds what the SDK interop tests need: node with twilio in
// dir's node_modules (twilioapi/e2e), and a python3 that imports twilio
// ($TWILIO_PYTHON, else Debian's /usr/bin/python3 with python3-twilio). It
// returns that python, or "" and what is missing.
func TwilioSDKs(dir string) (python, how string) {
	python = os.Getenv("TWILIO_PYTHON")
	if python == "" {
		python = "/usr/bin/python3"
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "twilio")); err != nil {
		missing = "twilio for node (npm ci in twilioapi/e2e)"
	} else if err := exec.Command(python, "-c", "import twilio").Run(); err != nil {
		missing = python + " importing twilio (apt-get install python3-twilio, or set TWILIO_PYTHON)"
	}
	if missing != "" {
		return "", "needs " + missing + " (README, Testing)"
	}
	return python, ""
}

// FindStripeMock finds the stripe-mock binary: on PATH, else where go install
// puts it ($GOPATH/bin, ~/go/bin). It returns its path, or "" and how to
// install it.
func FindStripeMock() (bin, how string) {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, ""
	}
	var dirs []string
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(gp)[0], "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "stripe-mock")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, ""
		}
	}
	return "", "go install github.com/stripe/stripe-mock@" + StripeMockVersion + " and put it on PATH (README, Testing)"
}

// FindEspeak finds espeak-ng on PATH. It returns its path, or "" and how to
// install it.
func FindEspeak() (bin, how string) {
	if p, err := exec.LookPath("espeak-ng"); err == nil {
		return p, ""
	}
	return "", "apt-get install espeak-ng (README, Testing)"
}

// SIPp finds what the SIP interop tests need: sipp on PATH, the RTP
// captures SIPp ships (dtmf_2833_*.pcap, g711a.pcap) in $SIPP_PCAPS, else
// where Debian's sip-tester puts them, and a raw socket (SIPp replays
// captures through one: root or CAP_NET_RAW). It returns that directory,
// or "" and what is missing.
func SIPp() (pcaps, how string) {
	pcaps = os.Getenv("SIPP_PCAPS")
	if pcaps == "" {
		pcaps = "/usr/share/sip-tester"
	}
	missing := ""
	if _, err := exec.LookPath("sipp"); err != nil {
		missing = "sipp (apt-get install sip-tester)"
	} else if _, err := os.Stat(filepath.Join(pcaps, "dtmf_2833_pound.pcap")); err != nil {
		missing = "SIPp's pcaps in " + pcaps + " (apt-get install sip-tester, or set SIPP_PCAPS)"
	} else if !rawSocket() {
		missing = "a raw socket, which SIPp replays its pcaps through (run as root, or with CAP_NET_RAW)"
	}
	if missing != "" {
		return "", "needs " + missing + " (README, Testing)"
	}
	return pcaps, ""
}

// rawSocket reports whether this process may open a raw IP socket, as SIPp
// (run by it) must. A variable, so that TestMissing runs unprivileged too.
var rawSocket = func() bool {
	c, err := net.ListenPacket("ip4:udp", "127.0.0.1")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Missing lists the suites that cannot run here, with the checks the
// suites make; root is the repository's.
func Missing(root string) []Note {
	var out []Note
	if _, how := PostgresURL(); how != "" {
		out = append(out, Note{PostgresSuite, how})
	}
	if _, how := Browser(filepath.Join(root, "console", "e2e")); how != "" {
		out = append(out, Note{ConsoleSuite, how})
	}
	if _, how := FindStripeMock(); how != "" {
		out = append(out, Note{StripeSuite, how})
	}
	if _, how := FindEspeak(); how != "" {
		out = append(out, Note{SpeechSuite, how})
	}
	if _, how := SIPp(); how != "" {
		out = append(out, Note{SIPSuite, how})
	}
	if how := MCPClient(filepath.Join(root, "mcp", "e2e")); how != "" {
		out = append(out, Note{MCPSuite, how})
	}
	if _, how := TwilioSDKs(filepath.Join(root, "twilioapi", "e2e")); how != "" {
		out = append(out, Note{SDKSuite, how})
	}
	return out
}

// Lines is notes as Say writes them: "not run: SUITE: HOW", one a line.
func Lines(notes []Note) string {
	var b strings.Builder
	for _, n := range notes {
		fmt.Fprintf(&b, "not run: %s: %s\n", n.Suite, n.How)
	}
	return b.String()
}

// Say writes notes (Lines) in one write where the person who ran go test
// sees them, and reports whether it could. Under CI it says nothing: there
// a missing program fails its suite instead.
func Say(notes []Note) bool {
	if len(notes) == 0 || os.Getenv("CI") != "" {
		return true
	}
	w, err := openGoStderr()
	if err != nil {
		return false
	}
	defer w.Close()
	_, err = io.WriteString(w, Lines(notes))
	return err == nil
}

// openGoStderr opens the go command's standard error. A test binary's
// parent is the go command, which shows a passing package's output only
// with -v, but its own standard error (a terminal, or the pipe of
// `go test ./... 2>&1 | less`) is what the person reads. On Linux
// /proc/PPID/fd/2 opens it; elsewhere, or when it is a regular file (a log
// opened with ">" would have our line overwritten by the go command's next
// write at its own offset), the terminal is the next best place.
func openGoStderr() (io.WriteCloser, error) {
	if runtime.GOOS == "linux" {
		f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/2", os.Getppid()), os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
				return f, nil
			}
			f.Close()
		}
	}
	return os.OpenFile("/dev/tty", os.O_WRONLY, 0)
}
