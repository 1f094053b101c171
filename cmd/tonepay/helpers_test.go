package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/tonepay/tonepay/internal/e2e"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// binary is tonepay built once (by e2e.Build) for the tests that run it as
// a process: the real server, killable with SIGKILL.
var binary string

func TestMain(m *testing.M) {
	bin, cleanup, err := e2e.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// The end-to-end harness is internal/e2e. What follows gives its helpers
// the short names this package's tests were written with; a new test may as
// well call e2e directly.

// proc is a running `tonepay serve` (or another command that listens).
type proc struct{ *e2e.Proc }

// kill ends the process at once, as a crash would.
func (p *proc) kill() { p.Kill() }

// stop asks the process to shut down and returns its exit code.
func (p *proc) stop(sig os.Signal) int { return p.Stop(sig) }

// startServer runs `tonepay serve` on a free port with env added to the
// environment, and waits until it answers its health check.
func startServer(t *testing.T, env ...string) *proc {
	t.Helper()
	return &proc{e2e.StartServer(t, env...)}
}

// startProcess runs tonepay with args and waits for its "listening on" line.
func startProcess(t *testing.T, args []string, env ...string) *proc {
	t.Helper()
	return &proc{e2e.Start(t, args, env...)}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	e2e.WaitFor(t, d, what, ok)
}

// receiver is a status callback endpoint that checks every signature with
// twilio-go's own validator (e2e.Receiver).
type receiver struct {
	*e2e.Receiver
	srv *httptest.Server
}

type delivery = e2e.Delivery

func newReceiver(t *testing.T, authToken string) *receiver {
	rc := e2e.NewReceiver(t, authToken)
	return &receiver{rc, rc.Server}
}

func (rc *receiver) setStatus(s int)                 { rc.SetStatus(s) }
func (rc *receiver) deliveries() []delivery          { return rc.Deliveries() }
func (rc *receiver) forSession(pk string) []delivery { return rc.ForSession(pk) }

// voiceApp is a real TwiML application over HTTP that checks every
// request's X-Twilio-Signature with twilio-go's RequestValidator (e2e.App).
type voiceApp struct {
	*e2e.App
	srv *httptest.Server
}

type appRequest = e2e.AppRequest

func newVoiceApp(t *testing.T, token string, pages map[string]string) *voiceApp {
	a := e2e.NewApp(t, token, pages)
	return &voiceApp{a, a.Server}
}

func (a *voiceApp) url(path string) string { return a.Page(path) }
func (a *voiceApp) requests() []appRequest { return a.Requests() }
func (a *voiceApp) checkSigned()           { a.CheckSigned() }

// spec validates response bodies against Twilio's OpenAPI description of
// API v2010 (e2e.Spec).
type spec = e2e.Spec

func loadSpec(t *testing.T) *spec { t.Helper(); return e2e.LoadSpec(t) }

// newTwilio returns twilio-go's v2010 API service pointed at baseURL, signing
// in as user/pass (an account or an API key) on accountSid (e2e.NewTwilio).
func newTwilio(t *testing.T, baseURL, user, pass, accountSid string, sp *spec) (*api.ApiService, *e2e.Rewrite) {
	t.Helper()
	return e2e.NewTwilio(t, baseURL, user, pass, accountSid, sp)
}

// parseAccount reads the credentials serve prints for a new main account.
func parseAccount(out string) (sid, token string) { return e2e.ParseAccount(out) }
