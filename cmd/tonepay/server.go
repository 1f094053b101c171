package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/accounts"
	"github.com/tonepay/tonepay/calls"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/console"
	"github.com/tonepay/tonepay/events"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/mcp"
	"github.com/tonepay/tonepay/mediastream"
	"github.com/tonepay/tonepay/metrics"
	"github.com/tonepay/tonepay/payments"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/sip"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/twilioapi"
	"github.com/tonepay/tonepay/voice"
	"github.com/tonepay/tonepay/webhook"
)

// shutdownGrace is how long in-flight requests get to finish at shutdown.
const shutdownGrace = 15 * time.Second

// runServer runs a configured server until ctx is done. ready, if set, is
// told the server's base URL once it accepts requests. It is the whole life
// of `tonepay serve`: build (wire everything, start nothing), run (serve
// and the background loops), close (in the one shutdown order).
func runServer(ctx context.Context, cfg serveConfig, getenv func(string) string, stdout io.Writer, log *slog.Logger, ready func(baseURL string)) error {
	s, err := buildServer(ctx, cfg, getenv, stdout, log)
	if err != nil {
		return err
	}
	served := s.run()
	warnOpenPolicy(log, cfg, s.ln.Addr())
	log.Info("listening on http://" + s.ln.Addr().String())
	if ready != nil {
		ready("http://" + s.ln.Addr().String())
	}
	select {
	case err := <-served:
		s.close(false)
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	if err := s.close(true); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// linkAccounts resolves the [[twilio]] links' tonepay accounts (the main
// account when none is named), each of which must exist.
func linkAccounts(ctx context.Context, acc *accounts.Service, cfg serveConfig, links []twilioLink) ([]mediastream.Link, error) {
	var out []mediastream.Link
	for _, l := range links {
		account, err := fileAccount(ctx, acc, cfg, l.Account, l.where)
		if err != nil {
			return nil, err
		}
		out = append(out, mediastream.Link{TwilioAccount: l.AccountSid, AuthToken: l.AuthToken, Account: account})
	}
	return out, nil
}

// trunkAccounts resolves the [[sip.trunk]] entries' accounts as
// linkAccounts does.
func trunkAccounts(ctx context.Context, acc *accounts.Service, cfg serveConfig, trunks []sipTrunk) ([]sip.Trunk, error) {
	var out []sip.Trunk
	for _, t := range trunks {
		account, err := fileAccount(ctx, acc, cfg, t.Account, t.where)
		if err != nil {
			return nil, err
		}
		t.Trunk.Account = account
		out = append(out, t.Trunk)
	}
	return out, nil
}

// fileAccount is a config file entry's account: the one named, or the
// main account, which must exist.
func fileAccount(ctx context.Context, acc *accounts.Service, cfg serveConfig, account, where string) (string, error) {
	if account == "" {
		account = cfg.AccountSid
	}
	if account == "" {
		mains, err := acc.MainAccounts(ctx)
		if err != nil {
			return "", err
		}
		if len(mains) != 1 {
			return "", fmt.Errorf("%s: account is required: the store has %d main accounts", where, len(mains))
		}
		account = mains[0].Sid
	}
	if _, err := acc.Store.FindAccount(ctx, account); errors.Is(err, tonepay.ErrNotFound) {
		return "", fmt.Errorf("%s: account %s does not exist in the store", where, account)
	} else if err != nil {
		return "", err
	}
	return account, nil
}

// warnOpenPolicy says once, at start, what the default --callback-networks
// lets a tenant reach when others can reach the API (addr is not loopback):
// it refuses only link-local addresses and this process's own listeners,
// so a tenant's TwiML or callback URL may reach any other service on
// loopback or a private network (another process's /metrics or pprof, an
// admin page), which is what a laptop or CI run wants and a shared server
// does not.
func warnOpenPolicy(log *slog.Logger, cfg serveConfig, addr net.Addr) {
	if cfg.CallbackNetworks != "" {
		return
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return
	}
	log.Warn("--callback-networks is the default (all but link-local and tonepay's own listeners): tenants' TwiML and callback URLs can reach loopback and private networks, other services' /metrics and pprof included; on a server others use, set --callback-networks public (or your receivers' CIDRs)",
		"addr", addr.String())
}

// server is a built `tonepay serve`: every part wired, its listeners bound and
// its store open. run starts it; close stops it.
type server struct {
	log                    *slog.Logger
	ln, pprofLn, metricsLn net.Listener // pprofLn, metricsLn: nil when not asked for
	store                  tonepay.Store
	calls                  *calls.Service        // the call runtime
	streams                *mediastream.Receiver // real calls Twilio streams here
	sip                    *sip.Server           // SIP trunks' calls; nil with no --sip-addr
	payments               *payments.Service     // payment sessions
	dispatcher             *webhook.Dispatcher
	hub                    *events.Hub
	listener               tonepay.SessionListener // other processes' changes; nil with one process
	api                    *http.Server
	side                   []sideServer  // pprof and metrics, each on a listener of its own
	timelineRetention      time.Duration // calls.RunPruner's: an ended call's run and timeline go this long after its end
	retention              time.Duration // payments.RunPruner's: an ended session, its callbacks and attempts go this long after its end

	// Set by run.
	stopSweeper, stopDelivery context.CancelFunc
	single                    bool // the store has one process (SQLite): what is in flight in it is a dead process's
	sweeper, delivery         sync.WaitGroup
}

type sideServer struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

// buildServer wires a server from cfg. Everything that can fail without
// leaving a trace comes first: a first start that fails after creating the
// store would spend the credentials it prints once (the connectors, the
// listeners, the database's place). On an error, what it opened is closed.
func buildServer(ctx context.Context, cfg serveConfig, getenv func(string) string, stdout io.Writer, log *slog.Logger) (_ *server, err error) {
	s := &server{log: log, timelineRetention: cfg.TimelineRetention, retention: cfg.Retention}
	defer func() {
		if err != nil {
			s.close(false)
		}
	}()
	policy, err := webhook.ParsePolicy(cfg.CallbackNetworks)
	if err != nil {
		return nil, err
	}
	connectors := tonepay.Connectors{tonepay.DefaultConnector: sandbox.New()}
	var links []twilioLink
	var trunks []sipTrunk
	if cfg.Config != "" {
		fc, err := loadConfig(cfg.Config, getenv)
		if err != nil {
			return nil, err
		}
		connectors, links, trunks = fc.Connectors, fc.Twilio, fc.Trunks
	}
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("--addr: %w", err)
	}
	if addr := getenv("TONEPAY_PPROF_ADDR"); addr != "" {
		if s.pprofLn, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("TONEPAY_PPROF_ADDR: %w", err)
		}
	}
	if cfg.MetricsAddr != "" {
		if s.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
	}
	if err := checkDBPath(cfg.DB); err != nil {
		return nil, err
	}

	key, err := loadDataKey(cfg.DataKey, cfg.DB)
	if err != nil {
		return nil, err
	}
	box, err := seal.New(key)
	if err != nil {
		return nil, err
	}
	if s.store, err = openStore(ctx, cfg, box); err != nil {
		return nil, err
	}
	store := s.store
	if err := bootstrapAccount(ctx, store, cfg, stdout, log); err != nil {
		// Processes starting together on one database may race to create
		// the account; the loser finds it the second time.
		if err = bootstrapAccount(ctx, store, cfg, stdout, log); err != nil {
			return nil, err
		}
	}
	if st, ok := store.(*sqlite.Store); ok {
		// A SQLite file has one process: claims left in it are a dead
		// process's. (With PostgreSQL, other processes may hold them.)
		if err := st.ReleaseClaims(ctx); err != nil {
			return nil, err
		}
		s.single = true
	}

	// Callbacks may not go to tonepay's own listeners; the rest of the policy
	// is checked on the resolved address at connect time.
	policy.DenyListener(s.ln.Addr())
	var names []string
	for name, c := range connectors {
		log.Info("pay connector", "name", name, "mode", c.Capabilities().Mode)
		names = append(names, name)
	}
	live, _ := store.(metrics.Live)
	meter := metrics.New(metrics.Options{Live: live, Connectors: names, Logger: log})
	switch st := store.(type) {
	case *sqlite.Store:
		st.ObserveCommit = meter.Commit
	case *postgres.Store:
		st.ObserveCommit = meter.Commit
	}
	s.dispatcher = &webhook.Dispatcher{Store: store, Logger: log, Policy: policy, Observe: meter.CallbackAttempt}
	// The domain: the three services share one transaction runner, through
	// which the call runtime hears what sessions tell their calls.
	runner := txn.NewRunner(store, s.dispatcher)
	s.payments = payments.New(runner, box, connectors, log)
	s.payments.Hooks = payments.Hooks{Ended: meter.SessionEnded, Connector: meter.ConnectorCall}
	s.payments.Engine.FirstDigit = cfg.FirstDigit
	s.payments.Engine.Lease = cfg.ConnectorLease
	s.payments.Engine.Idle = cfg.SessionIdle
	s.payments.RequireHTTPS = cfg.RequireHTTPS
	s.calls = calls.New(runner, s.payments, log)
	s.calls.Hooks = calls.Hooks{Keys: meter.Keys}
	s.calls.LeaseTTL = cfg.LegLease
	s.dispatcher.Answered = s.calls.CallbackAnswered // webhooks and their answers on calls' timelines
	// Calls run their TwiML: requests to the apps under the callbacks' policy.
	fetcher := webhook.NewFetcher(store, policy, 0)
	s.calls.Fetcher = fetcher
	// Their media streams dial the apps under the same policy.
	s.calls.Streamer = &mediastream.Sender{Client: webhook.NewClient(policy, 0), Accounts: store, Logger: log}
	// A broken app (404, no answer, a document that does not run) is a WARN
	// per host, rate-limited as failing callbacks are.
	s.calls.AppError = (&webhook.AppErrorLog{Logger: log}).Report
	if cfg.VoiceTime == "real" {
		s.calls.Voice = voice.Engine{SpeechRate: voice.RealSpeechRate}
	}
	acc := accounts.New(store)
	// Real calls Twilio streams here (DESIGN §11): every upgrade is checked
	// against the links; with none, each is refused (403).
	streamLinks, err := linkAccounts(ctx, acc, cfg, links)
	if err != nil {
		return nil, err
	}
	s.streams = mediastream.NewReceiver(s.calls, streamLinks, log)
	if len(streamLinks) > 0 { // real legs: what their callers hear (no warning about espeak-ng without them)
		s.streams.Audio = newAudio(fetcher, log)
	}
	for _, l := range streamLinks {
		log.Info("media streams: Twilio account linked", "twilio_account", l.TwilioAccount, "account", l.Account)
	}
	// SIP trunks' calls (DESIGN §11): off unless --sip-addr is set.
	sipTrunks, err := trunkAccounts(ctx, acc, cfg, trunks)
	if err != nil {
		return nil, err
	}
	if cfg.SIPAddr != "" {
		s.sip = &sip.Server{Legs: s.calls, Trunks: sipTrunks, Audio: newAudio(fetcher, log), Logger: log, RTPPorts: cfg.RTPPorts, RTPTimeout: cfg.RTPTimeout}
		s.calls.Dialer = s.sip // a SIP call's <Dial><Sip> is a real INVITE
		if err := s.sip.Listen(cfg.SIPAddr); err != nil {
			return nil, fmt.Errorf("--sip-addr: %w", err)
		}
		log.Info("SIP: listening", "addr", s.sip.Addr().String(), "trunks", len(sipTrunks), "rtp_ports", cfg.RTPPorts)
	} else if len(sipTrunks) > 0 {
		log.Warn("[[sip.trunk]] declared but SIP is off: set --sip-addr (TONEPAY_SIP_ADDR)")
	}
	s.hub = events.New()
	if l, shared := store.(tonepay.SessionListener); shared {
		s.listener = l
	} else {
		s.payments.Publish = s.hub.Publish // one process: its own changes are all there are
	}
	// Closed as shutdown begins: event streams end, so that Shutdown does not
	// wait its whole grace period for them.
	closing := make(chan struct{})
	s.payments.Subscribe = s.hub.Subscribe // the console's stream: every process's changes, with a SessionListener
	svcs := tonepay.Services{Authenticator: acc, AccountService: acc, APIKeyService: acc, NumberService: acc,
		CallService: s.calls, SessionService: s.payments}
	api := twilioapi.NewServer(log, svcs, twilioapi.Options{RateLimit: cfg.RateLimit, AuthFailLimit: cfg.AuthFailLimit, Closing: closing})
	root := http.NewServeMux()
	root.Handle("/console/", http.StripPrefix("/console", console.Handler()))
	root.Handle("GET /console", http.RedirectHandler("/console/", http.StatusFound))
	// A browser pointed at the server finds the console; everything else
	// under / is the API, with its Twilio JSON errors.
	root.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	root.Handle("/", api)
	root.Handle("GET /_tonepay/streams", s.streams)
	// MCP for AI agents (DESIGN §12), behind the API's own authentication,
	// failed-authentication and per-account limits; the request log above
	// records its method, path and status only, never a body.
	root.Handle("/mcp", closingStreams(closing, api.Guard(mcp.Serve(svcs, mcp.Options{}))))
	if s.metricsLn == nil {
		root.Handle("GET /metrics", meter.Handler())
	}
	s.api = &http.Server{
		Handler:           meter.Wrap(logRequests(log, twilioapi.Errors(root))),
		ReadHeaderTimeout: min(10*time.Second, cfg.ReadTimeout), // headers are part of the request
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.api.RegisterOnShutdown(func() { close(closing) })

	if s.pprofLn != nil {
		// Profiling for operators, on a listener of its own: never on the
		// API's, and never a callback's destination.
		policy.DenyListener(s.pprofLn.Addr())
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace) // the scheduler's view: a stalled relay
		s.side = append(s.side, sideServer{"pprof", &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, s.pprofLn})
		log.Info("pprof on http://" + s.pprofLn.Addr().String() + "/debug/pprof/")
	}
	if s.metricsLn != nil {
		// Metrics for the operator's scraper, on a listener of its own: no
		// credentials, so never on the API's, and never a callback's
		// destination.
		policy.DenyListener(s.metricsLn.Addr())
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", meter.Handler())
		s.side = append(s.side, sideServer{"metrics", &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, s.metricsLn})
		log.Info("metrics on http://" + s.metricsLn.Addr().String() + "/metrics")
	}
	return s, nil
}

// run starts the side listeners, the background loops and the API server.
// The channel receives the API server's error if it stops serving by itself.
func (s *server) run() <-chan error {
	for _, side := range s.side {
		go func() {
			if err := side.srv.Serve(side.ln); !errors.Is(err, http.ErrServerClosed) {
				s.log.Error(side.name+" listener stopped", "err", err)
			}
		}()
	}
	dctx, stopDelivery := context.WithCancel(context.Background())
	s.stopDelivery = stopDelivery
	s.delivery.Go(func() {
		if err := s.dispatcher.Run(dctx); err != nil {
			s.log.Error("callback dispatcher stopped", "err", err)
		}
	})
	s.delivery.Go(func() { s.payments.RunPruner(dctx, s.retention) })
	s.delivery.Go(func() { s.calls.RunPruner(dctx, s.timelineRetention) })
	if s.listener != nil {
		// Every process hears every change: callbacks queued by another go out
		// at once, and consoles connected here see sessions served there.
		s.delivery.Go(func() {
			s.listener.Listen(dctx, func(e tonepay.SessionChanged) {
				s.dispatcher.Notify()
				s.hub.Publish(e)
				s.calls.SessionChanged(e) // a SIP leg here keeps the DTMF from the agent at once
			})
		})
	}
	// Timeouts and connector retries are persisted deadlines: after a restart
	// the sweeper picks up where the last process left off.
	sweepCtx, stopSweeper := context.WithCancel(context.Background())
	s.stopSweeper = stopSweeper
	s.sweeper.Go(func() {
		if s.single {
			// Calls' fetches in flight are a dead process's: repeat them now
			// rather than after their deadline.
			if _, err := s.calls.SweepCalls(sweepCtx, true); err != nil && sweepCtx.Err() == nil { // not a stop right after start
				s.log.Error("resuming calls", "err", err)
			}
		}
		s.sweeper.Go(func() { s.payments.RunSweeper(sweepCtx, 100*time.Millisecond) })
		s.calls.RunSweeper(sweepCtx, 100*time.Millisecond)
	})

	served := make(chan error, 1)
	go func() { served <- s.api.Serve(s.ln) }()
	return served
}

// close stops the server; this is the one place that states the shutdown
// order, and each step waits for the one before:
//
//  1. the calls' timers and TwiML requests stop (a run keeps its fetch in
//     flight, which the next start repeats), so that requests waiting for a
//     call to settle answer at once instead of waiting for a slow app;
//  2. the API stops accepting and finishes in-flight requests within the
//     grace period (graceful only; event streams end at once, via closing);
//     then the sweeper stops, so nothing new is queued;
//  3. connector calls in flight record their answer (payments.Wait);
//  4. the dispatcher, the answer pruner and the listener stop: in-flight
//     deliveries, including what 2 and 3 queued, record their attempts;
//  5. the pprof and metrics listeners close (metrics reads the store);
//  6. the store closes.
//
// It is safe on a server that was built only in part or never run. The
// error is the graceful shutdown's.
func (s *server) close(graceful bool) error {
	var err error
	if s.streams != nil {
		s.streams.Close() // their calls end (completed), while the runtime still runs
	}
	if s.sip != nil {
		s.sip.Close() // SIP calls end (BYE, completed), while the runtime still runs
	}
	if s.calls != nil {
		s.calls.StopCalls()
	}
	if graceful {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if e := s.api.Shutdown(sctx); e != nil {
			err = fmt.Errorf("shutdown: %w", e)
		}
	}
	if s.streams != nil {
		s.streams.Close() // what the last upgrades began
	}
	if s.stopSweeper != nil {
		s.stopSweeper()
		s.sweeper.Wait()
	}
	if s.calls != nil {
		s.calls.StopCalls() // again: what the last requests and sweeps armed
		s.payments.Wait()
	}
	if s.stopDelivery != nil {
		s.stopDelivery()
		s.delivery.Wait()
	}
	for _, side := range s.side {
		side.srv.Close()
	}
	if s.store != nil {
		if e := s.store.Close(); e != nil {
			s.log.Error("closing the store", "err", e)
		}
	}
	// Bound but maybe never served (a start-up that failed); Serve closes
	// its own, and closing again is harmless.
	for _, l := range []net.Listener{s.ln, s.pprofLn, s.metricsLn} {
		if l != nil {
			l.Close()
		}
	}
	return err
}

// closingStreams ends next's requests once closing is closed: MCP's event
// streams (a GET on /mcp) last as long as their client, and Shutdown would
// otherwise wait its whole grace period for them.
func closingStreams(closing <-chan struct{}, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
