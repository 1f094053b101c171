package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// trap is a listener that must (or must not) be reached: it records every
// request. With challenge set it answers 401 with a Basic challenge until the
// request carries credentials, as a receiver protected by a password does.
type trap struct {
	srv       *httptest.Server
	challenge bool
	mu        sync.Mutex
	auth      []string // each request's Authorization header, in order
	paths     []string
}

func newTrap(t *testing.T, network string, challenge bool) *trap {
	tr := &trap{challenge: challenge}
	tr.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.auth = append(tr.auth, r.Header.Get("Authorization"))
		tr.paths = append(tr.paths, r.URL.Path)
		tr.mu.Unlock()
		if tr.challenge && r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="callbacks"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	if network == "tcp6" {
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			return nil
		}
		tr.srv.Listener.Close()
		tr.srv.Listener = ln
	}
	tr.srv.Start()
	t.Cleanup(tr.srv.Close)
	return tr
}

func (tr *trap) hits() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.auth...)
}

// callbacksView is GET .../Payments/{PK}/Callbacks.
type callbacksView struct {
	Callbacks []struct {
		URL      string `json:"url"`
		Status   string `json:"status"`
		Attempts []struct {
			StatusCode int    `json:"status_code"`
			Error      string `json:"error"`
			DurationMS int64  `json:"duration_ms"`
		} `json:"attempts"`
	} `json:"callbacks"`
}

// A refusal says why; a failed connection is not a refusal.
var (
	refusalReason = regexp.MustCompile(`(?i)not allowed|refus|forbid|block|denied|policy|callback-networks|link-local|listener|disallow|not permitted`)
	notARefusal   = regexp.MustCompile(`(?i)connection refused|i/o timeout|no route to host|network is unreachable|connection reset`)
)

// ssrfCase is one StatusCallback and what must come of it.
type ssrfCase struct {
	name     string
	srv      *proc
	url      string
	refused  bool
	unseen   func() string // "" when the target saw nothing; for refused cases
	afterAll func() string // more checks once the first attempt is recorded
}

// TestAttackSSRF points StatusCallbacks at tonepay itself, its pprof
// listener, link-local metadata addresses and, with
// TONEPAY_CALLBACK_NETWORKS=public, at loopback receivers: each is refused,
// recorded as a failed attempt with a clear reason, and never reached; the
// console sink and ordinary loopback receivers still work by default, and
// credentials in a URL are sent only after a 401 challenge and never shown.
func TestAttackSSRF(t *testing.T) {
	t.Parallel()
	sid, token := fixedAccount()
	pprofPort := freePort(t)
	base := []string{"TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token, "TONEPAY_LOG_LEVEL=debug"}
	def := startServer(t, append(append(append(storeDB(t, "ssrf"), base...), attackEnv...), fmt.Sprintf("TONEPAY_PPROF_ADDR=127.0.0.1:%d", pprofPort))...)
	pub := startServer(t, append(append(append(storeDB(t, "ssrfpublic"), base...), attackEnv...), "TONEPAY_CALLBACK_NETWORKS=public")...)
	apiPort := def.URL[strings.LastIndex(def.URL, ":")+1:]

	trap4 := newTrap(t, "tcp4", false)
	trap6 := newTrap(t, "tcp6", false)
	guarded := newTrap(t, "tcp4", true)
	notLogged := func(p *proc, path string) func() string {
		return func() string {
			if stderrHas(p, "path="+path) {
				return "the request reached tonepay's own API: its log has path=" + path
			}
			return ""
		}
	}
	noHits := func(tr *trap, path string) func() string {
		return func() string {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			for _, p := range tr.paths {
				if p == path {
					return "the target received the callback"
				}
			}
			return ""
		}
	}
	cases := []ssrfCase{
		{name: "0.0.0.0 at tonepay's port", srv: def, url: "http://0.0.0.0:" + apiPort + "/ssrf-zero", refused: true, unseen: notLogged(def, "/ssrf-zero")},
		{name: "tonepay's own API URL", srv: def, url: def.URL + "/ssrf-own", refused: true, unseen: notLogged(def, "/ssrf-own")},
		{name: "localhost at tonepay's port", srv: def, url: "http://localhost:" + apiPort + "/ssrf-localhost", refused: true, unseen: notLogged(def, "/ssrf-localhost")},
		{name: "IPv4-mapped IPv6 of tonepay", srv: def, url: "http://[::ffff:127.0.0.1]:" + apiPort + "/ssrf-mapped", refused: true, unseen: notLogged(def, "/ssrf-mapped")},
		{name: "the pprof listener", srv: def, url: fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=5", pprofPort), refused: true},
		{name: "IPv6 link-local", srv: def, url: "http://[fe80::1]/x", refused: true},
		{name: "loopback receiver under public", srv: pub, url: trap4.srv.URL + "/p", refused: true, unseen: noHits(trap4, "/p")},
		{name: "the console sink", srv: def, url: def.URL + "/_tonepay/sink"},
		{name: "credentials in the URL", srv: def, url: strings.Replace(guarded.srv.URL, "http://", "http://user:pass@", 1) + "/guarded", afterAll: func() string {
			h := guarded.hits()
			switch {
			case len(h) > 0 && h[0] != "":
				return "the credentials were sent before any 401 challenge"
			case len(h) < 2:
				return fmt.Sprintf("the receiver got %d requests, want a first one and one after its 401 challenge", len(h))
			case h[1] != "Basic dXNlcjpwYXNz":
				return fmt.Sprintf("after the challenge, Authorization %q, want Basic user:pass", h[1])
			}
			return ""
		}},
	}
	if trap6 != nil {
		cases = append(cases,
			ssrfCase{name: "[::1] receiver by default", srv: def, url: trap6.srv.URL + "/v6"},
			ssrfCase{name: "[::1] receiver under public", srv: pub, url: trap6.srv.URL + "/v6pub", refused: true, unseen: noHits(trap6, "/v6pub")})
	} else {
		t.Log("no IPv6 loopback here: the [::1] cases are left out")
	}

	tried, correct := 0, 0
	views := map[*proc]string{}
	results := runSSRF(t, sid, token, cases, 0, views)
	// 169.254.169.254 is a real address beyond loopback (in some sandboxes
	// something answers there): the test sends tonepay there only once it
	// has shown that it refuses link-local destinations.
	metadata := ssrfCase{name: "cloud metadata 169.254.169.254", srv: def, url: "http://169.254.169.254/latest/meta-data/", refused: true}
	if results["IPv6 link-local"] == "" {
		for k, v := range runSSRF(t, sid, token, []ssrfCase{metadata}, len(cases), views) {
			results[k] = v
		}
	} else {
		results[metadata.name] = "not tried: tonepay does not refuse link-local IPv6, so it would reach 169.254.169.254 too"
	}
	for _, sc := range append(cases, metadata) {
		tried++
		if p := results[sc.name]; p == "" {
			correct++
		} else {
			t.Errorf("%s (%s): %s", sc.name, sc.url, p)
		}
	}
	// Credentials in a URL are never shown back, nor logged.
	tried++
	switch {
	case strings.Contains(views[def], "user:pass"), strings.Contains(views[def], "pass@"):
		i := strings.Index(views[def], "user:pass")
		t.Errorf("the Callbacks view shows user:pass: ...%.120s", views[def][max(0, i-40):])
	case stderrHas(def, "user:pass"):
		log := def.Stderr()
		i := strings.Index(log, "user:pass")
		t.Errorf("the log shows user:pass: ...%.160s", log[max(0, i-100):])
	default:
		correct++
	}
	figures(t, "attack-ssrf", tried, correct, "")
}

// runSSRF creates a payment session per case and judges its first callback
// attempt; it returns each case's problem ("" when none) and adds the views
// it read to views.
func runSSRF(t *testing.T, sid, token string, cases []ssrfCase, first int, views map[*proc]string) map[string]string {
	type made struct {
		c          ssrfCase
		call, pk   string
		createFail string
	}
	var all []made
	for i, sc := range cases {
		i += first
		c := newAttackClient(sc.srv.URL, sid, token)
		acct := "/2010-04-01/Accounts/" + sid
		call := jsonField(t, c.mustDo(t, 201, rawReq{Method: "POST", Path: acct + "/Calls.json", Body: form("To", "+15005550006", "From", "+15005550001", "Twiml", "<Response/>")}), "sid")
		res := c.do(rawReq{Method: "POST", Path: acct + "/Calls/" + call + "/Payments.json", Body: form("IdempotencyKey", "ssrf"+strconv.Itoa(i), "StatusCallback", sc.url)})
		m := made{c: sc, call: call}
		if res.Status != 201 {
			m.createFail = fmt.Sprintf("Payments create answered %d: %.200s", res.Status, res.Body)
		} else {
			m.pk = jsonField(t, res.Body, "sid")
		}
		all = append(all, m)
	}

	out := map[string]string{}
	for _, m := range all {
		problem := m.createFail
		var view callbacksView
		var raw []byte
		if problem == "" {
			c := newAttackClient(m.c.srv.URL, sid, token)
			path := "/_tonepay/Accounts/" + sid + "/Calls/" + m.call + "/Payments/" + m.pk + "/Callbacks"
			deadline := time.Now().Add(10 * time.Second)
			for {
				raw = c.do(rawReq{Path: path}).Body
				view = callbacksView{}
				json.Unmarshal(raw, &view)
				settled := len(view.Callbacks) > 0 && len(view.Callbacks[0].Attempts) > 0 &&
					(m.c.refused || view.Callbacks[0].Status == "delivered")
				if settled || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			views[m.c.srv] += string(raw)
			problem = judgeSSRF(m.c, view)
		}
		if problem == "" && m.c.unseen != nil {
			problem = m.c.unseen()
		}
		if problem == "" && m.c.afterAll != nil {
			problem = m.c.afterAll()
		}
		if problem != "" {
			problem += fmt.Sprintf("\nview: %.400s", raw)
		}
		out[m.c.name] = problem
	}
	return out
}

// judgeSSRF checks the first callback of a case's session.
func judgeSSRF(sc ssrfCase, v callbacksView) string {
	if len(v.Callbacks) == 0 || len(v.Callbacks[0].Attempts) == 0 {
		return "no delivery attempt recorded within 10 s"
	}
	cb := v.Callbacks[0]
	a := cb.Attempts[0]
	if !sc.refused {
		if cb.Status != "delivered" {
			return fmt.Sprintf("not delivered: status %s, first attempt %d %q", cb.Status, a.StatusCode, a.Error)
		}
		return ""
	}
	switch {
	case cb.Status == "delivered" || a.StatusCode != 0:
		return fmt.Sprintf("not refused: callback %s, the target answered %d", cb.Status, a.StatusCode)
	case !refusalReason.MatchString(a.Error) || notARefusal.MatchString(a.Error):
		return fmt.Sprintf("the attempt's error %q does not say the destination is refused", a.Error)
	case a.DurationMS >= 5000:
		return fmt.Sprintf("the attempt took %d ms: it waited on the target", a.DurationMS)
	}
	return ""
}
