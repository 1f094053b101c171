package payments

import (
	"context"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/capture"
	"github.com/tonepay/tonepay/internal/txn"
)

// startPay calls the session's connector in the background, once per
// process at a time. The session's deadline is the lease of this attempt: if
// the process dies, or the connector does not answer in time, the sweeper
// tries again with the same transaction id, which connectors dedupe, so the
// payment is made at most once. After Engine.GiveUp it ends with
// Result=internal-error.
func (svc *Service) startPay(sid string) {
	svc.mu.Lock()
	if svc.paying == nil {
		svc.paying = map[string]bool{}
	}
	if svc.paying[sid] {
		svc.mu.Unlock()
		return
	}
	svc.paying[sid] = true
	svc.mu.Unlock()
	svc.payment.Add(1)
	go func() {
		defer svc.payment.Done()
		defer func() { svc.mu.Lock(); delete(svc.paying, sid); svc.mu.Unlock() }()
		if err := svc.pay(sid); err != nil {
			svc.Logger.Warn("payment attempt failed; it is retried when its lease ends", "session", sid, "err", err)
		}
	}()
}

func (svc *Service) pay(sid string) error {
	// Bounded by the lease, so that a retry never overlaps this attempt.
	ctx, cancel := context.WithTimeout(context.Background(), max(svc.Engine.Lease-5*time.Second, svc.Engine.Lease/2))
	defer cancel()
	s, err := svc.Tx.Store.FindSession(ctx, sid)
	if err != nil {
		return err
	}
	if s.Status != tonepay.SessionProcessing {
		return nil
	}
	sec, err := svc.open(s)
	if err != nil {
		return err
	}
	conn, ok := svc.Connectors[s.Params.PaymentConnector]
	if !ok {
		// Removed from the configuration since create: a connector error, not a crash loop.
		return svc.paid(ctx, sid, &tonepay.PayResult{ErrorCode: tonepay.CodePayConfig,
			Message: "Payment connector " + s.Params.PaymentConnector + " is not configured"})
	}
	start := svc.Tx.Now()
	res, err := conn.Pay(ctx, payRequest(s, sec))
	if svc.Hooks.Connector != nil {
		svc.Hooks.Connector(s.Params.PaymentConnector, payOutcome(res, err), svc.Tx.Now().Sub(start))
	}
	if err != nil {
		return err
	}
	return svc.paid(ctx, sid, res)
}

// payOutcome names a connector call's outcome for metrics.
func payOutcome(res *tonepay.PayResult, err error) string {
	switch {
	case err != nil || res == nil:
		return "error"
	case res.ErrorCode != 0:
		return "declined"
	}
	return "ok"
}

// paid feeds a connector's answer back to the session. A <Pay>'s action
// follows: the call runtime makes its request after the commit.
func (svc *Service) paid(ctx context.Context, sid string, res *tonepay.PayResult) error {
	now := svc.now()
	_, err := svc.Tx.Update(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		s, err := tx.FindSession(ctx, sid)
		if err != nil {
			return err
		}
		return svc.apply(ctx, tx, w, s, now, capture.Input{Kind: capture.Paid, Result: res})
	})
	return err
}

func payRequest(s *tonepay.Session, sec *capture.Secrets) *tonepay.PayRequest {
	v := sec.Values
	req := &tonepay.PayRequest{
		TransactionID: s.State.TransactionID,
		SessionSid:    s.Sid,
		AccountSid:    s.AccountSid,
		Params:        s.Params,
		CardNumber:    tonepay.NewSecret(v[tonepay.FieldCardNumber]),
		SecurityCode:  tonepay.NewSecret(v[tonepay.FieldSecurityCode]),
		PostalCode:    v[tonepay.FieldPostalCode],
		RoutingNumber: v[tonepay.FieldRoutingNumber],
		AccountNumber: tonepay.NewSecret(v[tonepay.FieldAccountNumber]),
		CardType:      s.State.CardType,
	}
	if s.Params.PostalCodeValue != "" {
		req.PostalCode = s.Params.PostalCodeValue // <Pay postalCode="94105">
	}
	if exp := v[tonepay.FieldExpiration]; len(exp) == 4 {
		req.ExpMonth, req.ExpYear = exp[:2], exp[2:]
	}
	return req
}
