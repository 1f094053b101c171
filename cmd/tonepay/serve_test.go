package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

func TestParseServe(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	const sid = "AC0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		want    func(c serveConfig) bool
		wantErr string
	}{
		{"defaults", nil, env(), func(c serveConfig) bool {
			return c.Addr == "127.0.0.1:8080" && c.DB == "tonepay.db" && c.LogLevel == "info"
		}, ""},
		{"environment", nil, env("TONEPAY_ADDR", ":0", "TONEPAY_DB", "/tmp/x.db", "TONEPAY_RATE_LIMIT", "5"),
			func(c serveConfig) bool { return c.Addr == ":0" && c.DB == "/tmp/x.db" && c.RateLimit == 5 }, ""},
		{"flag beats environment", []string{"--addr", "127.0.0.1:9"}, env("TONEPAY_ADDR", ":0"), func(c serveConfig) bool { return c.Addr == "127.0.0.1:9" }, ""},
		{"account pair", nil, env("TONEPAY_ACCOUNT_SID", sid, "TONEPAY_AUTH_TOKEN", "abc123"), func(c serveConfig) bool { return c.AccountSid == sid }, ""},
		{"sid without token", nil, env("TONEPAY_ACCOUNT_SID", sid), nil, "go together"},
		{"bad sid", nil, env("TONEPAY_ACCOUNT_SID", "AC1", "TONEPAY_AUTH_TOKEN", "x"), nil, "32 hex"},
		{"token not alphanumeric", nil, env("TONEPAY_ACCOUNT_SID", sid, "TONEPAY_AUTH_TOKEN", "a-b"), nil, "letters and digits"},
		{"bad data key", nil, env("TONEPAY_DATA_KEY", "c2hvcnQ="), nil, "32 bytes"},
		{"bad log level", []string{"--log-level", "loud"}, env(), nil, "log-level"},
		{"bad rate", nil, env("TONEPAY_RATE_LIMIT", "fast"), nil, "TONEPAY_RATE_LIMIT"},
		{"negative rate", []string{"--rate-limit", "-1"}, env(), nil, "negative"},
		{"first digit timeout", []string{"--first-digit-timeout", "2s"}, env(), func(c serveConfig) bool { return c.FirstDigit == 2*time.Second }, ""},
		{"first digit timeout from env", nil, env("TONEPAY_FIRST_DIGIT_TIMEOUT", "1500ms"), func(c serveConfig) bool { return c.FirstDigit == 1500*time.Millisecond }, ""},
		{"bad first digit timeout", nil, env("TONEPAY_FIRST_DIGIT_TIMEOUT", "soon"), nil, "duration"},
		{"postgres needs the data key", []string{"--db", "postgres://x"}, env(), nil, "TONEPAY_DATA_KEY is required"},
		{"postgres", []string{"--db", "postgres://x"}, env("TONEPAY_DATA_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="), func(c serveConfig) bool { return isPostgres(c.DB) }, ""},
		{"connector lease", nil, env("TONEPAY_CONNECTOR_LEASE", "10s"), func(c serveConfig) bool { return c.ConnectorLease == 10*time.Second }, ""},
		{"connector lease too short", []string{"--connector-lease", "1s"}, env(), nil, "at least 5s"},
		{"stray argument", []string{"extra"}, env(), nil, "unexpected"},
		{"safety defaults", nil, env(), func(c serveConfig) bool {
			return c.SessionIdle == 15*time.Minute && c.EraseWithin == 30*time.Second && c.ReadTimeout == time.Minute &&
				c.IdleTimeout == 2*time.Minute && c.AuthFailLimit > 0 && c.CallbackNetworks == ""
		}, ""},
		{"safety from env", nil, env("TONEPAY_SESSION_IDLE", "2s", "TONEPAY_ERASE_WITHIN", "3s", "TONEPAY_READ_TIMEOUT", "4s",
			"TONEPAY_WRITE_TIMEOUT", "5s", "TONEPAY_IDLE_TIMEOUT", "6s", "TONEPAY_AUTH_FAIL_LIMIT", "7", "TONEPAY_CALLBACK_NETWORKS", "public"),
			func(c serveConfig) bool {
				return c.SessionIdle == 2*time.Second && c.EraseWithin == 3*time.Second && c.ReadTimeout == 4*time.Second &&
					c.WriteTimeout == 5*time.Second && c.IdleTimeout == 6*time.Second && c.AuthFailLimit == 7 && c.CallbackNetworks == "public"
			}, ""},
		{"erase within at most 60s", []string{"--erase-within", "2m"}, env(), nil, "1s to 60s"},
		{"idle timeout at most 120s", nil, env("TONEPAY_IDLE_TIMEOUT", "1h"), nil, "1s to 120s"},
		{"read timeout at most 60s", []string{"--read-timeout", "61s"}, env(), nil, "1s to 60s"},
		{"session idle too short", []string{"--session-idle", "10ms"}, env(), nil, "at least 1s"},
		{"auth fail limit", nil, env("TONEPAY_AUTH_FAIL_LIMIT", "many"), nil, "whole number"},
		{"leg lease default", nil, env(), func(c serveConfig) bool { return c.LegLease == 30*time.Second }, ""},
		{"leg lease from env", nil, env("TONEPAY_LEG_LEASE", "2s"), func(c serveConfig) bool { return c.LegLease == 2*time.Second }, ""},
		{"leg lease too short", nil, env("TONEPAY_LEG_LEASE", "500ms"), nil, "TONEPAY_LEG_LEASE must be at least 1s"},
		{"leg lease not a duration", nil, env("TONEPAY_LEG_LEASE", "soon"), nil, "TONEPAY_LEG_LEASE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServe(tt.args, tt.env, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

// TestFailedFirstStart: a first start that fails creates nothing and prints
// no credentials; the next good start prints them, later starts point at
// `account show`, which prints them again.
func TestFailedFirstStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "first.db")
	conf := filepath.Join(t.TempDir(), "c.toml") // not in dir: dir must stay empty
	os.WriteFile(conf, []byte("[[connector]]\nname = \"Acme\"\ntype = \"generic\"\n[connector.settings]\n"+
		"url = \"https://pay.example.com/twilio\"\nusername = \"twilio\"\npassword_env = \"ACME_PASSWORD\"\n"), 0o600)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"garbage address", []string{"--addr", "garbage"}, "--addr"},
		{"busy port", []string{"--addr", busy.Addr().String()}, "address already in use"},
		{"connector variable unset", []string{"--addr", "127.0.0.1:0", "--config", conf}, "ACME_PASSWORD, which is not set"},
		{"busy pprof port", []string{"--addr", "127.0.0.1:0", "--pprof"}, "TONEPAY_PPROF_ADDR"},
		{"missing directory", []string{"--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "no", "such", "x.db")}, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, env := append([]string{"serve", "--db", db}, tt.args...), []string{"TONEPAY_DB=", "ACME_PASSWORD=", "TONEPAY_ACCOUNT_SID=", "TONEPAY_AUTH_TOKEN="}
			if args[len(args)-1] == "--pprof" {
				args, env = args[:len(args)-1], append(env, "TONEPAY_PPROF_ADDR="+busy.Addr().String())
			}
			cmd := exec.Command(binary, args...)
			cmd.Env = append(os.Environ(), env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("err %v, stderr %q, want one containing %q", err, stderr.String(), tt.wantErr)
			}
			if stdout.Len() > 0 {
				t.Errorf("a failed start printed %q", stdout.String())
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("a failed start left %v in the database's directory", ents)
			}
		})
	}

	env := []string{"TONEPAY_DB=" + db, "TONEPAY_ACCOUNT_SID=", "TONEPAY_AUTH_TOKEN=", "TONEPAY_DATA_KEY="}
	first := startServer(t, env...)
	creds := regexp.MustCompile(`TONEPAY_ACCOUNT_SID=(AC[0-9a-f]{32})\s+TONEPAY_AUTH_TOKEN=([0-9a-f]{32})`)
	var m []string
	waitFor(t, 5*time.Second, "the credentials", func() bool { m = creds.FindStringSubmatch(first.Stdout()); return m != nil })
	first.stop(syscall.SIGTERM)

	second := startServer(t, env...)
	if second.Stdout() != "" || !strings.Contains(second.Stderr(), "tonepay account show") {
		t.Errorf("the second start printed %q and logged no hint:\n%s", second.Stdout(), second.Stderr())
	}
	// account show works beside a running server, and prints what serve did.
	show := exec.Command(binary, "account", "show", "--db", db)
	show.Env = append(os.Environ(), "TONEPAY_DB=", "TONEPAY_DATA_KEY=")
	out, err := show.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TONEPAY_ACCOUNT_SID="+m[1]+"\nTONEPAY_AUTH_TOKEN="+m[2]+"\n") {
		t.Errorf("account show: %v\n%s", err, out)
	}
	tw, _ := newTwilio(t, second.URL, m[1], m[2], m[1], nil)
	if _, err := tw.FetchAccount(m[1]); err != nil {
		t.Errorf("the printed credentials do not sign in: %v", err)
	}
}

func TestAccountShowErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		env     []string
		wantErr string
	}{
		{"no database", []string{"show", "--db", filepath.Join(dir, "none.db")}, nil, "no database at"},
		{"no verb", []string{"list"}, nil, "the only one is show"},
		{"postgres without key", []string{"show", "--db", "postgres://u:secretpw@127.0.0.1:1/x"}, nil, "TONEPAY_DATA_KEY is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return "" }
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"account"}, tt.args...), getenv, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "secretpw") {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("account show created %v", ents)
			}
		})
	}
}

// TestHelp: -h and --help on every command print its usage on stdout and
// succeed; a usage mistake is an error.
func TestHelp(t *testing.T) {
	tests := []struct {
		args    []string
		want    []string
		wantErr bool
	}{
		{[]string{"--help"}, []string{"tonepay serve", "tonepay account show", "tonepay version"}, false},
		{[]string{"serve", "--help"}, []string{"-addr", "TONEPAY_ADDR", "TONEPAY_ACCOUNT_SID", "TONEPAY_AUTH_TOKEN", "TONEPAY_DATA_KEY", "TONEPAY_PPROF_ADDR", "TONEPAY_SERVER"}, false},
		{[]string{"serve", "-h"}, []string{"Environment only"}, false},
		{[]string{"call", "--help"}, []string{"tonepay call create", "TONEPAY_SERVER"}, false},
		{[]string{"call", "press", "-h"}, []string{"tonepay call press"}, false},
		{[]string{"account", "-h"}, []string{"tonepay account show"}, false},
		{[]string{"account", "show", "--help"}, []string{"tonepay account show"}, false},
		{[]string{"demo", "-h"}, []string{"tonepay demo"}, false},
		{[]string{"processor", "--help"}, []string{"tonepay processor"}, false},
		{[]string{"bench", "-h"}, []string{"-json"}, false},
		{[]string{"version"}, []string{"tonepay ", "go1."}, false},
		{[]string{"version", "-h"}, []string{"tonepay version"}, false},
		{nil, nil, true},
		{[]string{"call"}, nil, true},
		{[]string{"serve", "--bogus"}, nil, true},
		{[]string{"demo", "now"}, nil, true},
		{[]string{"frobnicate"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, func(string) string { return "" }, &stdout, &stderr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v\n%s", err, tt.wantErr, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if !tt.wantErr && stderr.Len() > 0 {
				t.Errorf("help wrote to stderr: %s", stderr.String())
			}
		})
	}
	// The process's exit code, as a shell sees it.
	for args, code := range map[string]int{"call --help": 0, "serve --help": 0, "call": 2} {
		cmd := exec.Command(binary, strings.Fields(args)...)
		cmd.Run()
		if cmd.ProcessState.ExitCode() != code {
			t.Errorf("tonepay %s exits %d, want %d", args, cmd.ProcessState.ExitCode(), code)
		}
	}
}

func TestRootRedirectsToConsole(t *testing.T) {
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "root.db"), "TONEPAY_ACCOUNT_SID="+tonepay.NewSID("AC"), "TONEPAY_AUTH_TOKEN=roottoken1")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/console/" {
		t.Errorf("GET / = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, path := range []string{"/nothing", "/?x=1"} {
		method := http.MethodGet
		if path == "/?x=1" {
			method = http.MethodPost // only a browser's GET / is redirected
		}
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(string(b), `"code"`) {
			t.Errorf("%s %s = %d %s, want Twilio's JSON", method, path, res.StatusCode, b)
		}
	}
}

// TestServeWarnsOpenPolicy: serve with the default --callback-networks on an
// address others can reach logs once, at start, what that policy lets
// tenants reach and what to set instead; on loopback, or with a policy set,
// it says nothing.
func TestServeWarnsOpenPolicy(t *testing.T) {
	tests := []struct {
		name string
		addr string
		env  []string
		warn bool
	}{
		{"all interfaces, default policy", "0.0.0.0:0", nil, true},
		{"loopback, default policy", "127.0.0.1:0", nil, false},
		{"all interfaces, public", "0.0.0.0:0", []string{"TONEPAY_CALLBACK_NETWORKS=public"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"TONEPAY_DB=" + filepath.Join(t.TempDir(), "warn.db"), "TONEPAY_ACCOUNT_SID=" + tonepay.NewSID("AC"),
				"TONEPAY_AUTH_TOKEN=warntoken1", "TONEPAY_CALLBACK_NETWORKS="}, tt.env...)
			p := startProcess(t, []string{"serve", "--addr", tt.addr}, env...) // returns once it is listening: start-up is logged
			var warns []string
			for _, line := range strings.Split(p.Stderr(), "\n") {
				if strings.Contains(line, "level=WARN") && strings.Contains(line, "callback-networks") {
					warns = append(warns, line)
				}
			}
			switch {
			case !tt.warn && len(warns) > 0:
				t.Errorf("warned: %q", warns)
			case tt.warn && len(warns) != 1:
				t.Errorf("%d warnings, want one:\n%s", len(warns), p.Stderr())
			case tt.warn && (!strings.Contains(warns[0], "--callback-networks public") || !strings.Contains(warns[0], "private") ||
				!strings.Contains(warns[0], "loopback")):
				t.Errorf("the warning does not say what the default allows and what to set: %s", warns[0])
			}
		})
	}
}
