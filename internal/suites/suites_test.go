package suites

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// stopped records how Need stopped a test, without stopping this one.
type stopped struct {
	testing.TB
	failed, skipped string
}

func (s *stopped) Helper()                       {}
func (s *stopped) Fatalf(f string, a ...any)     { s.failed = f }
func (s *stopped) Skipf(format string, a ...any) { s.skipped = format }

func TestNeed(t *testing.T) {
	t.Setenv("CI", "")
	s := &stopped{TB: t}
	Need(s, PostgresSuite, "set TONEPAY_TEST_POSTGRES_URL")
	if s.skipped == "" || s.failed != "" {
		t.Fatalf("outside CI: skipped %q failed %q", s.skipped, s.failed)
	}
	t.Setenv("CI", "true")
	s = &stopped{TB: t}
	Need(s, ConsoleSuite, "apt-get install chromium")
	if s.failed == "" || !strings.Contains(s.failed, "CI") {
		t.Errorf("under CI: failed %q skipped %q; want a failure", s.failed, s.skipped)
	}
}

// TestMissing: with nothing installed every suite is missing, each with
// how to run it; with each program where the suites look, none is.
func TestMissing(t *testing.T) {
	empty, home := t.TempDir(), t.TempDir()
	t.Setenv("PATH", empty)
	t.Setenv("HOME", home)
	t.Setenv("GOPATH", filepath.Join(home, "gopath"))
	t.Setenv("CHROMIUM", filepath.Join(empty, "chromium"))
	t.Setenv("TONEPAY_TEST_POSTGRES_URL", "")
	t.Setenv("SIPP_PCAPS", filepath.Join(home, "pcaps"))
	t.Setenv("TWILIO_PYTHON", filepath.Join(empty, "python3"))
	root := t.TempDir()
	e2e, mcpE2E, sdkE2E := filepath.Join(root, "console", "e2e"), filepath.Join(root, "mcp", "e2e"), filepath.Join(root, "twilioapi", "e2e")

	got := Missing(root)
	want := []Note{
		{PostgresSuite, "TONEPAY_TEST_POSTGRES_URL"},
		{ConsoleSuite, "needs node"},
		{StripeSuite, "stripe-mock@" + StripeMockVersion},
		{SpeechSuite, "espeak-ng"},
		{SIPSuite, "needs sipp"},
		{MCPSuite, "needs node"},
		{SDKSuite, "needs node"},
	}
	if len(got) != len(want) {
		t.Fatalf("Missing = %q, want the seven suites", got)
	}
	for i := range want {
		if got[i].Suite != want[i].Suite || !strings.Contains(got[i].How, want[i].How) {
			t.Errorf("Missing[%d] = %q, want %s saying %q", i, got[i], want[i].Suite, want[i].How)
		}
	}
	if lines := Lines(got); strings.Count(lines, "\n") != len(want) || !strings.HasPrefix(lines, "not run: "+PostgresSuite+": ") {
		t.Errorf("Lines:\n%s", lines)
	}

	// Each program where the suites look for it.
	exe := func(path string) {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe(filepath.Join(empty, "node"))
	if _, how := Browser(e2e); !strings.Contains(how, "chromium") {
		t.Errorf("node alone: %q, want Chromium missing", how)
	}
	exe(filepath.Join(empty, "chromium"))
	if _, how := Browser(e2e); !strings.Contains(how, "playwright-core") {
		t.Errorf("node and Chromium: %q, want playwright-core missing", how)
	}
	os.MkdirAll(filepath.Join(e2e, "node_modules", "playwright-core"), 0o755)
	if how := MCPClient(mcpE2E); !strings.Contains(how, "@modelcontextprotocol/sdk") {
		t.Errorf("node: %q, want the MCP SDK missing", how)
	}
	os.MkdirAll(filepath.Join(mcpE2E, "node_modules", "@modelcontextprotocol", "sdk"), 0o755)
	if _, how := TwilioSDKs(sdkE2E); !strings.Contains(how, "npm ci in twilioapi/e2e") {
		t.Errorf("node: %q, want twilio for node missing", how)
	}
	os.MkdirAll(filepath.Join(sdkE2E, "node_modules", "twilio"), 0o755)
	if _, how := TwilioSDKs(sdkE2E); !strings.Contains(how, "python3-twilio") {
		t.Errorf("node's twilio: %q, want python's missing", how)
	}
	exe(filepath.Join(empty, "python3")) // a python whose import succeeds
	exe(filepath.Join(home, "gopath", "bin", "stripe-mock"))
	exe(filepath.Join(empty, "espeak-ng"))
	exe(filepath.Join(empty, "sipp"))
	if _, how := SIPp(); !strings.Contains(how, "pcaps") {
		t.Errorf("sipp alone: %q, want its pcaps missing", how)
	}
	os.MkdirAll(filepath.Join(home, "pcaps"), 0o755)
	os.WriteFile(filepath.Join(home, "pcaps", "dtmf_2833_pound.pcap"), nil, 0o644)
	raw := rawSocket
	t.Cleanup(func() { rawSocket = raw })
	rawSocket = func() bool { return false }
	if _, how := SIPp(); !strings.Contains(how, "raw socket") {
		t.Errorf("sipp and its pcaps, unprivileged: %q, want the raw socket missing", how)
	}
	rawSocket = func() bool { return true }
	t.Setenv("TONEPAY_TEST_POSTGRES_URL", "postgres://x@127.0.0.1/postgres")
	if got := Missing(root); len(got) != 0 {
		t.Errorf("everything there: Missing = %q", got)
	}
	if c, _ := Browser(e2e); c != filepath.Join(empty, "chromium") {
		t.Errorf("Browser = %q, want $CHROMIUM", c)
	}
	if bin, _ := FindStripeMock(); bin != filepath.Join(home, "gopath", "bin", "stripe-mock") {
		t.Errorf("FindStripeMock = %q, want the one in $GOPATH/bin", bin)
	}
	if bin, _ := FindEspeak(); bin != filepath.Join(empty, "espeak-ng") {
		t.Errorf("FindEspeak = %q, want the one on PATH", bin)
	}
	if dir, _ := SIPp(); dir != filepath.Join(home, "pcaps") {
		t.Errorf("SIPp = %q, want $SIPP_PCAPS", dir)
	}
	if py, _ := TwilioSDKs(sdkE2E); py != filepath.Join(empty, "python3") {
		t.Errorf("TwilioSDKs = %q, want $TWILIO_PYTHON", py)
	}
}

// TestSayReachesTheGoCommand: Say writes to its parent's standard error,
// as the go command's is what a person reads: under a pipe too, while the
// binary's own output goes nowhere (as go test does with a passing
// package's). A parent whose standard error is a file gets nothing: our
// line could be overwritten there. The test plays both generations: it
// runs itself as the parent (its stderr a pipe, or a file), which runs
// itself as the child that calls Say.
func TestSayReachesTheGoCommand(t *testing.T) {
	switch os.Getenv("SUITES_SAY_ROLE") {
	case "parent":
		child := exec.Command(os.Args[0], "-test.run=^TestSayReachesTheGoCommand$")
		child.Env = append(os.Environ(), "SUITES_SAY_ROLE=child")
		if err := child.Run(); err != nil { // its own stdout and stderr: /dev/null
			os.Exit(3)
		}
		return
	case "child":
		Say([]Note{{"some suite", "install something"}})
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("the go command's stderr is /proc/PPID/fd/2 on Linux only")
	}
	t.Setenv("CI", "")
	parent := func(stderr *os.File) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSayReachesTheGoCommand$")
		cmd.Env = append(os.Environ(), "SUITES_SAY_ROLE=parent")
		cmd.Stderr = stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("parent: %v", err)
		}
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	done := make(chan struct{})
	go func() { got.ReadFrom(r); close(done) }()
	parent(w)
	w.Close()
	<-done
	if got.String() != "not run: some suite: install something\n" {
		t.Errorf("the parent's stderr (a pipe) got %q", got.String())
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	parent(f)
	f.Close()
	if b, _ := os.ReadFile(f.Name()); len(b) != 0 {
		t.Errorf("the parent's stderr (a file) got %q", b)
	}

	t.Setenv("CI", "true")
	r, w, _ = os.Pipe()
	got.Reset()
	done = make(chan struct{})
	go func() { got.ReadFrom(r); close(done) }()
	parent(w)
	w.Close()
	<-done
	if got.Len() != 0 {
		t.Errorf("under CI the parent's stderr got %q", got.String())
	}
}
