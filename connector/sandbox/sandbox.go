// Package sandbox is the built-in pay connector in TEST mode: it charges and
// tokenizes without a processor, succeeding for Twilio's test numbers and
// declining a few magic ones, so that payment flows can be tested end to end.
package sandbox

import "github.com/tonepay/tonepay"

var _ tonepay.Connector = (*Connector)(nil)

// Connector is the sandbox connector.
type Connector struct{}

// New returns a sandbox connector.
func New() *Connector { return &Connector{} }

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
