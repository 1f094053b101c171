package calls

import (
	"context"
	"slices"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

// Real legs' leases. A real leg's call (a media stream, a SIP call) lives in
// the process that carries its socket or dialog: a crash (kill -9, a machine
// that dies) ends no call, and a restart cannot tell a dead process's calls
// from the calls of processes sharing the store. So each call carries a
// lease (tonepay.Call.LegLease), written by StartLeg and renewed by its
// process every third of LeaseTTL while the call is up; a sweeper (any
// process's) hangs up a call whose lease has lapsed, as if its caller had
// left. A process renews only the calls it carries and never ends those,
// so processes sharing a PostgreSQL store leave each other's live calls
// alone; their clocks must agree within a few seconds (NTP), as leases are
// times.

// DefaultLeaseTTL is LeaseTTL's default: a dead process's calls end 20 to
// 35 s after it died (a renewal every 10 s, a sweep every 5 s).
const DefaultLeaseTTL = 30 * time.Second

// lapsedEvery spaces the sweeps for lapsed leases (a shorter LeaseTTL
// shortens it): a crash is rare, so the 100 ms sweeper need not look each
// time.
const lapsedEvery = 5 * time.Second

func (svc *Service) leaseTTL() time.Duration {
	if svc.LeaseTTL > 0 {
		return svc.LeaseTTL
	}
	return DefaultLeaseTTL
}

// holdLeg makes a call StartLeg registered this process's to renew, until
// a renewal finds it ended.
func (svc *Service) holdLeg(sid string) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	svc.leased[sid] = true
}

// carried returns the calls a leg of this process carries, sorted: those
// it started, and those a leg listens to (a stream that carries on a call
// a stopped process started).
func (svc *Service) carried() []string {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	out := make([]string, 0, len(svc.leased)+len(svc.hearers))
	for sid := range svc.leased {
		out = append(out, sid)
	}
	for sid := range svc.hearers {
		if !svc.leased[sid] {
			out = append(out, sid)
		}
	}
	slices.Sort(out)
	return out
}

// carries reports whether a leg of this process carries the call.
func (svc *Service) carries(sid string) bool {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return svc.leased[sid] || len(svc.hearers[sid]) > 0
}

// renewLeases renews the leases of the calls this process carries, and
// forgets the started ones that have ended (here or in another process).
func (svc *Service) renewLeases(ctx context.Context) error {
	sids := svc.carried()
	if len(sids) == 0 {
		return nil
	}
	renewed, err := svc.Tx.Store.RenewLeases(ctx, sids, svc.now().Add(svc.leaseTTL()))
	if err != nil {
		return err
	}
	up := make(map[string]bool, len(renewed))
	for _, sid := range renewed {
		up[sid] = true
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	for _, sid := range sids {
		if !up[sid] {
			delete(svc.leased, sid)
		}
	}
	return nil
}

// runRenewer renews the leases every third of LeaseTTL until ctx is done:
// on a goroutine of its own, so that a slow sweep (an app's answer it
// waits for) never makes another process take this one's calls for dead.
func (svc *Service) runRenewer(ctx context.Context) {
	t := time.NewTicker(svc.leaseTTL() / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := svc.renewLeases(ctx); err != nil && ctx.Err() == nil {
			svc.Logger.Error("renewing real calls' leases", "err", err)
		}
	}
}

// endLapsed hangs up the real calls whose lease lapsed before now (their
// process stopped), at most every lapsedEvery unless all: the caller
// hung up, as far as anyone can tell. Each is ended in a transaction of its
// own that reads the call again (locked, with PostgreSQL): its process may
// have renewed it meanwhile, or another sweeper ended it. It returns how
// many it ended.
func (svc *Service) endLapsed(ctx context.Context, now time.Time, all bool) (int, error) {
	svc.mu.Lock()
	due := all || !now.Before(svc.lapsedAt)
	if due {
		svc.lapsedAt = now.Add(min(lapsedEvery, svc.leaseTTL()/3))
	}
	svc.mu.Unlock()
	if !due {
		return 0, nil
	}
	calls, err := svc.Tx.Store.FindLapsedLegs(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	ended := 0
	for _, c := range calls {
		if svc.carries(c.Sid) {
			continue // late renewals: this process is alive, and so is its leg
		}
		var done bool
		w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
			done = false // commit may run this again
			call, err := tx.FindCall(ctx, c.Sid)
			if err != nil || !lapsed(call, now) {
				return err
			}
			if svc.timelines() {
				rows, err := timelineRows(voice.Entry{At: now, Kind: "warning", Text: "the call's " + string(call.Leg) + " leg stopped with its process (its lease lapsed): hung up"})
				if err != nil {
					return err
				}
				if err := tx.AddTimeline(ctx, call.Sid, now, rows...); err != nil {
					return err
				}
			}
			done = true
			return svc.hangUp(ctx, tx, w, call, now)
		})
		if err != nil {
			return ended, err
		}
		svc.settle(w.Steps)
		if done {
			ended++
			svc.Logger.Warn("ended a "+legName[c.Leg]+" call whose process stopped", "call", c.Sid, "leg", string(c.Leg))
		}
	}
	return ended, nil
}

// legName names a real leg's calls in the log.
var legName = map[tonepay.Leg]string{tonepay.LegSIP: "SIP", tonepay.LegStream: "streamed"}

// lapsed reports a live real call with no parent whose lease is over at now.
func lapsed(c *tonepay.Call, now time.Time) bool {
	return live(c.Status) && c.Leg.Real() && c.ParentCallSid == "" && !c.LegLease.IsZero() && c.LegLease.Before(now)
}
