// Package sandbox is the built-in pay connector in TEST mode: it charges and
// tokenizes without a processor, so that payment flows can be tested end to
// end. It succeeds for Twilio's documented test numbers and 4242424242424242,
// declines a few magic numbers as a processor would, and refuses any other
// number as Twilio's TEST mode does (64022, 64023).
//
// Answers are derived from the transaction id, so asking again about the same
// transaction (a retry after a crash) gets the same answer: nothing is charged
// twice.
package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/tonepay/tonepay"
)

var _ tonepay.Connector = (*Connector)(nil)

// Test card numbers that succeed.
var goodCards = map[string]bool{
	"4111111111111111": true, // Visa
	"4242424242424242": true, // Visa
	"5555555555554444": true, // Mastercard
	"378282246310005":  true, // Amex
	"6011111111111117": true, // Discover
	"3566002020360505": true, // JCB
	"6200000000000005": true, // UnionPay
	"6771798021000008": true, // Maestro
	"30569309025904":   true, // Diners Club (Twilio lists 3065930009020004, which fails Luhn)
}

// Test card numbers that fail, and how.
var badCards = map[string]tonepay.PayResult{
	"4000000000000002": {ErrorCode: tonepay.CodeCardRejected, Message: "Your card was declined.", ConnectorError: "card_declined"},
	"4000000000009995": {ErrorCode: tonepay.CodeCardRejected, Message: "Your card has insufficient funds.", ConnectorError: "insufficient_funds"},
	"4000000000000119": {ErrorCode: tonepay.CodePayUnavailable, Message: "An error occurred while processing your card. Try again in a little bit.", ConnectorError: "processing_error"},
}

// Test bank account numbers that succeed, with any valid routing number.
var goodAccounts = map[string]bool{"12345678": true, "123456789": true}

// Connector is the sandbox connector.
type Connector struct {
	mu   sync.Mutex
	seen map[string]int // transaction id -> Pay calls, for tests of exactly-once
}

// New returns a sandbox connector.
func New() *Connector { return &Connector{seen: map[string]int{}} }

// Capabilities implements tonepay.Connector: everything, in TEST mode, in any
// ISO 4217 currency.
func (*Connector) Capabilities() tonepay.Capabilities {
	return tonepay.Capabilities{
		Mode:       tonepay.ModeTest,
		Charge:     true,
		Tokenize:   true,
		TokenTypes: []string{tonepay.TokenOneTime, tonepay.TokenReusable, tonepay.TokenPaymentMethod},
		Methods:    []string{tonepay.CreditCard, tonepay.ACHDebit},
	}
}

// Pay implements tonepay.Connector.
func (c *Connector) Pay(ctx context.Context, req *tonepay.PayRequest) (*tonepay.PayResult, error) {
	c.mu.Lock()
	c.seen[req.TransactionID]++
	c.mu.Unlock()
	if req.Params.PaymentMethod == tonepay.ACHDebit {
		if !goodAccounts[req.AccountNumber.Reveal()] {
			return &tonepay.PayResult{ErrorCode: tonepay.CodeInvalidTestAccount,
				Message: "Invalid test bank account number: in TEST mode use 12345678 or 123456789"}, nil
		}
	} else {
		number := req.CardNumber.Reveal()
		if r, ok := badCards[number]; ok {
			return &r, nil
		}
		if !goodCards[number] {
			return &tonepay.PayResult{ErrorCode: tonepay.CodeInvalidTestCard,
				Message: "Invalid test card number: in TEST mode only test card numbers are accepted"}, nil
		}
	}
	id := func(prefix string) string {
		h := sha256.Sum256([]byte(prefix + req.TransactionID))
		return prefix + hex.EncodeToString(h[:12])
	}
	switch {
	case req.Params.Charging():
		return &tonepay.PayResult{ConfirmationCode: id("ch_")}, nil
	case req.Params.TokenType == tonepay.TokenOneTime:
		return &tonepay.PayResult{Token: id("tok_")}, nil
	case req.Params.TokenType == tonepay.TokenPaymentMethod:
		return &tonepay.PayResult{Token: id("pm_")}, nil
	}
	return &tonepay.PayResult{Token: id("pm_"), ProfileID: id("cus_")}, nil
}

// Calls returns how many times Pay was called for a transaction id.
func (c *Connector) Calls(transactionID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[transactionID]
}
