package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/callerscript"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/cmd/tonepay/internal/cliflag"
)

const testUsage = `Usage: tonepay test [--server URL] [--junit FILE] [--json] [--parallel N] [--run REGEXP] FILES...

Runs caller scripts: YAML files of tests, each of which places one call to a
voice app and plays the caller (expect what is heard, press keys, pay with a
test card, ...). See README "Test your IVR in CI".

Without --server it starts a server of its own, in this process, on a
temporary database and a free loopback port (the app may be on loopback),
and leaves nothing behind. Its main account is TONEPAY_ACCOUNT_SID and
TONEPAY_AUTH_TOKEN when they are set (so that an app that checks
X-Twilio-Signature can be given the token), else a new one. With --server it
uses that server and those two variables, as "tonepay call" does.

  --server URL     a running tonepay server
  --junit FILE     also write JUnit XML (one testcase per test) to FILE
  --json           write the results as JSON instead of text
  --parallel N     run N tests at once (default 1)
  --run REGEXP     run only the tests whose name matches (none: exit 2)

Exit status: 0 when every test passed, 1 when one failed, 2 when a file is
invalid (each problem is printed as FILE:LINE: what is wrong) or the
command is misused.
`

// testCmd is `tonepay test`: caller scripts, run as tests (DESIGN §13).
// What it returns is printed: redacted, as every output of a run is (a
// --run pattern, a server's answer could quote a card number).
func testCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	defer func() {
		if err != nil {
			err = redacted{err}
		}
	}()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, testUsage) }
	server := fs.String("server", "", "")
	junit := fs.String("junit", "", "")
	asJSON := fs.Bool("json", false, "")
	parallel := fs.Int("parallel", 1, "")
	runRE := fs.String("run", "", "")
	if err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return cliflag.Mistake("test", errors.New("tonepay test needs at least one caller script"))
	}
	if *parallel < 1 || *parallel > 256 {
		return cliflag.Mistake("test", fmt.Errorf("--parallel must be from 1 to 256, not %d", *parallel))
	}
	var filter *regexp.Regexp
	if *runRE != "" {
		var err error
		if filter, err = regexp.Compile(*runRE); err != nil {
			return cliflag.Mistake("test", fmt.Errorf("--run: %w", err))
		}
	}

	// Every file is read and checked before any call: a mistake costs no run.
	var files []*callerscript.File
	var invalid []error
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			invalid = append(invalid, &callerscript.Error{File: path, Msg: errors.Unwrap(err).Error()})
			continue
		}
		f, err := callerscript.Parse(path, data, getenv)
		if err != nil {
			invalid = append(invalid, err)
			continue
		}
		files = append(files, f)
	}
	runner := &callerscript.Runner{Parallel: *parallel, Filter: filter}
	tests := runner.Tests(files)
	if len(invalid) == 0 {
		if err := callerscript.CheckNumbers(tests); err != nil {
			invalid = append(invalid, err)
		}
	}
	if len(invalid) > 0 {
		for _, err := range invalid {
			fmt.Fprintln(stderr, callerscript.Redact(err.Error()))
		}
		return &exitError{2, fmt.Errorf("invalid caller script")}
	}
	if len(tests) == 0 {
		// Not go test's exit 0 ("no tests to run"): in CI a --run that
		// selects nothing is a typo, and a green run that ran nothing
		// would hide it.
		total := 0
		for _, f := range files {
			total += len(f.Tests)
		}
		return &exitError{2, fmt.Errorf("no test's name matches --run %q (of %s): nothing to run", *runRE, callerscript.Count(total, "test"))}
	}

	var c *client.Client
	var token string
	if *server != "" {
		var err error
		token = getenv("TONEPAY_AUTH_TOKEN")
		if c, err = client.New(*server, getenv("TONEPAY_ACCOUNT_SID"), token); err != nil {
			return &exitError{2, err}
		}
		if err := c.Health(ctx); err != nil {
			return &exitError{2, unreachable(*server, err, testFix)}
		}
	} else {
		es, err := startEmbedded(ctx, getenv)
		if err != nil {
			return &exitError{2, fmt.Errorf("starting a server: %w", err)}
		}
		defer es.close()
		c, token = es.client, es.token
	}
	runner.Client, runner.AuthToken = c, tonepay.NewSecret(token)

	start := time.Now()
	if !*asJSON {
		runner.Done = func(r *callerscript.Result) { callerscript.Text(stdout, r) }
	}
	results := runner.Run(ctx, files)
	took := time.Since(start)
	if *asJSON {
		if err := callerscript.WriteJSON(stdout, results, took); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdout, callerscript.Summary(results, took))
	}
	if *junit != "" {
		if err := writeJUnit(*junit, results, took); err != nil {
			return &exitError{2, err}
		}
	}
	failed := 0
	for _, r := range results {
		if !r.Passed {
			failed++
		}
	}
	if failed > 0 {
		return &exitError{1, fmt.Errorf("%d of %s failed", failed, callerscript.Count(len(results), "test"))}
	}
	return nil
}

// redacted is an error whose text is callerscript.Redact'ed; what it wraps
// (an exit status, flag.ErrHelp) is still found by errors.As and errors.Is.
type redacted struct{ err error }

func (e redacted) Error() string { return callerscript.Redact(e.err.Error()) }
func (e redacted) Unwrap() error { return e.err }

func writeJUnit(path string, results []*callerscript.Result, took time.Duration) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := callerscript.WriteJUnit(f, results, took); err != nil {
		f.Close()
		return fmt.Errorf("--junit: %w", err)
	}
	return f.Close()
}

// embedded is the server `tonepay test` runs for itself: built as `serve`
// builds one, in this process, on a temporary SQLite store and a free
// loopback port, with its main account made for the run.
type embedded struct {
	srv    *server
	dir    string
	client *client.Client
	token  string
	once   sync.Once
}

func startEmbedded(ctx context.Context, getenv func(string) string) (*embedded, error) {
	dir, err := os.MkdirTemp("", "tonepay-test")
	if err != nil {
		return nil, err
	}
	cfg := defaultServeConfig()
	cfg.Addr, cfg.DB = "127.0.0.1:0", filepath.Join(dir, "test.db")
	// The app checks signatures with the token it was given: the run's
	// account is the one the environment names, if it names one.
	cfg.AccountSid, cfg.AuthToken = getenv("TONEPAY_ACCOUNT_SID"), getenv("TONEPAY_AUTH_TOKEN")
	if cfg.AccountSid == "" {
		cfg.AccountSid = tonepay.NewSID(tonepay.PrefixAccount)
	}
	if cfg.AuthToken == "" {
		cfg.AuthToken = tonepay.RandomHex(16)
	}
	cfg.DataKey = base64.StdEncoding.EncodeToString(newDataKey()) // no key file: nothing outlives the run
	// Errors only: a test's failure shows its call's timeline, which says
	// what the app did; the server's own log would only repeat it.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := buildServer(ctx, cfg, func(string) string { return "" }, io.Discard, log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	srv.run()
	c, err := client.New("http://"+srv.ln.Addr().String(), cfg.AccountSid, cfg.AuthToken)
	if err != nil {
		srv.close(false)
		os.RemoveAll(dir)
		return nil, err
	}
	return &embedded{srv: srv, dir: dir, client: c, token: cfg.AuthToken}, nil
}

func (e *embedded) close() {
	e.once.Do(func() {
		e.srv.close(true)
		os.RemoveAll(e.dir)
	})
}
