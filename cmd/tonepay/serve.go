package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"github.com/tonepay/tonepay/sip"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/accounts"
	"github.com/tonepay/tonepay/calls"
	"github.com/tonepay/tonepay/capture"
	"github.com/tonepay/tonepay/cmd/tonepay/internal/cliflag"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/twilioapi"
	"github.com/tonepay/tonepay/webhook"
)

// serveConfig is everything `tonepay serve` can be told. Each flag has an
// environment twin; a flag given on the command line wins.
type serveConfig struct {
	Addr       string
	DB         string
	Config     string
	PublicURL  string
	LogLevel   string
	RateLimit  float64
	FirstDigit time.Duration // how long a capture waits for its first digit
	// ConnectorLease is how long one connector attempt may take before the
	// sweeper (of any process) tries again with the same transaction id.
	ConnectorLease time.Duration
	AccountSid     string
	AuthToken      string
	DataKey        string // base64; empty means a key file next to the database

	// DESIGN §8, operating safely.
	SessionIdle      time.Duration // an open session with nothing captured ends after this
	EraseWithin      time.Duration // ended sessions' sealed values leave every store file within this
	CallbackNetworks string        // where callbacks may go; "" is the default policy
	SIPAddr          string        // SIP trunks' address (UDP and TCP); "" is no SIP (DESIGN §11)
	RTPPorts         string        // the SIP calls' local RTP ports, "lo-hi"
	RTPTimeout       time.Duration // no RTP for this long ends a SIP call (tests shorten it; 0 is sip.DefaultRTPTimeout)
	MetricsAddr      string        // a listener of its own for /metrics; "" serves it on Addr
	AuthFailLimit    int           // failed authentications per minute per client address
	ReadTimeout      time.Duration // a whole request, body included
	WriteTimeout     time.Duration // an answer (event streams excepted)
	IdleTimeout      time.Duration // a keep-alive connection between requests
	// TimelineRetention: an ended call's run and timeline are deleted this
	// long after its end (the call itself stays).
	TimelineRetention time.Duration
	// Retention: an ended payment session, its callbacks and their
	// attempts are deleted this long after it ended (payments.RunPruner);
	// until then the session is fetchable, as Twilio's resources are.
	Retention time.Duration
	// LegLease: a real call (stream, SIP) whose process stopped renewing
	// it for this long is hung up by the sweeper of any process on the
	// store (calls.Service.LeaseTTL). Environment only: a crash test's knob.
	LegLease time.Duration

	// DESIGN §9: simulated (Say, Play and Pause take no time) or real.
	VoiceTime    string
	RequireHTTPS bool // DESIGN §10: <Pay> action and statusCallback must be https
}

// defaultRetention keeps an ended session 30 days: an app that looks a
// payment up after the call (reconciling, a dispute, a support ticket) finds
// it for a month, while the store holds a month of sessions, not all of them.
const defaultRetention = 30 * 24 * time.Hour

func defaultServeConfig() serveConfig {
	return serveConfig{Addr: "127.0.0.1:8080", DB: "tonepay.db", LogLevel: "info", FirstDigit: capture.DefaultEngine.FirstDigit,
		ConnectorLease: capture.DefaultEngine.Lease, SessionIdle: capture.DefaultEngine.Idle, EraseWithin: 30 * time.Second,
		AuthFailLimit: twilioapi.DefaultAuthFailLimit, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		TimelineRetention: 24 * time.Hour, Retention: defaultRetention, VoiceTime: "simulated", RTPPorts: sip.DefaultRTPPorts, LegLease: calls.DefaultLeaseTTL}
}

// parseServe reads flags over environment over defaults.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	c := defaultServeConfig()
	env := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	env("TONEPAY_ADDR", &c.Addr)
	env("TONEPAY_DB", &c.DB)
	env("TONEPAY_CONFIG", &c.Config)
	env("TONEPAY_PUBLIC_URL", &c.PublicURL)
	env("TONEPAY_LOG_LEVEL", &c.LogLevel)
	env("TONEPAY_ACCOUNT_SID", &c.AccountSid)
	env("TONEPAY_AUTH_TOKEN", &c.AuthToken)
	env("TONEPAY_DATA_KEY", &c.DataKey)
	rate := getenv("TONEPAY_RATE_LIMIT")
	if rate == "" {
		rate = "0"
	}
	var err error
	if c.RateLimit, err = strconv.ParseFloat(rate, 64); err != nil {
		return c, fmt.Errorf("TONEPAY_RATE_LIMIT: %q is not a number", rate)
	}

	env("TONEPAY_CALLBACK_NETWORKS", &c.CallbackNetworks)
	env("TONEPAY_SIP_ADDR", &c.SIPAddr)
	env("TONEPAY_RTP_PORTS", &c.RTPPorts)
	env("TONEPAY_METRICS_ADDR", &c.MetricsAddr)
	env("TONEPAY_VOICE_TIME", &c.VoiceTime)
	if v := getenv("TONEPAY_REQUIRE_HTTPS_WEBHOOKS"); v != "" {
		if c.RequireHTTPS, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("TONEPAY_REQUIRE_HTTPS_WEBHOOKS: %q is not true or false", v)
		}
	}
	if v := getenv("TONEPAY_AUTH_FAIL_LIMIT"); v != "" {
		if c.AuthFailLimit, err = strconv.Atoi(v); err != nil {
			return c, fmt.Errorf("TONEPAY_AUTH_FAIL_LIMIT: %q is not a whole number", v)
		}
	}
	for name, dst := range map[string]*time.Duration{
		"TONEPAY_CONNECTOR_LEASE":     &c.ConnectorLease,
		"TONEPAY_FIRST_DIGIT_TIMEOUT": &c.FirstDigit,
		"TONEPAY_SESSION_IDLE":        &c.SessionIdle,
		"TONEPAY_ERASE_WITHIN":        &c.EraseWithin,
		"TONEPAY_READ_TIMEOUT":        &c.ReadTimeout,
		"TONEPAY_WRITE_TIMEOUT":       &c.WriteTimeout,
		"TONEPAY_IDLE_TIMEOUT":        &c.IdleTimeout,
		"TONEPAY_TIMELINE_RETENTION":  &c.TimelineRetention,
		"TONEPAY_RETENTION":           &c.Retention,
		"TONEPAY_LEG_LEASE":           &c.LegLease,
	} {
		if v := getenv(name); v != "" {
			if *dst, err = time.ParseDuration(v); err != nil {
				return c, fmt.Errorf("%s: %q is not a duration such as 30s", name, v)
			}
		}
	}

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address; port 0 picks a free port (TONEPAY_ADDR)")
	fs.StringVar(&c.DB, "db", c.DB, "SQLite file path, or a postgres:// URL (TONEPAY_DB)")
	fs.StringVar(&c.Config, "config", c.Config, "pay connector config file (TONEPAY_CONFIG)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "base URL of this server as clients see it (TONEPAY_PUBLIC_URL)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (TONEPAY_LOG_LEVEL)")
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "requests per second per account, 0 for no limit (TONEPAY_RATE_LIMIT)")
	fs.DurationVar(&c.ConnectorLease, "connector-lease", c.ConnectorLease, "how long a connector call may take before it is retried with the same transaction id (TONEPAY_CONNECTOR_LEASE)")
	fs.DurationVar(&c.FirstDigit, "first-digit-timeout", c.FirstDigit, "how long a capture waits for the caller's first digit (TONEPAY_FIRST_DIGIT_TIMEOUT)")
	fs.DurationVar(&c.SessionIdle, "session-idle", c.SessionIdle, "an open payment session with nothing being captured ends after this (TONEPAY_SESSION_IDLE)")
	fs.DurationVar(&c.EraseWithin, "erase-within", c.EraseWithin, "an ended session's sealed card data leaves every store file within this, at most 60s (TONEPAY_ERASE_WITHIN)")
	fs.StringVar(&c.SIPAddr, "sip-addr", c.SIPAddr, "answer SIP trunks' calls ([[sip.trunk]] in --config) on this address, UDP and TCP; default none: SIP is off (TONEPAY_SIP_ADDR)")
	fs.StringVar(&c.RTPPorts, "rtp-ports", c.RTPPorts, "local UDP ports of SIP calls' audio, lo-hi (TONEPAY_RTP_PORTS)")
	fs.StringVar(&c.CallbackNetworks, "callback-networks", c.CallbackNetworks, "where callbacks may go: CIDRs or public, private, loopback, comma-separated; default everything but link-local and this process's own listeners, so loopback and private networks (for testing; set public in production) (TONEPAY_CALLBACK_NETWORKS)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve /metrics on a listener of its own instead of --addr (TONEPAY_METRICS_ADDR)")
	fs.IntVar(&c.AuthFailLimit, "auth-fail-limit", c.AuthFailLimit, "failed authentications per minute per client address before 429 (TONEPAY_AUTH_FAIL_LIMIT)")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "a whole request, body included, must arrive within this (TONEPAY_READ_TIMEOUT)")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "an answer must be written within this; event streams excepted (TONEPAY_WRITE_TIMEOUT)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "a keep-alive connection is closed after this long without a request, at most 120s (TONEPAY_IDLE_TIMEOUT)")
	fs.DurationVar(&c.TimelineRetention, "timeline-retention", c.TimelineRetention, "an ended call's timeline (and saved TwiML state) is deleted this long after the call ended, at least 1m; the call itself stays listed (TONEPAY_TIMELINE_RETENTION)")
	fs.DurationVar(&c.Retention, "retention", c.Retention, "an ended payment session, its callbacks and their attempts are deleted this long after it ended (one still retrying a callback waits for it), at least 1h; until then the API still shows it (TONEPAY_RETENTION)")
	fs.StringVar(&c.VoiceTime, "voice-time", c.VoiceTime, "simulated: a call's speech, pauses and a Dial's simulated ringing take no time (a closing Pause still holds the call); real: they take as long as a caller would hear them (TONEPAY_VOICE_TIME)")
	fs.BoolVar(&c.RequireHTTPS, "require-https-webhooks", c.RequireHTTPS, "refuse a <Pay> whose action or statusCallback is not https, as Twilio does (64016) (TONEPAY_REQUIRE_HTTPS_WEBHOOKS)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: tonepay serve [flags]\n\nFlags (each has the environment twin named in brackets; a flag wins):\n")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), serveEnvUsage)
	}
	if err := cliflag.Parse(fs, args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return c, c.validate()
}

// serveEnvUsage lists the settings that have no flag: credentials and keys
// stay out of the process list, and TONEPAY_SERVER is the clients'.
const serveEnvUsage = `
Environment only:
  TONEPAY_ACCOUNT_SID, TONEPAY_AUTH_TOKEN
        the main account's credentials, both or neither; without them the first
        start creates an account and prints them ("tonepay account show" prints
        them again)
  TONEPAY_DATA_KEY
        32 bytes, base64 (openssl rand -base64 32): seals card data and auth
        tokens at rest; default a PATH.key file next to the SQLite database;
        required with PostgreSQL, the same for every process
  TONEPAY_PPROF_ADDR
        serve Go's profiler on this address, a listener of its own (off when unset)
  TONEPAY_SERVER
        not read by serve: the base URL "tonepay call" talks to
        (default http://127.0.0.1:8080)
`

// validate checks the configuration without touching the outside world.
func (c serveConfig) validate() error {
	switch {
	case c.Addr == "":
		return errors.New("--addr is empty")
	case c.DB == "":
		return errors.New("--db is empty")
	case isPostgres(c.DB) && c.DataKey == "":
		// Every process must seal and open captured values with the same key.
		return errors.New("TONEPAY_DATA_KEY is required with PostgreSQL: give every process the same key (openssl rand -base64 32)")
	case c.ConnectorLease < 5*time.Second:
		return errors.New("--connector-lease must be at least 5s")
	case c.RateLimit < 0:
		return errors.New("--rate-limit must not be negative")
	case c.FirstDigit < 100*time.Millisecond:
		return errors.New("--first-digit-timeout must be at least 100ms")
	case c.SessionIdle < time.Second:
		return errors.New("--session-idle must be at least 1s")
	case c.EraseWithin < time.Second || c.EraseWithin > 60*time.Second:
		return errors.New("--erase-within must be from 1s to 60s")
	case c.VoiceTime != "simulated" && c.VoiceTime != "real":
		return errors.New("--voice-time must be simulated or real")
	case c.AuthFailLimit < 1:
		return errors.New("--auth-fail-limit must be at least 1")
	case c.ReadTimeout < time.Second || c.ReadTimeout > 60*time.Second:
		return errors.New("--read-timeout must be from 1s to 60s")
	case c.WriteTimeout < time.Second:
		return errors.New("--write-timeout must be at least 1s")
	case c.IdleTimeout < time.Second || c.IdleTimeout > 120*time.Second:
		return errors.New("--idle-timeout must be from 1s to 120s")
	case c.TimelineRetention < time.Minute:
		return errors.New("--timeline-retention must be at least 1m (ended calls are pruned every minute)")
	case c.Retention < time.Hour:
		// Shorter would pull a payment from under an app still asking about it.
		return errors.New("--retention must be at least 1h")
	case c.LegLease < time.Second:
		// Renewed every third of it: shorter would make the renewals the store's load.
		return errors.New("TONEPAY_LEG_LEASE must be at least 1s")
	case (c.AccountSid == "") != (c.AuthToken == ""):
		return errors.New("TONEPAY_ACCOUNT_SID and TONEPAY_AUTH_TOKEN go together: set both or neither")
	case c.AccountSid != "" && !tonepay.IsSID(c.AccountSid, tonepay.PrefixAccount):
		return errors.New("TONEPAY_ACCOUNT_SID must be AC followed by 32 hex digits, lowercase")
	case c.AuthToken != "" && !isAlnum(c.AuthToken):
		// twilio-go refuses to send credentials that are not alphanumeric.
		return errors.New("TONEPAY_AUTH_TOKEN must be letters and digits only")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.DataKey != "" {
		if _, err := decodeDataKey(c.DataKey); err != nil {
			return err
		}
	}
	if _, err := webhook.ParsePolicy(c.CallbackNetworks); err != nil {
		return err
	}
	if _, _, err := sip.ParsePorts(c.RTPPorts); err != nil {
		return fmt.Errorf("--rtp-ports: %v", err)
	}
	return nil
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

// serve runs the server until ctx is cancelled, then shuts down gracefully:
// stop accepting, finish in-flight requests and deliveries, close the store.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	level, _ := parseLevel(cfg.LogLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return runServer(ctx, cfg, getenv, stdout, log, nil)
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// openStore opens PostgreSQL for a postgres:// URL, else the SQLite file.
// Either seals auth tokens at rest with box, the data key's: a database
// file, dump or backup alone hands out no account's signing key.
func openStore(ctx context.Context, cfg serveConfig, box *seal.Box) (tonepay.Store, error) {
	if isPostgres(cfg.DB) {
		s, err := postgres.OpenWith(ctx, cfg.DB, postgres.Options{EraseWithin: cfg.EraseWithin, Tokens: box})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err) // not the URL: it may hold a password
		}
		return s, nil
	}
	s, err := sqlite.OpenWith(cfg.DB, sqlite.Options{EraseWithin: cfg.EraseWithin})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cfg.DB, err)
	}
	if err := s.SealTokens(ctx, box); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", cfg.DB, err)
	}
	return s, nil
}

// bootstrapAccount makes sure there is a main account to sign in with: the one
// named by TONEPAY_ACCOUNT_SID/TONEPAY_AUTH_TOKEN, or on an empty store a new
// one whose credentials are printed once.
func bootstrapAccount(ctx context.Context, store tonepay.Store, cfg serveConfig, stdout io.Writer, log *slog.Logger) error {
	m, err := accounts.New(store).EnsureMain(ctx, cfg.AccountSid, cfg.AuthToken)
	switch {
	case err != nil && cfg.AccountSid != "" && errors.Is(err, accounts.ErrSubaccount):
		return fmt.Errorf("TONEPAY_ACCOUNT_SID %s is a subaccount", cfg.AccountSid)
	case err != nil:
		return err
	case m.TokenSet:
		log.Info("auth token of the main account set from TONEPAY_AUTH_TOKEN", "account", m.Account.Sid)
	case m.Found && cfg.AccountSid == "":
		// The credentials were printed when the store was created; the
		// operator who lost them gets them back from the store itself.
		log.Info("the store has its main account; `tonepay account show` with the same --db (TONEPAY_DB) prints its credentials")
	case m.Created && cfg.AccountSid == "":
		// Printed once, on stdout and not in the log: the token is a credential.
		fmt.Fprintf(stdout, "Created a main account (\"tonepay account show\" prints it again):\n"+
			"  TONEPAY_ACCOUNT_SID=%s\n  TONEPAY_AUTH_TOKEN=%s\n", m.Account.Sid, m.Account.AuthToken.Reveal())
	}
	return nil
}

// checkDBPath refuses a SQLite file whose directory does not exist, before
// anything is created: a typo in the path must not make up a directory tree.
func checkDBPath(db string) error {
	if isPostgres(db) || db == ":memory:" {
		return nil // PostgreSQL is checked by connecting, which creates nothing until it succeeds
	}
	dir := filepath.Dir(db)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("--db %s: the directory %s does not exist; create it first", db, dir)
	case err != nil:
		return fmt.Errorf("--db %s: %w", db, err)
	case !fi.IsDir():
		return fmt.Errorf("--db %s: %s is not a directory", db, dir)
	}
	if fi, err := os.Stat(db); err == nil && fi.IsDir() {
		return fmt.Errorf("--db %s is a directory, not a database file", db)
	}
	return nil
}

// loadDataKey returns the key that encrypts captured payment data at rest:
// TONEPAY_DATA_KEY, or a key file next to the database, created on first use
// with mode 0600.
func loadDataKey(b64, dbPath string) ([]byte, error) {
	if b64 != "" {
		return decodeDataKey(b64)
	}
	path := dbPath + ".key"
	if dbPath == ":memory:" {
		return newDataKey(), nil // nothing outlives the process, the key need not either
	}
	if k, err := readKeyFile(path); !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	key := newDataKey() // in the database's directory, which checkDBPath found: never a tree made up
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create data key file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, err
	}
	return key, f.Sync()
}

// readKeyFile reads the data key file at path.
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := decodeDataKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func newDataKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func decodeDataKey(b64 string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) != 32 {
		return nil, errors.New("TONEPAY_DATA_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)")
	}
	return k, nil
}

// logRequests logs each request's method, path, status and duration at debug
// level. Never bodies or headers: they carry credentials and payment data.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

// Unwrap lets http.ResponseController reach Flush for event streams.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
