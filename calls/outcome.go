package calls

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tonepay/tonepay"
)

// outcomeEntry is the call timeline's row for a payment session's end, an
// agent's or a <Pay>'s: voice.Entry's fields (at, kind, verb, text, code),
// so that every reader of the timeline shows it as it shows any entry, and
// the outcome beside them. Masked values only, as the session's callbacks
// carry them (capture/callback.go): the card's brand and last four digits,
// a bank account's last two. A token is left out: it can be charged again,
// and the timeline is a view for people (and `tonepay call timeline`'s
// output), kept apart from the session's own view, which has it.
type outcomeEntry struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`           // "payment"
	Verb string    `json:"verb,omitempty"` // "Pay" for a <Pay>'s session; "" for an agent's
	Text string    `json:"text"`           // the Result
	Code int       `json:"code,omitempty"` // PayErrorCode, when the connector refused or failed

	PaymentSid        string `json:"payment_sid"`
	ConfirmationCode  string `json:"payment_confirmation_code,omitempty"`
	CardType          string `json:"card_type,omitempty"`
	CardNumber        string `json:"payment_card_number,omitempty"` // xxxxxxxxxxxx4242
	BankAccountNumber string `json:"bank_account_number,omitempty"` // ***************89
	PaymentError      string `json:"payment_error,omitempty"`
}

// addOutcome puts s's end on its call's timeline, in the transaction that
// ended it: a session ends once, so the row is written once, and before
// what its end causes there (a <Pay>'s action).
func addOutcome(ctx context.Context, tx tonepay.Tx, s *tonepay.Session, now time.Time) error {
	e := outcomeEntry{At: now, Kind: "payment", Text: s.State.Result, Code: s.State.PayErrorCode, PaymentSid: s.Sid,
		ConfirmationCode: s.State.ConfirmationCode, CardType: s.State.CardType,
		CardNumber:        s.State.Captured[tonepay.FieldCardNumber],
		BankAccountNumber: s.State.Captured[tonepay.FieldAccountNumber], PaymentError: s.State.PaymentError}
	if s.Params.Verb {
		e.Verb = "Pay"
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.AddTimeline(ctx, s.CallSid, now, b)
}
