// Package calls is the call runtime: calls (outbound, inbound, a <Dial>'s
// legs), the TwiML each runs (steps of the voice engine in transactions,
// the app's requests after commit, timers and sweeps), the call's timeline,
// and the one door for a caller's keys (Press), whatever leg they come
// from. Payment sessions are payments' business: the runtime reaches them
// through Payments, the one bridge, inside its own transactions.
package calls

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/internal/wait"
	"github.com/tonepay/tonepay/voice"
)

var _ tonepay.CallService = (*Service)(nil)

// Payments is the one bridge from the call runtime to payment sessions
// (payments.Service implements it). Every method works inside the
// runtime's transaction (tx, w) and returns; none calls the runtime back.
// What a session tells its call (it ended, a <Pay>'s next question or its
// end) comes back as News in w, which the runtime applies before commit
// (Drain): so a key that ends a <Pay> whose TwiML then begins another is a
// loop over News in one transaction, not a recursion between services.
type Payments interface {
	// Open returns the call's open session, or nil when none is.
	Open(ctx context.Context, rd tonepay.Reader, callSid string) (*tonepay.Session, error)
	// Press gives keys (0-9, * and # only) to s and returns how many it
	// dropped (nothing being captured).
	Press(ctx context.Context, tx tonepay.Tx, w *txn.Work, s *tonepay.Session, keys string, now time.Time) (dropped int, err error)
	// StartVerb starts the session of the <Pay> v the call has begun, and
	// returns it with the first field to ask for; or, when Twilio would end
	// the <Pay> at once, no session and the fields of its end.
	StartVerb(ctx context.Context, tx tonepay.Tx, w *txn.Work, call *tonepay.Call, v *voice.Verb, now time.Time) (*tonepay.Session, *tonepay.PayAsk, url.Values, error)
	// Delay moves an open <Pay> session's wait for the first digit to after
	// its prompt, which ends at promptEnd.
	Delay(ctx context.Context, tx tonepay.Tx, s *tonepay.Session, promptEnd time.Time) error
	// HangUp ends the call's open session, if any: the caller hung up.
	HangUp(ctx context.Context, tx tonepay.Tx, w *txn.Work, callSid string, now time.Time) error
	// CancelVerb ends the call's <Pay> session, if one is open: the TwiML
	// left the <Pay>.
	CancelVerb(ctx context.Context, tx tonepay.Tx, w *txn.Work, callSid string, now time.Time) error
}

// Service implements tonepay.CallService: the call runtime of one process.
type Service struct {
	Tx     *txn.Runner // the store, the clock, the outbox; shared with payments
	Pay    Payments
	NewSID func(prefix string) string                 // injected ids
	Sleep  func(context.Context, time.Duration) error // the 'w' key; injected so tests need not wait
	Logger *slog.Logger
	// Hooks are told what happened, after commit, for metrics.
	Hooks Hooks

	// Voice runs calls' TwiML; Fetcher makes its requests. With no
	// Fetcher the runtime runs no TwiML and keeps no timelines: every call
	// holds until hung up (an API-only runtime, for tests). With one, the
	// call decides (tonepay.Call.RunsTwiML).
	Voice   voice.Engine
	Fetcher tonepay.Fetcher
	// AppError, if set, is told each error a call's app caused (the
	// document could not be fetched or run: a timeline entry of kind
	// error) after the commit that recorded it, with Twilio's code (0 if
	// none) and the URL as the call asked for it ("" for inline Twiml); serve
	// logs them. It runs on the runner's goroutine and must be quick.
	AppError func(callSid string, code int, url string)
	// Streamer opens the media streams of calls' <Start><Stream> and
	// <Connect><Stream> (stream.go); with none, no stream opens and a
	// <Connect><Stream> holds the call as a <Dial> does.
	Streamer tonepay.Streamer
	// Dialer places SIP calls' <Dial><Sip>s (sip.Server; dial.go); with
	// none, their far ends are simulated as on any call.
	Dialer tonepay.Dialer
	// LeaseTTL is how long a real leg's call stays vouched for by this
	// process without a renewal (tonepay.Call.LegLease; lease.go): the
	// process renews every third of it, and a call whose lease lapsed is
	// hung up by any process's sweeper. 0 is DefaultLeaseTTL.
	LeaseTTL time.Duration

	mu       sync.Mutex
	timers   map[string]*time.Timer // the calls waiting in this process (run.go)
	runCtx   context.Context        // the runner's requests; canceled by StopCalls
	stopRuns context.CancelFunc
	runs     sync.WaitGroup // timers firing, keys' workers
	// orphansAt is when SweepCalls next looks for orphan legs (run.go),
	// lapsedAt for lapsed leases (lease.go).
	orphansAt, lapsedAt time.Time
	leased              map[string]bool // the real legs' calls StartLeg made, until a renewal finds them ended (lease.go)

	doors        map[string]*queue       // the calls whose keys are being applied (door.go)
	watchers     map[string][]*watcher   // legs watching calls' capture state (capture.go)
	sessionCalls map[string]string       // session SID -> its call, for other processes' changes (capture.go)
	hearers      map[string][]*hearer    // legs listening to what calls say (listen.go)
	partials     map[string]*partialWait // Speak's waits for partial results, by call (speech.go)

	smu     sync.Mutex
	streams map[string]map[string]*liveStream // open media streams, by call and stream SID (stream.go)
}

// Hooks observe the runtime for metrics. Each is called after the commit
// that made it true, on the committing goroutine: it must be quick and must
// not block. No argument carries an account, call, session or card value.
type Hooks struct {
	// Keys is told how many keys a source (tonepay.KeySourceKeypad, ...)
	// delivered to calls, whether a listener took them or they were dropped.
	Keys func(source string, n int)
}

// New returns a runtime with random SIDs and instant speech, reaching
// sessions through pay and running its transactions through r, whose News
// it drains and whose commits it is told of.
func New(r *txn.Runner, pay Payments, log *slog.Logger) *Service {
	svc := &Service{Tx: r, Pay: pay, NewSID: tonepay.NewSID, Sleep: wait.Sleep, Logger: log, Voice: voice.Engine{Instant: true},
		timers: map[string]*time.Timer{}, doors: map[string]*queue{}, watchers: map[string][]*watcher{}, sessionCalls: map[string]string{},
		hearers: map[string][]*hearer{}, streams: map[string]map[string]*liveStream{}, leased: map[string]bool{}}
	svc.runCtx, svc.stopRuns = context.WithCancel(context.Background())
	r.SetDrain(svc.drain)
	r.OnCommit(svc.committed)
	return svc
}

func (svc *Service) now() time.Time { return svc.Tx.Now().UTC() }

// twiml reports whether this runtime runs call's TwiML: the call's rule, in
// a runtime that can fetch documents.
func (svc *Service) twiml(call *tonepay.Call) bool { return svc.Fetcher != nil && call.RunsTwiML() }

// timelines reports whether the runtime keeps calls' timelines: one that
// runs TwiML keeps every call's, whatever its leg.
func (svc *Service) timelines() bool { return svc.Fetcher != nil }

// commit runs fn in a transaction whose steps the caller settles itself.
func (svc *Service) commit(ctx context.Context, fn func(tonepay.Tx, *txn.Work) error) (*txn.Work, error) {
	return svc.Tx.Update(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		w.Settled = true
		return fn(tx, w)
	})
}

// committed acts on the runtime's part of a committed transaction: timers,
// the apps' errors, the legs watching capture states, and, for a
// transaction payments opened (a timeout, a connector's answer, an
// agent's request), the requests its steps asked for.
func (svc *Service) committed(w *txn.Work) {
	if len(w.Steps) > 0 {
		svc.armTimers(w.Steps)
	}
	for _, e := range w.Steps {
		svc.streamEffects(e)
	}
	svc.dialEffects(w)
	if svc.AppError != nil {
		for _, e := range w.Steps {
			for _, en := range e.Errs {
				svc.AppError(e.CallSid, en.Code, en.URL)
			}
		}
	}
	if len(w.Capture) > 0 {
		svc.notifyCapture(w.Capture)
	}
	if len(w.Steps) > 0 {
		svc.wakeListeners(w.Steps)
	}
	if !w.Settled {
		svc.settle(w.Steps)
	}
}

// FindCall implements tonepay.CallService.
func (svc *Service) FindCall(ctx context.Context, accountSid, sid string) (*tonepay.Call, error) {
	return tonepay.NewTenant(svc.Tx.Store, accountSid).FindCall(ctx, sid)
}

// FindCalls implements tonepay.CallService.
func (svc *Service) FindCalls(ctx context.Context, accountSid string, f tonepay.CallFilter) ([]*tonepay.Call, error) {
	return tonepay.NewTenant(svc.Tx.Store, accountSid).FindCalls(ctx, f)
}

// FindTimeline implements tonepay.CallService.
func (svc *Service) FindTimeline(ctx context.Context, accountSid, callSid string, afterSeq int64, limit int) ([]*tonepay.TimelineEntry, error) {
	return tonepay.NewTenant(svc.Tx.Store, accountSid).FindTimeline(ctx, callSid, afterSeq, limit)
}

// findLiveCall returns the account's call, or 20404, or 21220 naming op if
// it has ended.
func findLiveCall(ctx context.Context, rd tonepay.Reader, accountSid, callSid, op string) (*tonepay.Call, error) {
	c, err := tonepay.NewTenant(rd, accountSid).FindCall(ctx, callSid)
	if errors.Is(err, tonepay.ErrNotFound) {
		return nil, tonepay.Errorf(tonepay.CodeNotFound, "Call %s was not found", callSid)
	} else if err != nil {
		return nil, err
	}
	return c, c.InProgress(op)
}

// Operations a call that has ended refuses (21220 names the one tried).
const (
	opKeys   = "press keys"
	opHangUp = "hang up"
)
