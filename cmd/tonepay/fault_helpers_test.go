package main

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	twclient "github.com/twilio/twilio-go/client"
	_ "modernc.org/sqlite"
)

// The fault tests drive the real server with plain HTTP rather than
// twilio-go: they compare raw bodies across a crash, and must tell "no
// answer" (the process died) from an answer. Each runs in parallel with the
// others, each with its own server and store: several mostly wait (a lease
// of a dead process, the WAL's idle threshold), and none asserts a timing
// tighter than seconds.

// faultKey is the data key of every fault test: known, so that a test can
// say what the key would open.
var faultKey = base64.StdEncoding.EncodeToString([]byte("fault-tests-data-key-0123456789a"))

// faultServer is a `tonepay serve` that a test kills and starts again on the
// same store; clients follow it to its new port.
type faultServer struct {
	t     *testing.T
	env   []string
	sid   string
	token string

	mu  sync.Mutex
	cur *proc
	url atomic.Pointer[string]
	all []*proc // every process started, for the log scans
}

func newFaultServer(t *testing.T, db string, extra ...string) *faultServer {
	t.Helper()
	fs := &faultServer{t: t, sid: tonepay.NewSID("AC"), token: "faulttoken1"}
	fs.env = append([]string{"TONEPAY_DB=" + db, "TONEPAY_DATA_KEY=" + faultKey,
		"TONEPAY_ACCOUNT_SID=" + fs.sid, "TONEPAY_AUTH_TOKEN=" + fs.token}, extra...)
	fs.start()
	return fs
}

func (fs *faultServer) start() {
	fs.t.Helper()
	p := startServer(fs.t, fs.env...)
	fs.mu.Lock()
	fs.cur = p
	fs.all = append(fs.all, p)
	fs.mu.Unlock()
	fs.url.Store(&p.URL)
}

// kill ends the process with SIGKILL, as a crash would.
func (fs *faultServer) kill() {
	fs.mu.Lock()
	p := fs.cur
	fs.mu.Unlock()
	down := "http://127.0.0.1:1" // nothing listens: clients see connection refused
	fs.url.Store(&down)
	p.kill()
}

func (fs *faultServer) restart() { fs.t.Helper(); fs.kill(); fs.start() }

// logs is what every process wrote, stdout and stderr.
func (fs *faultServer) logs() string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var b strings.Builder
	for _, p := range fs.all {
		b.WriteString(p.Stdout())
		b.WriteString(p.Stderr())
	}
	return b.String()
}

var faultHTTP = &http.Client{
	Timeout:       20 * time.Second,
	Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends one request to the current process. An error means no answer.
func (fs *faultServer) do(method, path string, form url.Values) (int, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, *fs.url.Load()+path, body)
	if err != nil {
		return 0, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(fs.sid, fs.token)
	res, err := faultHTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err // the process died while answering: no answer
	}
	return res.StatusCode, b, nil
}

// retry sends a request until some process answers it (the server may be
// down between a kill and its restart).
func (fs *faultServer) retry(method, path string, form url.Values) (int, []byte) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, b, err := fs.do(method, path, form)
		if err == nil && code != http.StatusServiceUnavailable && code != http.StatusBadGateway {
			return code, b
		}
		if time.Now().After(deadline) {
			return 0, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (fs *faultServer) api(suffix string) string { return "/2010-04-01/Accounts/" + fs.sid + suffix }
func (fs *faultServer) ext(suffix string) string { return "/_tonepay/Accounts/" + fs.sid + suffix }

// newCall creates a call, retrying through restarts; "" if it failed.
func (fs *faultServer) newCall() string {
	code, b := fs.retry("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {"https://example.com/twiml"}})
	var c struct{ Sid string }
	if code != http.StatusCreated || json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Sid
}

// faultView is the extension view of a session, the fields the tests read.
type faultView struct {
	Status   string            `json:"status"`
	Result   string            `json:"result"`
	Capture  string            `json:"capture"`
	Captured map[string]string `json:"captured"`
	Required []string          `json:"required"`
}

func (fs *faultServer) view(call, pk string) (faultView, bool) {
	var v faultView
	code, b := fs.retry("GET", fs.ext("/Calls/"+call+"/Payments/"+pk), nil)
	return v, code == 200 && json.Unmarshal(b, &v) == nil
}

type queuedCallback struct {
	Token  string `json:"idempotency_token"`
	Status string `json:"status"`
	URL    string `json:"url"`
}

// queued lists the callbacks the server queued for a session, in order.
func (fs *faultServer) queued(call, pk string) ([]queuedCallback, bool) {
	var v struct {
		Callbacks []queuedCallback `json:"callbacks"`
	}
	code, b := fs.retry("GET", fs.ext("/Calls/"+call+"/Payments/"+pk+"/Callbacks"), nil)
	return v.Callbacks, code == 200 && json.Unmarshal(b, &v) == nil
}

// hook is a status callback receiver whose answer a test decides per
// request; it checks every signature with twilio-go's validator and keeps
// the deliveries it accepted (answered 2xx), with their arrival time.
type hook struct {
	t      *testing.T
	srv    *httptest.Server
	token  string
	answer atomic.Pointer[func(http.ResponseWriter, *http.Request) bool] // false: refused

	mu       sync.Mutex
	accepted []hookDelivery
	refused  int
	invalid  int
	active   int // requests being answered
}

type hookDelivery struct {
	Form  url.Values
	Token string
	At    time.Time
}

// newHook listens on addr (127.0.0.1 and a free port unless given) and
// accepts everything.
func newHook(t *testing.T, token, addr string) *hook {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &hook{t: t, token: token}
	h.setAnswer(nil)
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
	h.srv.Listener.Close()
	h.srv.Listener = ln
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// setAnswer changes what the hook does; nil accepts with 204.
func (h *hook) setAnswer(f func(http.ResponseWriter, *http.Request) bool) {
	if f == nil {
		f = func(w http.ResponseWriter, _ *http.Request) bool { w.WriteHeader(http.StatusNoContent); return true }
	}
	h.answer.Store(&f)
}

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	full := "http://" + r.Host + r.URL.RequestURI()
	params := map[string]string{}
	for k := range r.PostForm {
		params[k] = r.PostForm.Get(k)
	}
	v := twclient.NewRequestValidator(h.token)
	valid := r.Method == "POST" && v.Validate(full, params, r.Header.Get("X-Twilio-Signature"))
	at := time.Now()
	h.mu.Lock()
	h.active++
	h.mu.Unlock()
	ok := (*h.answer.Load())(w, r)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.active--
	if !valid {
		h.invalid++
	}
	if !ok {
		h.refused++
		return
	}
	h.accepted = append(h.accepted, hookDelivery{Form: r.PostForm, Token: r.Header.Get("I-Twilio-Idempotency-Token"), At: at})
}

func (h *hook) url() string { return h.srv.URL + "/cb" }

// bySession groups the accepted deliveries by payment session, in arrival order.
func (h *hook) bySession() map[string][]hookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]hookDelivery{}
	for _, d := range h.accepted {
		out[d.Form.Get("Sid")] = append(out[d.Form.Get("Sid")], d)
	}
	return out
}

func (h *hook) counts() (accepted, refused, invalid int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.accepted), h.refused, h.invalid
}

// inOrder reports whether the deliveries a receiver accepted for a session
// are the queued callbacks, each at least once, first arrivals in the queued
// order, and no older callback arriving again after a newer one (a
// redelivery after a crash repeats the last one only).
func inOrder(got []hookDelivery, queued []queuedCallback) error {
	var firsts []string
	seen := map[string]int{}
	for i, d := range got {
		if j, ok := seen[d.Token]; ok {
			if j != len(firsts)-1 {
				return fmt.Errorf("delivery %d repeats callback %d after a later one", i, j)
			}
			continue
		}
		seen[d.Token] = len(firsts)
		firsts = append(firsts, d.Token)
	}
	want := make([]string, len(queued))
	for i, q := range queued {
		want[i] = q.Token
	}
	if !slices.Equal(firsts, want) {
		return fmt.Errorf("received %d distinct callbacks %v, queued %d %v", len(firsts), firsts, len(want), want)
	}
	return nil
}

// finals lists the distinct Result callbacks of a session's deliveries.
func finals(got []hookDelivery) []url.Values {
	seen := map[string]bool{}
	var out []url.Values
	for _, d := range got {
		if d.Form.Has("Result") && !seen[d.Token] {
			seen[d.Token] = true
			out = append(out, d.Form)
		}
	}
	return out
}

// storeFiles reads the SQLite database and its -wal and -shm files, those
// that exist.
func storeFiles(t *testing.T, db string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(db + suffix)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(db+suffix)] = b
	}
	return out
}

// openReadOnly opens the SQLite file of a running server read-only.
func openReadOnly(t *testing.T, db string) *sql.DB {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+db+"?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	d.SetMaxOpenConns(1)
	t.Cleanup(func() { d.Close() })
	return d
}

// charges lists what a `tonepay processor` charged.
type charge struct {
	TransactionID string `json:"transaction_id"`
	Amount        string `json:"amount"`
	ChargeID      string `json:"charge_id"`
	ErrorCode     string `json:"error_code"`
	Requests      int    `json:"requests"`
}

func charges(t *testing.T, processorURL, password string) []charge {
	t.Helper()
	req, _ := http.NewRequest("GET", processorURL+"/", nil)
	req.SetBasicAuth("twilio", password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var recs struct {
		Transactions []charge `json:"transactions"`
	}
	if err := json.NewDecoder(res.Body).Decode(&recs); err != nil {
		t.Fatal(err)
	}
	return recs.Transactions
}

// genericConfig writes a config whose Default connector is a generic one
// pointed at a `tonepay processor`.
func genericConfig(t *testing.T, dir, processorURL string) string {
	t.Helper()
	path := filepath.Join(dir, "tonepay.toml")
	err := os.WriteFile(path, []byte(`
[[connector]]
name = "Default"
type = "generic"
[connector.settings]
url = "`+processorURL+`/"
username = "twilio"
password_env = "FAULT_PROC_PASSWORD"
timeout = "3s"
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// containsAny reports the first of needles found in hay.
func containsAny(hay []byte, needles [][]byte) ([]byte, bool) {
	for _, n := range needles {
		if len(n) > 0 && bytes.Contains(hay, n) {
			return n, true
		}
	}
	return nil, false
}

// sidOf reads the sid of a JSON resource.
func sidOf(body []byte) string {
	var v struct{ Sid string }
	json.Unmarshal(body, &v)
	return v.Sid
}
