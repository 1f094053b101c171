package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
)

var _ tonepay.Notifier = (*Dispatcher)(nil)

// Dispatcher delivers the outbox. Each callback is delivered at least once
// (a crash between the POST and its record means it is sent again, with the
// same I-Twilio-Idempotency-Token), and a session's callbacks in order: the
// store hands out only the oldest undelivered callback of each session.
type Dispatcher struct {
	Store   tonepay.Store
	Client  *http.Client                    // default: 15 s timeout, redirects not followed
	Now     func() time.Time                // injected clock; default time.Now
	Logger  *slog.Logger                    // default: discard
	Workers int                             // deliveries at once; default 16
	Lease   time.Duration                   // how long a claim keeps others off; default 30 s (> Client timeout)
	Backoff func(attempt int) time.Duration // wait after the nth failed attempt; default 1 s doubling to 10 min, with jitter
	GiveUp  time.Duration                   // stop retrying this long after the callback was created; default 24 h
	Poll    time.Duration                   // longest sleep between looks at the outbox; default 1 s

	once sync.Once
	wake chan struct{}
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		if d.Client == nil {
			d.Client = &http.Client{
				Timeout:       15 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
		}
		if d.Now == nil {
			d.Now = time.Now
		}
		if d.Logger == nil {
			d.Logger = slog.New(slog.DiscardHandler)
		}
		if d.Workers <= 0 {
			d.Workers = 16
		}
		if d.Lease <= 0 {
			d.Lease = 30 * time.Second
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
	})
}

// DefaultBackoff waits 1 s after the first failure, doubling up to 10 min,
// with up to 20% jitter so that a receiver coming back is not hit by every
// retry at once.
func DefaultBackoff(attempt int) time.Duration {
	d := 10 * time.Minute
	if attempt < 10 {
		d = min(d, time.Second<<(attempt-1))
	}
	return d + time.Duration(rand.Int64N(int64(d/5)+1))
}

// Notify implements tonepay.Notifier: it wakes Run without blocking.
func (d *Dispatcher) Notify() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers callbacks until ctx is done, then waits for deliveries in
// flight to finish and record their attempts, and returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	sem := make(chan struct{}, d.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	finished := make(chan struct{}, 1) // a delivery ended: the session's next callback may be due
	for {
		free := d.Workers - len(sem)
		var cbs []*tonepay.Callback
		var err error
		if free > 0 {
			cbs, err = d.Store.ClaimCallbacks(ctx, d.Now(), d.Lease, free)
		}
		if err != nil && ctx.Err() == nil {
			d.Logger.Error("claiming callbacks", "err", err)
		}
		for _, cb := range cbs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				d.deliver(cb)
				select {
				case finished <- struct{}{}:
				default:
				}
			})
		}
		if len(cbs) > 0 && len(cbs) == free {
			continue // there may be more due right now
		}
		wait := d.Poll
		if next, err := d.Store.NextCallbackAt(ctx); err == nil && !next.IsZero() {
			wait = min(wait, max(0, next.Sub(d.Now())))
		}
		if len(cbs) == 0 {
			// Due now yet nothing claimed: it fell due since the claim, or it
			// waits behind a callback another dispatcher holds. Look again
			// soon, without spinning.
			wait = max(wait, 5*time.Millisecond)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-d.wake:
		case <-finished:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// deliver makes one attempt at cb and records it. It does not use Run's
// context: an attempt under way at shutdown finishes and is recorded.
func (d *Dispatcher) deliver(cb *tonepay.Callback) {
	ctx := context.Background()
	start := d.Now()
	a := &tonepay.Attempt{CallbackID: cb.ID, N: cb.Attempts + 1, At: start}
	status, err := d.post(ctx, cb)
	a.Duration, a.StatusCode = d.Now().Sub(start), status

	now := d.Now()
	cb.Attempts++
	cb.DateUpdated = now
	log := d.Logger.With("callback", cb.ID, "session", cb.SessionSid, "host", host(cb.URL), "attempt", a.N)
	switch {
	case err == nil:
		cb.Status = tonepay.CallbackDelivered
		log.Debug("callback delivered", "status", status)
	case now.Sub(cb.DateCreated) >= d.GiveUp:
		a.Error = err.Error()
		cb.Status = tonepay.CallbackFailed
		log.Warn("callback failed for good", "err", a.Error)
	default:
		a.Error = err.Error()
		cb.NextAttemptAt = now.Add(d.Backoff(a.N))
		log.Debug("callback attempt failed", "err", a.Error, "retry_at", cb.NextAttemptAt)
	}
	if err := d.Store.RecordAttempt(ctx, cb, a); err != nil {
		// The lease runs out and the callback is tried again: at least once.
		d.Logger.Error("recording a callback attempt", "callback", cb.ID, "err", err)
	}
}

// post sends cb and returns the HTTP status, with an error unless it is 2xx.
// Errors never quote the form: it holds masked card data.
func (d *Dispatcher) post(ctx context.Context, cb *tonepay.Callback) (int, error) {
	acct, err := d.Store.FindAccount(ctx, cb.AccountSid)
	if err != nil {
		return 0, fmt.Errorf("finding the signing account: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, strings.NewReader(cb.Form.Encode()))
	if err != nil {
		return 0, errors.New("bad callback URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", Sign(acct.AuthToken, cb.URL, cb.Form))
	req.Header.Set("I-Twilio-Idempotency-Token", cb.Token)
	req.Header.Set("User-Agent", "TwilioProxy/1.1 (tonepay)")
	res, err := d.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is already in the record
		}
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("HTTP %d", res.StatusCode)
	}
	return res.StatusCode, nil
}

func host(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}
