package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/wait"
)

var _ tonepay.Courier = (*Dispatcher)(nil)

// Attempt outcomes, as Observe is told them.
const (
	OutcomeDelivered = "delivered"  // a 2xx answer
	OutcomeHTTPError = "http_error" // any other answer
	OutcomeNoAnswer  = "no_answer"  // no connection, timeout, reset
	OutcomeRefused   = "refused"    // the Policy forbids the destination
	OutcomeBackedOff = "backed_off" // not attempted: its host is backed off
)

// userAgent is what receivers see. Twilio's own is "TwilioProxy/1.1"; some
// receivers check for that prefix.
const userAgent = "TwilioProxy/1.1 (tonepay)"

// maxDrain bounds how much of a receiver's answer is read: the body is
// discarded, and is read at all only so that the connection can be reused.
const maxDrain = 64 << 10

// Dispatcher delivers the outbox. Each callback is delivered at least once
// (a crash between the POST and its record means it is sent again, with the
// same I-Twilio-Idempotency-Token), and a session's callbacks in order: the
// store hands out only the oldest undelivered callback of each session.
//
// Callbacks reach it two ways. Committed is told what each commit of this
// process queued, and sends at once those the store kept claimed for it: the
// common case, with no claim transaction. Run's passes over the outbox claim
// the rest: retries, callbacks queued behind a pending one, and those of
// processes that died.
//
// One receiver cannot hold up another's callbacks: each destination
// (host:port) has at most PerHost deliveries under way, and a callback
// waiting for a busy destination holds none of the Workers. A destination
// that fails HostFailures times in a row is backed off as a whole: its
// callbacks are not attempted until the backoff ends, and each one met
// meanwhile is recorded once as a failed attempt that says so, due again when
// the backoff ends. A success resets it. A callback that finds its host's
// slots busy waits for one, within limits (how many wait, how much of its
// claim is left); beyond them it is put off for about as long as the host's
// queue takes to drain, its claim ended, so that a later claim retries it
// soon, still in its session's order.
//
// Set the fields before the first call to Notify or Run; zero values get the
// defaults below.
type Dispatcher struct {
	Store   tonepay.Store
	Client  *http.Client                    // default: NewClient(Policy, 15 s); one set here is used as is
	Policy  *Policy                         // where the default Client may connect; default DefaultPolicy()
	Now     func() time.Time                // injected clock; default time.Now
	Logger  *slog.Logger                    // default: discard
	Workers int                             // deliveries at once; default 64
	PerHost int                             // deliveries at once to one host:port; default 16
	Claim   time.Duration                   // how long a claim keeps others off; default 30 s (> 2 × Client timeout)
	Backoff func(attempt int) time.Duration // wait after the nth failed attempt; default DefaultBackoff
	GiveUp  time.Duration                   // stop retrying this long after the callback was created; default 24 h
	Poll    time.Duration                   // longest sleep between looks at the outbox; default 1 s
	// HostFailures is how many failures in a row (no answer, 5xx or 429)
	// back a host off as a whole; default 5.
	HostFailures int
	// HostBackoff is how long a host is backed off the nth time in a row;
	// default DefaultBackoff.
	HostBackoff func(n int) time.Duration
	// LogEvery is the least time between two lines of one kind (first
	// failure, backoff, giving up) about one host; the lines held back are
	// counted in the next one. Default 1 min: a dead receiver cannot flood
	// the log.
	LogEvery time.Duration
	// Observe, if set, is told each attempt's outcome (one of the Outcome
	// constants), how long the receiver took (0 when nothing was sent) and
	// how long after its creation the callback was then: for metrics. It
	// runs on the delivering goroutine and must not block.
	Observe func(outcome string, took, age time.Duration)
	// Answered, if set, is told each attempt once it is on record (the
	// call timeline shows webhooks and their answers), on the delivering
	// goroutine: it must be quick.
	Answered func(cb *tonepay.Callback, a *tonepay.Attempt)

	once     sync.Once
	wake     chan struct{}
	finished chan struct{}  // a delivery ended: its session's next callback may be claimable
	sem      chan struct{}  // one token per delivery under way
	inflight sync.WaitGroup // deliveries under way, claimed or handed over
	retries  schedule       // when this process's failed callbacks fall due again
	// ready counts the deliveries taken (claimed or handed over) and not
	// waiting for a busy host: the workers they will need. A claim leaves
	// room for them only, so that callbacks stuck behind a busy host never
	// keep another host's callbacks from being claimed.
	ready atomic.Int64
	hosts hosts
	// quit is closed when Run returns: callbacks waiting for a busy host stop
	// waiting (they have tried nothing), so that shutdown waits only for
	// attempts under way.
	quit     chan struct{}
	quitOnce sync.Once
	logged   logLimit
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake, d.finished = make(chan struct{}, 1), make(chan struct{}, 1)
		d.quit = make(chan struct{})
		if d.Workers <= 0 {
			d.Workers = 64
		}
		if d.PerHost <= 0 {
			d.PerHost = 16
		}
		if d.Client == nil {
			// Most callbacks go to a few receivers: keep a connection per
			// slot open to each instead of the default two.
			d.Client = newClient(d.Policy, 15*time.Second, d.PerHost)
		}
		if d.Now == nil {
			d.Now = time.Now
		}
		if d.Logger == nil {
			d.Logger = slog.New(slog.DiscardHandler)
		}
		if d.Claim <= 0 {
			d.Claim = 30 * time.Second
		}
		if d.Backoff == nil {
			d.Backoff = DefaultBackoff
		}
		if d.GiveUp <= 0 {
			d.GiveUp = 24 * time.Hour
		}
		if d.Poll <= 0 {
			d.Poll = time.Second
		}
		if d.HostFailures <= 0 {
			d.HostFailures = 5
		}
		if d.HostBackoff == nil {
			d.HostBackoff = DefaultBackoff
		}
		if d.LogEvery <= 0 {
			d.LogEvery = time.Minute
		}
		d.sem = make(chan struct{}, d.Workers)
	})
}

// DefaultBackoff waits about 1 s after the first failure, doubling up to
// 10 min. Each wait is cut by up to 20% at random, so that retries to a
// receiver coming back are spread out, and the cap holds.
func DefaultBackoff(attempt int) time.Duration {
	d := 10 * time.Minute
	if attempt < 1 {
		attempt = 1
	}
	if attempt < 10 {
		d = min(d, time.Second<<(attempt-1))
	}
	return d - time.Duration(rand.Int64N(int64(d/5)+1))
}

// HandOver implements tonepay.Courier: a callback handed over is claimed
// like one Run claims.
func (d *Dispatcher) HandOver() time.Duration {
	d.init()
	return d.Claim
}

// Committed implements tonepay.Courier. The callbacks the store kept claimed
// for this process go out at once; for any other, Run is woken to claim it.
func (d *Dispatcher) Committed(cbs []*tonepay.Callback) {
	d.init()
	var claimed []*tonepay.Callback
	for _, cb := range cbs {
		if !cb.ClaimedUntil.IsZero() {
			claimed = append(claimed, cb)
		}
	}
	if len(claimed) < len(cbs) {
		d.Notify()
	}
	d.deliverChains(claimed)
}

// deliverChains sends claimed callbacks: each session's one after another,
// on a worker of their own; a chain stops at its first callback not
// delivered (the store then releases the rest, or their claims end, and
// Run's claims take over in order). Deliveries wait for a free worker, never
// the caller.
func (d *Dispatcher) deliverChains(cbs []*tonepay.Callback) {
	for len(cbs) > 0 {
		// Split off the first callback's session, keeping ID order.
		sid := cbs[0].Chain
		var chain, rest []*tonepay.Callback
		for _, cb := range cbs {
			if cb.Chain == sid {
				chain = append(chain, cb)
			} else {
				rest = append(rest, cb)
			}
		}
		cbs = rest
		d.ready.Add(1)
		d.inflight.Go(func() {
			defer d.finish()
			for _, cb := range chain {
				delivered, recorded := d.attempt(cb)
				// The next callback goes out only once this one's delivery
				// is on record: were the process to die between the two, the
				// restarted outbox would send this one again after the next,
				// and the receiver would see them out of order. The wait
				// holds no worker and no host slot.
				if !delivered || !<-recorded {
					return
				}
			}
		})
	}
}

// finish ends a delivery handed over or claimed, and wakes Run, which
// may now claim more.
func (d *Dispatcher) finish() {
	d.ready.Add(-1)
	d.wakeRun()
}

func (d *Dispatcher) wakeRun() {
	select {
	case d.finished <- struct{}{}:
	default:
	}
}

// attempt takes cb through its host's limits and, if they let it, delivers
// it; it reports whether cb was delivered and, if so, a channel that says
// whether the delivery was then recorded. A callback is not attempted while
// its host is backed off (that is recorded), nor when its host's slots are
// busy and too many callbacks already wait for them, or it waited until too
// little of its claim was left: then it is deferred (see putOff), not left
// claimed until its claim ends.
func (d *Dispatcher) attempt(cb *tonepay.Callback) (bool, <-chan bool) {
	h := d.hosts.get(hostKey(cb.URL), d.PerHost)
	defer func() { d.hosts.put(h, d.Now(), d.GiveUp) }()
	if until, n := h.backedOff(d.Now()); !until.IsZero() {
		d.skip(cb, h, until, n)
		return false, nil
	}
	if !h.tryAcquire() {
		// Half the claim is the most it may wait: the attempt then still
		// has its full Client timeout before the claim ends.
		wait := d.claimEnd(cb).Add(-d.Claim / 2).Sub(d.Now())
		if wait <= 0 {
			d.putOff(cb, h, "claim ran low waiting for the host")
			return false, nil
		}
		d.ready.Add(-1) // its room goes to other hosts' callbacks meanwhile
		d.wakeRun()
		ok := h.wait(wait, d.quit)
		d.ready.Add(1)
		if !ok {
			select {
			case <-d.quit: // shutdown: left to the next claim (see Run)
			default:
				d.putOff(cb, h, "host busy")
			}
			return false, nil
		}
	}
	defer h.release()
	// The host may have been backed off while this one waited.
	if until, n := h.backedOff(d.Now()); !until.IsZero() {
		d.skip(cb, h, until, n)
		return false, nil
	}
	d.sem <- struct{}{}
	defer func() { <-d.sem }()
	return d.deliver(cb, h)
}

// deferMin is the least a callback not attempted for a busy host is put off.
const deferMin = time.Second

// putOff ends the claim on cb, which was not attempted because its host was
// busy, and makes it due again once the host's queue has likely drained
// (at least deferMin, at most a claim, cut by up to 20% at random so that
// the deferred spread out): a later claim retries it soon, still first of
// its session, and the rest of a chain handed over with it are released to
// the claims behind it. Nothing was tried, so nothing is recorded; should the
// store fail, the claim ends as before.
func (d *Dispatcher) putOff(cb *tonepay.Callback, h *host, why string) {
	wait := min(max(h.drain(), deferMin), d.Claim)
	wait -= time.Duration(rand.Int64N(int64(wait/5) + 1))
	until := d.Now().Add(wait)
	log := d.Logger.With("callback", cb.ID, "session", cb.Chain, "host", h.key)
	if err := d.Store.DeferCallback(context.Background(), cb.ID, until); err != nil {
		log.Error("deferring a callback", "err", err)
		return
	}
	log.Debug("callback deferred", "why", why, "retry_at", until)
	cb.NextAttemptAt, cb.ClaimedUntil = until, time.Time{}
	d.retries.add(until)
}

// claimEnd is when cb's claim ends.
func (d *Dispatcher) claimEnd(cb *tonepay.Callback) time.Time {
	if cb.ClaimedUntil.IsZero() {
		return d.Now().Add(d.Claim)
	}
	return cb.ClaimedUntil
}

// Notify wakes Run without blocking: for callbacks another process queued
// (its commits reach this one as tonepay.SessionChanged, through a
// SessionListener).
func (d *Dispatcher) Notify() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default: // a wake-up is already pending; one is enough
	}
}

// Run delivers callbacks until ctx is done, then waits for deliveries in
// flight to finish and record their attempts, and returns nil. Callbacks
// still waiting for a busy host then are left to the next claim (the next
// process's, once their claim ends): they have tried nothing.
//
// Between passes over the outbox it sleeps until Notify, a delivery of its own
// finishing (the session's next callback is then eligible), the earliest
// pending callback falling due, or Poll, whichever comes first: the poll finds
// callbacks written by other processes and claims that ran out. A failing
// store is logged and retried with a growing pause, never in a tight loop.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	defer d.inflight.Wait()
	defer d.quitOnce.Do(func() { close(d.quit) })
	failures := 0 // consecutive store errors
	for {
		next, err := d.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			failures++
			pause := storeRetry(failures)
			d.Logger.Error("reading the callback outbox", "err", err, "retry_in", pause)
			// Only the clock or shutdown ends this pause: wake-ups keep.
			if wait.Sleep(ctx, pause) != nil {
				return nil
			}
			continue
		}
		failures = 0
		if next <= 0 {
			continue
		}
		timer := time.NewTimer(next)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-d.wake:
		case <-d.finished:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// pass claims what is due, up to the free workers, starts delivering it, and
// says how long Run may sleep before the next pass.
func (d *Dispatcher) pass(ctx context.Context) (time.Duration, error) {
	free := d.Workers - int(d.ready.Load())
	if free <= 0 {
		return d.Poll, nil // a delivery finishing wakes Run
	}
	now := d.Now()
	cbs, err := d.Store.ClaimCallbacks(ctx, now, d.Claim, free)
	if err != nil {
		return 0, err
	}
	for _, cb := range cbs {
		d.ready.Add(1)
		d.inflight.Go(func() {
			defer d.finish()
			d.attempt(cb)
		})
	}
	if len(cbs) == free {
		return 0, nil // more may be due right now
	}
	next, err := d.Store.NextCallbackAt(ctx)
	if err != nil {
		return 0, err
	}
	wait := d.Poll
	// A pending callback due at the claim yet not claimed waits behind an
	// earlier callback of its session that is claimed: when the claim is
	// ours, the delivery finishing wakes Run; when it is another dispatcher's,
	// the poll finds it. Such a callback makes NextCallbackAt useless (it is
	// in the past), so the retries scheduled here are tracked too.
	if next.After(now) {
		wait = min(wait, next.Sub(d.Now()))
	}
	if t := d.retries.next(now); !t.IsZero() {
		wait = min(wait, t.Sub(d.Now()))
	}
	return wait, nil
}

// schedule holds the times at which callbacks this process failed to deliver
// are due again.
type schedule struct {
	mu sync.Mutex
	at []time.Time
}

func (s *schedule) add(t time.Time) {
	s.mu.Lock()
	s.at = append(s.at, t)
	s.mu.Unlock()
}

// next forgets the times not after now (the claim at now has seen those
// callbacks) and returns the earliest left, or the zero time.
func (s *schedule) next(now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first time.Time
	keep := s.at[:0]
	for _, t := range s.at {
		if t.After(now) {
			keep = append(keep, t)
			if first.IsZero() || t.Before(first) {
				first = t
			}
		}
	}
	s.at = keep
	return first
}

// storeRetry is the pause after the nth store error in a row: 200 ms,
// doubling up to 30 s.
func storeRetry(n int) time.Duration {
	if n > 8 {
		return 30 * time.Second
	}
	return min(30*time.Second, 200*time.Millisecond<<(n-1))
}

// sleep waits for d or ctx, and reports whether ctx is still live.

// minClaim is the least claim left at which an attempt still starts; with
// less, the callback is put off to a claim of its own.
const minClaim = time.Second

// deliver makes one attempt at cb, has it recorded, and reports whether cb
// was delivered, with a channel that says whether the record committed. It does not use Run's context: an attempt under way at shutdown
// finishes and is recorded. It is bounded by the claim instead, so that no
// other dispatcher can claim the callback while this attempt may still reach
// the receiver (that would break the session's order).
func (d *Dispatcher) deliver(cb *tonepay.Callback, h *host) (bool, <-chan bool) {
	start := d.Now()
	left := d.claimEnd(cb).Sub(start)
	if left < minClaim {
		d.putOff(cb, h, "claim ran low")
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), left)
	defer cancel()
	a := &tonepay.Attempt{CallbackID: cb.ID, N: cb.Attempts + 1, At: start}
	status, down, err := d.post(ctx, cb)
	now := d.Now()
	a.Duration, a.StatusCode = now.Sub(start), status
	if d.Observe != nil {
		d.Observe(outcome(status, err), a.Duration, now.Sub(cb.DateCreated))
	}
	resume, tripped := h.result(start, now, down, d.HostFailures, d.HostBackoff)

	cb.Attempts++
	cb.DateUpdated = now
	// Logs name the callback and its host, never its form (it holds masked
	// card data) nor the rest of its URL (its query may hold the tenant's
	// secrets; its credentials always do).
	// What an operator must see (a first failure, a backoff, giving up) is
	// logged at WARN, at most once per LogEvery per host and kind.
	log := d.Logger.With("callback", cb.ID, "session", cb.Chain, "host", h.key, "attempt", a.N)
	if tripped {
		d.warn(log, "backed off", h.key, now, "callback host backed off after failing repeatedly", "until", resume)
	}
	switch {
	case err == nil:
		cb.Status = tonepay.CallbackDelivered
		log.Debug("callback delivered", "status", status)
	case now.Sub(cb.DateCreated) > d.GiveUp:
		a.Error = err.Error()
		cb.Status = tonepay.CallbackFailed
		d.warn(log, "gave up", h.key, now, "callback failed for good", "status", status, "err", a.Error, "created", cb.DateCreated)
	default:
		a.Error = err.Error()
		// Not before the host's backoff ends: it would only be skipped.
		cb.NextAttemptAt = maxTime(now.Add(d.Backoff(a.N)), resume)
		if a.N == 1 {
			d.warn(log, "failed", h.key, now, "callback failed; retrying until it is delivered or "+d.GiveUp.String()+" old",
				"status", status, "err", a.Error, "retry_at", cb.NextAttemptAt)
		}
		log.Debug("callback attempt failed", "status", status, "err", a.Error, "retry_at", cb.NextAttemptAt)
	}
	// The record waits for a commit (an fsync): the worker does not.
	recorded := make(chan bool, 1)
	d.inflight.Go(func() { recorded <- d.record(cb, a) })
	return cb.Status == tonepay.CallbackDelivered, recorded
}

// skip records that cb was not attempted because its host is backed off
// until until: one failed attempt, with no request made, due again when the
// backoff ends. It costs one record per callback per backoff, never a loop.
func (d *Dispatcher) skip(cb *tonepay.Callback, h *host, until time.Time, n int) {
	now := d.Now()
	a := &tonepay.Attempt{CallbackID: cb.ID, N: cb.Attempts + 1, At: now,
		Error: fmt.Sprintf("not attempted: %s is backed off until %s after failing repeatedly (backoff %d in a row)",
			h.key, until.UTC().Format("2006-01-02T15:04:05.000Z"), n)}
	cb.Attempts++
	cb.DateUpdated = now
	if d.Observe != nil {
		d.Observe(OutcomeBackedOff, 0, now.Sub(cb.DateCreated))
	}
	if now.Sub(cb.DateCreated) > d.GiveUp {
		cb.Status = tonepay.CallbackFailed
		d.warn(d.Logger.With("callback", cb.ID, "session", cb.Chain, "host", h.key), "gave up", h.key, now,
			"callback failed for good", "err", a.Error, "created", cb.DateCreated)
	} else {
		cb.NextAttemptAt = until
	}
	d.inflight.Go(func() { d.record(cb, a) })
}

// warn logs msg unless a line of this kind about host was logged less than
// LogEvery ago; the first line after such a pause says how many were held
// back. Attributes name the callback and its host only (see deliver).
func (d *Dispatcher) warn(log *slog.Logger, kind, host string, now time.Time, msg string, args ...any) {
	d.logged.warn(log, kind+" "+host, now, d.LogEvery, msg, args...)
}

// logLimit remembers, per key, when a line was last logged and how many
// have been held back since. The Dispatcher's lines about failing callbacks
// and AppErrorLog's about failing apps both go through one.
type logLimit struct {
	mu sync.Mutex
	m  map[string]*logSlot
}

type logSlot struct {
	last time.Time
	held int
}

func (l *logLimit) allow(key string, now time.Time, every time.Duration) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*logSlot{}
	}
	s := l.m[key]
	if s == nil {
		if len(l.m) >= 4096 { // many hosts failing: forget the quiet ones
			for k, o := range l.m {
				if now.Sub(o.last) >= every {
					delete(l.m, k)
				}
			}
		}
		l.m[key] = &logSlot{last: now}
		return true, 0
	}
	if now.Sub(s.last) < every {
		s.held++
		return false, 0
	}
	held := s.held
	s.last, s.held = now, 0
	return true, held
}

// warn logs msg at WARN unless a line with this key was logged less than
// every ago; the first line after such a pause says how many were held back
// (similar_not_logged).
func (l *logLimit) warn(log *slog.Logger, key string, now time.Time, every time.Duration, msg string, args ...any) {
	ok, held := l.allow(key, now, every)
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "similar_not_logged", held)
	}
	log.Warn(msg, args...)
}

// outcome names what post's answer was.
func outcome(status int, err error) string {
	var refused *RefusedError
	switch {
	case err == nil:
		return OutcomeDelivered
	case status != 0:
		return OutcomeHTTPError
	case errors.As(err, &refused):
		return OutcomeRefused
	}
	return OutcomeNoAnswer
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// record saves an attempt, then wakes Run: what the attempt changed (the
// session's next callback, a retry time) is now in the store.
func (d *Dispatcher) record(cb *tonepay.Callback, a *tonepay.Attempt) bool {
	defer d.wakeRun()
	if err := d.Store.RecordAttempt(context.Background(), cb, a); err != nil {
		// The claim runs out and the callback is tried again: at least once.
		d.Logger.Error("recording a callback attempt", "callback", cb.ID, "err", err)
		return false
	}
	if cb.Status == tonepay.CallbackPending {
		d.retries.add(cb.NextAttemptAt)
	}
	if d.Answered != nil {
		d.Answered(cb, a)
	}
	return true
}

// post sends cb (a GET carries the form in its query: see newRequest) and returns the HTTP status (0 without an answer), whether
// the failure says the host itself is down (no answer, 5xx, 429), and an
// error unless it is 2xx. Errors never quote the form, the URL or an
// address the tenant did not write (see describe).
func (d *Dispatcher) post(ctx context.Context, cb *tonepay.Callback) (int, bool, error) {
	// Looked up on every attempt: an account's token can change, and the
	// receiver checks against the current one.
	acct, err := d.Store.FindAccount(ctx, cb.AccountSid)
	if err != nil {
		return 0, false, fmt.Errorf("finding the signing account: %w", err)
	}
	// The URL's connection overrides shorten the attempt (ct, rt, tt), within
	// the Client's timeout; its retries stay the outbox's (see Overrides).
	// Ignored ones are not told: a callback has no timeline of its own.
	o, _ := ParseOverrides(cb.URL)
	o = o.Within(d.Client.Timeout)
	ctx, cancel := context.WithTimeout(ctx, o.Total)
	defer cancel()
	a := startAttempt(ctx, o)
	defer a.end()
	req, err := newRequest(a.ctx, callbackMethod(cb.Method), cb.URL, cb.Form, acct.AuthToken, cb.Token)
	if err != nil {
		return 0, false, errors.New("bad callback URL")
	}
	res, err := d.Client.Do(req)
	if err != nil {
		var refused *RefusedError
		switch {
		case errors.As(err, &refused):
			return 0, false, refused
		case a.readTimedOut():
			return 0, true, errReadTimeout
		case connectTimedOut(err):
			return 0, true, errors.New("connection timed out")
		}
		return 0, true, errors.New(describe(err))
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		down := res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests
		return res.StatusCode, down, fmt.Errorf("HTTP %d", res.StatusCode)
	}
	return res.StatusCode, false, nil
}

// SignedURL is the URL that X-Twilio-Signature covers: as the receiver sees
// it, which is as configured without credentials (Twilio removes user:pass@
// before signing) and without the fragment (never sent; Twilio neither sends
// nor signs it). The port is kept as written, as Twilio's validators accept
// both forms.
func SignedURL(raw string) string {
	u := tonepay.RedactURL(raw)
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u = u[:i]
	}
	return u
}

// describe says in a few fixed words why a request got no answer. The
// tenant's Callbacks view shows it: the text of Go's errors would show the
// addresses a hostname resolved to and the resolver's, and tell apart more
// states of an internal host than a tenant needs to know.
func describe(err error) string {
	var dns *net.DNSError
	var ne net.Error
	var cert *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "host not found"
	case errors.As(err, &dns):
		return "host name lookup failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.As(err, &cert):
		return "TLS certificate not accepted"
	case errors.As(err, &rec):
		return "TLS handshake failed (not a TLS server?)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without an answer"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	}
	return "connection failed"
}
