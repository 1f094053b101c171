package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v85"

	"github.com/tonepay/tonepay"
)

var _ tonepay.Connector = (*Connector)(nil)

var _ tonepay.ConnectorFactory = New

// DefaultTimeout bounds each Stripe API call when the timeout setting is not
// given: Twilio gives a Generic Pay Connector 10 seconds before it retries.
const DefaultTimeout = 10 * time.Second

// keyPrefixes are the secret (sk_) and restricted (rk_) key prefixes allowed
// in each mode, so that a live key cannot end up in a test connector (real
// charges from test traffic) or the other way round.
var keyPrefixes = map[string][]string{
	tonepay.ModeTest: {"sk_test_", "rk_test_"},
	tonepay.ModeLive: {"sk_live_", "rk_live_"},
}

// SettingKeys are the settings New reads; a config file naming any other is
// refused at start-up rather than silently ignored.
var SettingKeys = []string{"secret_key", "api_url", "timeout"}

// Connector charges and tokenizes cards through the Stripe API.
type Connector struct {
	mode string
	sc   *stripego.Client
}

// New is a tonepay.ConnectorFactory for Stripe. It checks the mode, the
// secret_key (its prefix must match the mode), api_url and timeout; see the
// package comment. Its errors name the setting and never include the key.
func New(cfg tonepay.ConnectorConfig) (tonepay.Connector, error) {
	prefixes, ok := keyPrefixes[cfg.Mode]
	if !ok {
		return nil, fmt.Errorf("stripe connector %q: mode must be %q or %q", cfg.Name, tonepay.ModeTest, tonepay.ModeLive)
	}
	key := cfg.Settings["secret_key"]
	if key == "" {
		return nil, fmt.Errorf("stripe connector %q: setting secret_key is required", cfg.Name)
	}
	if !hasAnyPrefix(key, prefixes) {
		return nil, fmt.Errorf("stripe connector %q: setting secret_key must start with %s in %s mode",
			cfg.Name, strings.Join(prefixes, " or "), cfg.Mode)
	}
	bc := &stripego.BackendConfig{
		// The caller retries with the same transaction id; retrying here too
		// would only stretch the time before it can.
		MaxNetworkRetries: stripego.Int64(0),
		// stripe-go logs failed requests; our caller logs the error it gets.
		LeveledLogger:   &stripego.LeveledLogger{Level: stripego.LevelNull},
		EnableTelemetry: stripego.Bool(false),
	}
	if raw := cfg.Settings["api_url"]; raw != "" {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("stripe connector %q: setting api_url must be an http(s) base URL", cfg.Name)
		}
		// Card numbers travel in the request body: never in clear over a network.
		if cfg.Mode == tonepay.ModeLive && u.Scheme != "https" {
			return nil, fmt.Errorf("stripe connector %q: setting api_url must be https in live mode", cfg.Name)
		}
		bc.URL = stripego.String(strings.TrimSuffix(u.String(), "/"))
	}
	timeout := DefaultTimeout
	if raw := cfg.Settings["timeout"]; raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("stripe connector %q: setting timeout must be a positive duration such as 10s", cfg.Name)
		}
		timeout = d
	}
	bc.HTTPClient = &http.Client{Timeout: timeout}
	sc := stripego.NewClient(key, stripego.WithBackends(stripego.NewBackendsWithConfig(bc)))
	return &Connector{mode: cfg.Mode, sc: sc}, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Capabilities implements tonepay.Connector. Cards only: ACH debits through
// Stripe need the bank account verified (microdeposits or Financial
// Connections) and a mandate, which a phone call cannot collect. Currencies
// is empty (any): Stripe refuses what it does not support, and Pay maps that
// to 64011.
func (c *Connector) Capabilities() tonepay.Capabilities {
	return tonepay.Capabilities{
		Mode:       c.mode,
		Charge:     true,
		Tokenize:   true,
		TokenTypes: []string{tonepay.TokenOneTime, tonepay.TokenReusable, tonepay.TokenPaymentMethod},
		Methods:    []string{tonepay.CreditCard},
	}
}

// Pay implements tonepay.Connector. Outcomes:
//   - success: ConfirmationCode is the PaymentIntent id (charge); Token is a
//     tok_ (one-time) or pm_ id, and ProfileID a cus_ id (reusable);
//   - refusal (a PayResult with ErrorCode): 64012 card declined, 64008 or
//     64010 request refused or PaymentIntent not succeeded, 64011 currency,
//     64003 amount, 64001 key or account not allowed (see the package comment);
//   - error: network failure, timeout, HTTP 429 or 5xx: the outcome is
//     unknown and the caller retries with the same transaction id.
func (c *Connector) Pay(ctx context.Context, req *tonepay.PayRequest) (*tonepay.PayResult, error) {
	rejected := tonepay.CodeTokenRejected
	if req.Params.Charging() {
		rejected = tonepay.CodeChargeRejected
	}
	if req.Params.PaymentMethod != "" && req.Params.PaymentMethod != tonepay.CreditCard {
		return &tonepay.PayResult{ErrorCode: tonepay.CodeNoPaymentMethod,
			Message: "Connector does not support payment method " + req.Params.PaymentMethod}, nil
	}
	month, year, ok := expiry(req.ExpMonth, req.ExpYear)
	if !ok {
		return &tonepay.PayResult{ErrorCode: tonepay.CodeCardRejected,
			Message: "Invalid expiration date", ConnectorError: "invalid_expiry"}, nil
	}
	cd := card{month: month, year: year, req: req}
	var (
		res *tonepay.PayResult
		err error
	)
	switch {
	case req.Params.Charging():
		res, err = c.charge(ctx, req, cd)
	case req.Params.TokenType == tonepay.TokenOneTime:
		res, err = c.token(ctx, req, cd)
	case req.Params.TokenType == tonepay.TokenPaymentMethod:
		var pm *stripego.PaymentMethod
		if pm, err = c.paymentMethod(ctx, req, cd); err == nil {
			res = &tonepay.PayResult{Token: pm.ID}
		}
	case req.Params.TokenType == tonepay.TokenReusable || req.Params.TokenType == "":
		res, err = c.customer(ctx, req, cd)
	default:
		return &tonepay.PayResult{ErrorCode: tonepay.CodeNoTokenType,
			Message: "Connector does not support token type " + req.Params.TokenType}, nil
	}
	if err != nil {
		return refusal(err, rejected, req)
	}
	return res, nil
}

// card is the card of a request with its expiry parsed.
type card struct {
	month, year int64
	req         *tonepay.PayRequest
}

// expiry parses "08" and "27" (or "2027") into 8 and 2027.
func expiry(m, y string) (month, year int64, ok bool) {
	month, err1 := strconv.ParseInt(m, 10, 64)
	year, err2 := strconv.ParseInt(y, 10, 64)
	if err1 != nil || err2 != nil || month < 1 || month > 12 || year < 0 {
		return 0, 0, false
	}
	switch {
	case len(y) <= 2:
		year += 2000
	case len(y) != 4:
		return 0, 0, false
	}
	return month, year, true
}

// optional returns nil for "", so that an absent field is not sent as empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return stripego.String(s)
}

// metadata is the session's Parameter plus the transaction id, which lets a
// payment in the Stripe dashboard be traced back to its session.
func metadata(req *tonepay.PayRequest) map[string]string {
	m := make(map[string]string, len(req.Params.Parameter)+1)
	for k, v := range req.Params.Parameter {
		m[k] = v
	}
	m["transaction_id"] = req.TransactionID
	return m
}

// paymentMethod creates a card PaymentMethod. Its idempotency key differs
// from the PaymentIntent's: Stripe refuses one key for two endpoints.
func (c *Connector) paymentMethod(ctx context.Context, req *tonepay.PayRequest, cd card) (*stripego.PaymentMethod, error) {
	p := &stripego.PaymentMethodCreateParams{
		Type: stripego.String(string(stripego.PaymentMethodTypeCard)),
		Card: &stripego.PaymentMethodCreateCardParams{
			Number:   stripego.String(req.CardNumber.Reveal()),
			ExpMonth: stripego.Int64(cd.month),
			ExpYear:  stripego.Int64(cd.year),
			CVC:      optional(req.SecurityCode.Reveal()),
		},
		Metadata: map[string]string{"transaction_id": req.TransactionID},
	}
	if req.PostalCode != "" {
		p.BillingDetails = &stripego.PaymentMethodCreateBillingDetailsParams{
			Address: &stripego.AddressParams{PostalCode: stripego.String(req.PostalCode)},
		}
	}
	p.SetIdempotencyKey(req.TransactionID + "-pm")
	pm, err := c.sc.V1PaymentMethods.Create(ctx, p)
	if err != nil {
		return nil, &opError{op: "create payment method", err: err}
	}
	return pm, nil
}

// charge creates a PaymentMethod and a confirmed PaymentIntent for it.
func (c *Connector) charge(ctx context.Context, req *tonepay.PayRequest, cd card) (*tonepay.PayResult, error) {
	amount, err := tonepay.MinorAmount(req.Params.ChargeAmount, req.Params.Currency)
	if err != nil {
		return &tonepay.PayResult{ErrorCode: tonepay.ErrorCode(err), Message: tonepay.ErrorMessage(err)}, nil
	}
	pm, err := c.paymentMethod(ctx, req, cd)
	if err != nil {
		return nil, err
	}
	p := &stripego.PaymentIntentCreateParams{
		Amount:        stripego.Int64(amount),
		Currency:      stripego.String(strings.ToLower(req.Params.Currency)),
		PaymentMethod: stripego.String(pm.ID),
		Confirm:       stripego.Bool(true),
		Description:   optional(req.Params.Description),
		Metadata:      metadata(req),
		// Cards only, so that Stripe never answers with a redirect-based
		// method that needs a return_url no phone call can follow.
		PaymentMethodTypes: []*string{stripego.String(string(stripego.PaymentMethodTypeCard))},
	}
	// The key is the transaction id itself: a retry returns the first
	// PaymentIntent instead of charging again.
	p.SetIdempotencyKey(req.TransactionID)
	pi, err := c.sc.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return nil, &opError{op: "create payment intent", err: err}
	}
	if pi.Status != stripego.PaymentIntentStatusSucceeded {
		return &tonepay.PayResult{ErrorCode: tonepay.CodeChargeRejected,
			Message: notSucceeded(pi.Status), ConnectorError: string(pi.Status)}, nil
	}
	return &tonepay.PayResult{ConfirmationCode: pi.ID}, nil
}

// notSucceeded explains a PaymentIntent status other than succeeded.
func notSucceeded(s stripego.PaymentIntentStatus) string {
	switch s {
	case stripego.PaymentIntentStatusRequiresAction:
		// 3-D Secure needs the cardholder in a browser or bank app.
		return "The card requires authentication, which cannot be completed on a call"
	case stripego.PaymentIntentStatusRequiresPaymentMethod:
		return "The card was not accepted for this payment"
	case stripego.PaymentIntentStatusProcessing:
		return "The payment is still processing and was not confirmed"
	}
	return fmt.Sprintf("The payment did not succeed (status %s)", s)
}

// token creates a single-use card Token.
func (c *Connector) token(ctx context.Context, req *tonepay.PayRequest, cd card) (*tonepay.PayResult, error) {
	p := &stripego.TokenCreateParams{Card: &stripego.CardParams{
		Number:     stripego.String(req.CardNumber.Reveal()),
		ExpMonth:   stripego.String(strconv.FormatInt(cd.month, 10)),
		ExpYear:    stripego.String(strconv.FormatInt(cd.year, 10)),
		CVC:        optional(req.SecurityCode.Reveal()),
		AddressZip: optional(req.PostalCode),
	}}
	p.SetIdempotencyKey(req.TransactionID + "-tok")
	tok, err := c.sc.V1Tokens.Create(ctx, p)
	if err != nil {
		return nil, &opError{op: "create token", err: err}
	}
	return &tonepay.PayResult{Token: tok.ID}, nil
}

// customer creates a PaymentMethod and a Customer it is attached to, as its
// default for invoices, so the pair can be charged later.
func (c *Connector) customer(ctx context.Context, req *tonepay.PayRequest, cd card) (*tonepay.PayResult, error) {
	pm, err := c.paymentMethod(ctx, req, cd)
	if err != nil {
		return nil, err
	}
	p := &stripego.CustomerCreateParams{
		PaymentMethod: stripego.String(pm.ID),
		InvoiceSettings: &stripego.CustomerCreateInvoiceSettingsParams{
			DefaultPaymentMethod: stripego.String(pm.ID),
		},
		Description: optional(req.Params.Description),
		Metadata:    metadata(req),
	}
	p.SetIdempotencyKey(req.TransactionID + "-cus")
	cus, err := c.sc.V1Customers.Create(ctx, p)
	if err != nil {
		return nil, &opError{op: "create customer", err: err}
	}
	return &tonepay.PayResult{Token: pm.ID, ProfileID: cus.ID}, nil
}

// opError is a failed Stripe call. Its text carries only the operation, the
// HTTP status and Stripe's code and request id: never Stripe's message, which
// could echo a parameter, nor the request, which holds the card.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	var se *stripego.Error
	if errors.As(e.err, &se) {
		return fmt.Sprintf("stripe: %s: HTTP %d %s %s (request %s)", e.op, se.HTTPStatusCode, se.Type, se.Code, se.RequestID)
	}
	// A transport error names the URL and the cause; stripe-go's own errors
	// (an unparseable body) quote the response, which holds no card data.
	return fmt.Sprintf("stripe: %s: %v", e.op, e.err)
}

func (e *opError) Unwrap() error { return e.err }

// longDigits matches a run long enough to be a card number.
var longDigits = regexp.MustCompile(`\d(?:[ -]?\d){11,}`)

// scrub removes anything that looks like a card number from a message Stripe
// wrote, in case it echoes a parameter: refusals reach callbacks and logs.
func scrub(msg string, req *tonepay.PayRequest) string {
	if n := req.CardNumber.Reveal(); n != "" {
		msg = strings.ReplaceAll(msg, n, "[redacted]")
	}
	return longDigits.ReplaceAllString(msg, "[redacted]")
}

// refusal sorts a failed Stripe call into a refusal (a PayResult with a
// Twilio code) or an error when the outcome is unknown. rejected is 64008 for
// a charge and 64010 for a tokenize.
func refusal(err error, rejected int, req *tonepay.PayRequest) (*tonepay.PayResult, error) {
	var se *stripego.Error
	if !errors.As(err, &se) {
		return nil, err // network, timeout, cancelled: unknown outcome
	}
	code := string(se.Code)
	if se.DeclineCode != "" {
		code = string(se.DeclineCode)
	}
	if code == "" {
		code = string(se.Type)
	}
	msg := scrub(se.Msg, req)
	switch {
	case se.HTTPStatusCode == http.StatusTooManyRequests || se.HTTPStatusCode >= 500 ||
		se.HTTPStatusCode == http.StatusConflict || se.Type == stripego.ErrorTypeAPI:
		// Overloaded, failed inside Stripe, or the same idempotency key is
		// still being processed: the charge may or may not have happened.
		return nil, err
	case se.Type == stripego.ErrorTypeIdempotency:
		// The key was used before with other parameters. Whatever happened
		// then is not known here; retrying cannot change the answer, but it
		// must not be reported as a refusal of a payment that may exist.
		return nil, err
	case se.Code == stripego.ErrorCodeAPIKeyExpired || se.Code == stripego.ErrorCodePlatformAPIKeyExpired:
		// The key worked once and was rolled or revoked: Twilio's 64009, "no
		// longer authorized to initiate transactions on your behalf" (what
		// revoking its Stripe access gives). Stripe's message names the
		// (masked) key: keep it out.
		return &tonepay.PayResult{ErrorCode: tonepay.CodeNotAuthorized,
			Message: "Stripe no longer accepts the connector's secret_key (expired or revoked)", ConnectorError: code}, nil
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		// A key that is wrong, or lacks a permission: configuration (64001).
		return &tonepay.PayResult{ErrorCode: tonepay.CodePayConfig,
			Message: "Stripe refused the connector's secret_key", ConnectorError: code}, nil
	case se.Type == stripego.ErrorTypeCard:
		return &tonepay.PayResult{ErrorCode: tonepay.CodeCardRejected, Message: msg, ConnectorError: code}, nil
	case strings.Contains(se.Msg, "card numbers directly") || strings.Contains(se.Msg, "raw card data"):
		// The account may not send raw card data: see the package comment.
		return &tonepay.PayResult{ErrorCode: tonepay.CodePayConfig, Message: msg, ConnectorError: code}, nil
	case se.Code == stripego.ErrorCodeAmountTooSmall || se.Code == stripego.ErrorCodeAmountTooLarge:
		// The amount is outside Stripe's per-currency limits: the amount,
		// not the currency, is what the caller must change.
		return &tonepay.PayResult{ErrorCode: tonepay.CodeChargeAmount, Message: msg, ConnectorError: code}, nil
	case se.Param == "currency" || strings.Contains(strings.ToLower(se.Msg), "currency"):
		return &tonepay.PayResult{ErrorCode: tonepay.CodeNoCurrency, Message: msg, ConnectorError: code}, nil
	}
	return &tonepay.PayResult{ErrorCode: rejected, Message: msg, ConnectorError: code}, nil
}
