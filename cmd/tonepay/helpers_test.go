package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// binary is tonepay built once for the tests that run it as a process: the
// real server, killable with SIGKILL.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tonepay-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tonepay")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running `tonepay serve`.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	URL    string
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
}

var listening = regexp.MustCompile(`listening on (http://[0-9.:\[\]a-z]+)`)

// startServer runs `tonepay serve` on a free port with env added to the
// environment, and waits until it answers its health check.
func startServer(t *testing.T, env ...string) *proc {
	t.Helper()
	p := startProcess(t, []string{"serve", "--addr", "127.0.0.1:0"}, env...)
	waitFor(t, 10*time.Second, "health check", func() bool {
		res, err := http.Get(p.URL + "/_tonepay/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// startProcess runs tonepay with args and waits for its "listening on" line.
func startProcess(t *testing.T, args []string, env ...string) *proc {
	t.Helper()
	p := &proc{t: t, done: make(chan struct{})}
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
	t.Cleanup(p.kill)
	select {
	case p.URL = <-urls:
	case <-p.done:
		t.Fatalf("tonepay exited before listening:\n%s", p.Stderr())
	case <-time.After(30 * time.Second):
		t.Fatalf("tonepay did not say it was listening:\n%s", p.Stderr())
	}
	return p
}

func (p *proc) copy(r io.Reader, buf *bytes.Buffer, urls chan<- string) {
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

func (p *proc) Stdout() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *proc) Stderr() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// kill ends the process at once, as a crash would.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to shut down and returns its exit code.
func (p *proc) stop(sig os.Signal) int {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.t.Fatal("tonepay did not stop")
	}
	return p.cmd.ProcessState.ExitCode()
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receiver is a status callback endpoint that checks every signature with
// twilio-go's own validator.
type receiver struct {
	t     *testing.T
	srv   *httptest.Server
	token string

	mu     sync.Mutex
	got    []delivery
	status int // what to answer; 204 unless set
}

type delivery struct {
	URL       string
	Form      url.Values
	Token     string // I-Twilio-Idempotency-Token
	Signature string
	Valid     bool
}

func newReceiver(t *testing.T, authToken string) *receiver {
	rc := &receiver{t: t, token: authToken, status: http.StatusNoContent}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	full := "http://" + r.Host + r.URL.RequestURI()
	params := map[string]string{}
	for k := range r.PostForm {
		params[k] = r.PostForm.Get(k)
	}
	v := twclient.NewRequestValidator(rc.token)
	d := delivery{
		URL:       full,
		Form:      r.PostForm,
		Token:     r.Header.Get("I-Twilio-Idempotency-Token"),
		Signature: r.Header.Get("X-Twilio-Signature"),
	}
	d.Valid = r.Method == "POST" && v.Validate(full, params, d.Signature)
	rc.mu.Lock()
	rc.got = append(rc.got, d)
	status := rc.status
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) setStatus(s int) { rc.mu.Lock(); rc.status = s; rc.mu.Unlock() }

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// forSession returns the deliveries of one payment session, in arrival order.
func (rc *receiver) forSession(pk string) []delivery {
	var out []delivery
	for _, d := range rc.deliveries() {
		if d.Form.Get("Sid") == pk {
			out = append(out, d)
		}
	}
	return out
}

// spec validates response bodies against Twilio's OpenAPI description of
// API v2010 (vendored in testdata, MIT licence).
type spec struct {
	router routers.Router
}

var (
	specOnce sync.Once
	specVal  *spec
	specErr  error
)

func loadSpec(t *testing.T) *spec {
	t.Helper()
	specOnce.Do(func() {
		openapi3.DefineStringFormatValidator("date-time-rfc-2822", openapi3.NewCallbackValidator(func(s string) error {
			_, err := time.Parse(time.RFC1123Z, s)
			return err
		}))
		doc, err := openapi3.NewLoader().LoadFromFile("testdata/twilio-oai/twilio_api_v2010.json")
		if err != nil {
			specErr = err
			return
		}
		// gorillamux matches {Sid}.json segments; it also matches the host, which is
		// api.twilio.com in the requests twilio-go builds, as the spec says.
		r, err := gorillamux.NewRouter(doc)
		specVal, specErr = &spec{router: r}, err
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	return specVal
}

// check validates a response to req, which must carry twilio-go's original
// https://api.twilio.com URL (the spec's server).
func (s *spec) check(req *http.Request, res *http.Response, body []byte) error {
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	})
}

// rewrite sends what twilio-go builds for https://api.twilio.com to the test
// server instead, and validates every 2xx answer against the spec.
type rewrite struct {
	t       *testing.T
	target  *url.URL
	spec    *spec
	mu      sync.Mutex
	checked int
}

func (rw *rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	orig := r.Clone(r.Context())
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rw.target.Scheme, rw.target.Host, rw.target.Host
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || res.StatusCode < 200 || res.StatusCode > 299 || rw.spec == nil {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if res.StatusCode != http.StatusNoContent {
		if err := rw.spec.check(orig, res, body); err != nil {
			rw.t.Errorf("response does not match Twilio's OpenAPI spec: %v\nbody: %s", err, body)
		}
	}
	rw.mu.Lock()
	rw.checked++
	rw.mu.Unlock()
	return res, nil
}

// newTwilio returns twilio-go's v2010 API service pointed at baseURL, signing
// in as user/pass (an account or an API key) on accountSid.
func newTwilio(t *testing.T, baseURL, user, pass, accountSid string, sp *spec) (*api.ApiService, *rewrite) {
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	rw := &rewrite{t: t, target: u, spec: sp}
	c := &twclient.Client{
		Credentials: twclient.NewCredentials(user, pass),
		HTTPClient: &http.Client{
			Transport:     rw,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(accountSid)
	return api.NewApiServiceWithClient(c), rw
}

// parseAccount reads the credentials serve prints for a new main account.
func parseAccount(out string) (sid, token string) {
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
