package tonepay

import (
	"context"
	"slices"
)

// Connector modes: TEST accepts only test card and bank numbers.
const (
	ModeTest = "test"
	ModeLive = "live"
)

// Connector charges or tokenizes captured payment data with a processor.
type Connector interface {
	// Capabilities says what the connector supports, so that create can
	// refuse what it cannot do.
	Capabilities() Capabilities
	// Pay charges (req.Params.Charging()) or tokenizes. A processor's refusal
	// is a PayResult with ErrorCode set; an error means the outcome is
	// unknown (timeout, network), and the caller may call Pay again with the
	// same TransactionID, which the connector must treat as the same payment.
	Pay(ctx context.Context, req *PayRequest) (*PayResult, error)
}

// PayRequest is what a connector gets: the session's parameters and the
// caller's data in clear. Card data is held in Secrets so that it cannot be
// logged or marshalled by accident.
type PayRequest struct {
	TransactionID string // the same on every retry: the processor's idempotency key
	SessionSid    string
	AccountSid    string
	Params        Params
	CardNumber    Secret
	ExpMonth      string // "08"
	ExpYear       string // "27"
	SecurityCode  Secret
	PostalCode    string
	RoutingNumber string // not secret: printed on every cheque
	AccountNumber Secret
	CardType      string
}

// PayResult is a connector's answer. On success ConfirmationCode (charge) or
// Token and ProfileID (tokenize) are set; on refusal ErrorCode (a Pay error
// code such as CodeCardRejected), Message and ConnectorError are.
type PayResult struct {
	ConfirmationCode string
	Token            string
	ProfileID        string
	ErrorCode        int
	Message          string // PaymentError
	ConnectorError   string // the processor's own code
	// Parameters are what the processor answered besides (a Generic Pay
	// Connector's response "parameters"): <Pay>'s action gets each as
	// PayConnector_<key>.
	Parameters map[string]string
}

// Capabilities is what a connector supports. Empty lists mean "any".
type Capabilities struct {
	Mode       string   // ModeTest or ModeLive
	Charge     bool     // can charge an amount
	Tokenize   bool     // can tokenize
	TokenTypes []string // token types it can make
	Methods    []string // payment methods
	Currencies []string // upper-case ISO 4217 codes
}

// Check returns the Twilio error for params the connector cannot serve:
// 64013 method, 64007 charge, 64005 tokenize, 64006 token type, 64011 currency.
func (c Capabilities) Check(p *Params) error {
	switch {
	case len(c.Methods) > 0 && !slices.Contains(c.Methods, p.PaymentMethod):
		return Errorf(CodeNoPaymentMethod, "Connector does not support payment method %s", p.PaymentMethod)
	case p.Charging() && !c.Charge:
		return Errorf(CodeNoCharge, "Connector does not support creating charge")
	case !p.Charging() && !c.Tokenize:
		return Errorf(CodeNoTokenize, "Connector does not support tokenization")
	case !p.Charging() && len(c.TokenTypes) > 0 && !slices.Contains(c.TokenTypes, p.TokenType):
		return Errorf(CodeNoTokenType, "Connector does not support token type %s", p.TokenType)
	case len(c.Currencies) > 0 && !slices.Contains(c.Currencies, p.Currency):
		return Errorf(CodeNoCurrency, "Connector does not support the requested currency %s", p.Currency)
	}
	return nil
}

// ConnectorConfig is one connector as the config file declares it.
type ConnectorConfig struct {
	Name     string
	Type     string            // "sandbox", "generic", "stripe"
	Mode     string            // ModeTest or ModeLive
	Settings map[string]string // type-specific; secrets already read from the environment
}

// ConnectorFactory makes a connector of one type from its configuration. It
// returns an error naming the setting that is missing or wrong.
type ConnectorFactory func(cfg ConnectorConfig) (Connector, error)

// AccountLimiter is implemented by a connector that only some accounts may
// use; to any other account it does not exist (64004).
type AccountLimiter interface {
	// Allows reports whether the account, or the main account that owns it,
	// may use the connector.
	Allows(accountSid, ownerSid string) bool
}

// Connectors are the installed connectors by unique name; "Default" is used
// when a request names none.
type Connectors map[string]Connector

// DefaultConnector is the name used when PaymentConnector is not given.
const DefaultConnector = "Default"
