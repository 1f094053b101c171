package calls

import (
	"context"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

// A SIP call's <Dial><Sip> is real (voice.State.SIPDial): legs makes the
// far end's leg ringing and, after commit, the Dialer calls it; what the
// far end does comes back as DialStatus (answered, or never will) or as
// HangUp of the leg. A leg the call leaves (the Dial's timeout, timeLimit,
// a redirect, the caller's hang-up) is dropped after the commit that ended
// it (endCall), so the Dialer sends its CANCEL or BYE. Dials live in their
// process, as the SIP calls do.

// dialEffects hands a committed transaction's dials and drops to the
// Dialer.
func (svc *Service) dialEffects(w *txn.Work) {
	if svc.Dialer == nil {
		return
	}
	for _, d := range w.Drops {
		svc.Dialer.Drop(d.AccountSid, d.LegSid)
	}
	for _, d := range w.Dials {
		svc.Dialer.Dial(d)
	}
}

// DialStatus implements tonepay.LegService.
func (svc *Service) DialStatus(ctx context.Context, accountSid, legSid, status string) error {
	switch status {
	case tonepay.CallInProgress, tonepay.CallBusy, tonepay.CallNoAnswer, tonepay.CallFailed:
	default:
		return tonepay.Errorf(tonepay.CodeInvalidParameter, "DialStatus: %q is not what a far end does", status)
	}
	now := svc.now()
	w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		leg, err := tonepay.NewTenant(tx, accountSid).FindCall(ctx, legSid)
		if err != nil {
			return err
		}
		if !live(leg.Status) {
			return tonepay.CallNotInProgress("report its far end") // the Dial moved on first
		}
		if status == tonepay.CallInProgress {
			if leg.Status != tonepay.CallRinging {
				return nil // told twice
			}
			leg.Status, leg.StartTime, leg.DateUpdated = status, now, now
			if err := tx.UpdateCall(ctx, leg); err != nil {
				return err
			}
		} else if err := svc.endCall(ctx, tx, w, leg, nil, status, now); err != nil {
			return err
		}
		return svc.tellParent(ctx, tx, w, leg, voice.Input{Kind: voice.FarEndStatus, DialStatus: status}, now)
	})
	svc.settle(w.Steps)
	return err
}
