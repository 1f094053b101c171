// Package e2e is the end-to-end harness: it builds the tonepay command once
// per test binary, runs `tonepay serve` as a real process (killable with
// SIGKILL, restartable on the same store), waits for its health check, and
// gives a test what a Twilio user has: twilio-go pointed at the server (its
// answers checked against Twilio's OpenAPI spec), a status callback receiver
// and a TwiML app that check every X-Twilio-Signature with twilio-go's own
// validator (an independent check of webhook.Sign), and tonepay's client.
// For tests only.
package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tonepay/tonepay/client"
)

// command is the package Build builds.
const command = "github.com/tonepay/tonepay/cmd/tonepay"

// binary is the tonepay command Build made, which Start runs.
var binary string

// Build builds the tonepay command into a temporary directory, once per
// test binary, and returns its path and a cleanup that removes it. Start
// runs that binary. Call it from TestMain (or use Main).
func Build() (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "tonepay-test-bin")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, "tonepay")
	if out, err := exec.Command("go", "build", "-o", path, command).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build %s: %v\n%s", command, err, out)
	}
	binary = path
	return path, func() { os.RemoveAll(dir) }, nil
}

// Main is a TestMain that builds the command, runs the tests and exits.
func Main(m *testing.M) {
	_, cleanup, err := Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Binary is the path of the command Build made.
func Binary() string { return binary }

// Proc is a running tonepay process: `tonepay serve`, or any command that
// says where it listens.
type Proc struct {
	URL string // http://HOST:PORT, from its "listening on" line

	t      testing.TB
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
}

var listening = regexp.MustCompile(`listening on (http://[0-9.:\[\]a-z]+)`)

// StartServer runs `tonepay serve` on a free loopback port with env added
// to the test's environment, and waits until it answers its health check.
// The process is killed when the test ends.
func StartServer(t testing.TB, env ...string) *Proc {
	t.Helper()
	p := Start(t, []string{"serve", "--addr", "127.0.0.1:0"}, env...)
	WaitFor(t, 10*time.Second, "health check", func() bool {
		res, err := http.Get(p.URL + "/_tonepay/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// Start runs tonepay with args and env added to the test's environment,
// and waits for its "listening on" line (30 s at most). The process is
// killed when the test ends.
func Start(t testing.TB, args []string, env ...string) *Proc {
	t.Helper()
	if binary == "" {
		t.Fatal("e2e: no tonepay binary: call e2e.Build (or e2e.Main) from TestMain")
	}
	p := &Proc{t: t, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), env...)
	outPipe, _ := p.cmd.StdoutPipe()
	errPipe, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Go(func() { p.copy(outPipe, &p.stdout, nil) })
	wg.Go(func() { p.copy(errPipe, &p.stderr, urls) })
	go func() { wg.Wait(); p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Kill)
	select {
	case p.URL = <-urls:
	case <-p.done:
		t.Fatalf("tonepay exited before listening:\n%s", p.Stderr())
	case <-time.After(30 * time.Second):
		t.Fatalf("tonepay did not say it was listening:\n%s", p.Stderr())
	}
	return p
}

func (p *Proc) copy(r io.Reader, buf *bytes.Buffer, urls chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		buf.WriteString(line + "\n")
		p.mu.Unlock()
		if m := listening.FindStringSubmatch(line); m != nil && urls != nil {
			urls <- m[1]
			urls = nil
		}
	}
}

// Stdout is what the process printed on its standard output so far.
func (p *Proc) Stdout() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }

// Stderr is what the process printed on its standard error (its log) so far.
func (p *Proc) Stderr() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill ends the process at once, as a crash would, and waits for it.
func (p *Proc) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends sig (SIGTERM, SIGINT) and returns the exit code; the test
// fails if the process has not exited after 20 s.
func (p *Proc) Stop(sig os.Signal) int {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.t.Fatal("tonepay did not stop")
	}
	return p.cmd.ProcessState.ExitCode()
}

// Client is tonepay's Go client for the server with an account's credentials.
func (p *Proc) Client(t testing.TB, accountSid, authToken string) *client.Client {
	t.Helper()
	c, err := client.New(p.URL, accountSid, authToken)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// WaitFor polls ok every 20 ms and fails the test after d.
func WaitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ParseAccount reads the credentials serve prints for a new main account.
func ParseAccount(out string) (sid, token string) {
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "TONEPAY_ACCOUNT_SID="); ok {
			sid = v
		}
		if v, ok := strings.CutPrefix(line, "TONEPAY_AUTH_TOKEN="); ok {
			token = v
		}
	}
	return sid, token
}
