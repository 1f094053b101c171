package generic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/wait"
)

var _ tonepay.Connector = (*Connector)(nil)

// Twilio's TEST mode accepts only these numbers, its documented test cards and
// bank accounts (reference/twilio-pay.md §5.6, and the README's Test numbers); anything else is refused
// before it reaches the processor (64022, 64023).
var (
	testCards = map[string]bool{
		"4111111111111111": true, "4242424242424242": true, "5555555555554444": true, "378282246310005": true,
		"6011111111111117": true, "30569309025904": true, "3566002020360505": true, "6200000000000005": true,
		"6771798021000008": true,
		// The sandbox's decline numbers, so that declines can be tested in TEST mode.
		"4000000000000002": true, "4000000000009995": true, "4000000000000119": true,
	}
	testAccounts = map[string]bool{"12345678": true, "123456789": true}
)

// Connector posts to a Generic Pay Connector processor.
type Connector struct {
	mode       string
	url        string
	username   string
	password   tonepay.Secret
	timeout    time.Duration // per attempt
	retries    int           // after the first attempt
	currencies []string
	client     *http.Client
	pause      time.Duration // between attempts
}

// SettingKeys are the settings New reads; a config file naming any other is
// refused at start-up rather than silently ignored.
var SettingKeys = []string{"url", "username", "password", "timeout", "retries", "currencies"}

// New makes a Connector from its configuration (a tonepay.ConnectorFactory).
// Settings: url (required), username, password (required), timeout (default
// 10s), retries (default 5), currencies (space-separated ISO 4217; default
// any).
func New(cfg tonepay.ConnectorConfig) (tonepay.Connector, error) {
	c := &Connector{mode: cfg.Mode, timeout: 10 * time.Second, retries: 5, pause: 200 * time.Millisecond}
	set := cfg.Settings
	u, err := url.Parse(set["url"])
	if set["url"] == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("settings.url must be the processor's http or https URL")
	}
	if cfg.Mode == tonepay.ModeLive && u.Scheme != "https" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("settings.url must be https in live mode: card data crosses it")
	}
	c.url, c.username, c.password = set["url"], set["username"], tonepay.NewSecret(set["password"])
	if c.username == "" || c.password.IsZero() {
		return nil, fmt.Errorf("settings.username and the password are required: the processor authenticates every request")
	}
	if v := set["timeout"]; v != "" {
		if c.timeout, err = time.ParseDuration(v); err != nil || c.timeout <= 0 {
			return nil, fmt.Errorf("settings.timeout %q is not a duration such as 10s", v)
		}
	}
	if v := set["retries"]; v != "" {
		if c.retries, err = strconv.Atoi(v); err != nil || c.retries < 0 || c.retries > 10 {
			return nil, fmt.Errorf("settings.retries %q must be a whole number from 0 to 10", v)
		}
	}
	for _, cur := range strings.Fields(set["currencies"]) {
		if _, ok := tonepay.MinorUnits(strings.ToUpper(cur)); !ok {
			return nil, fmt.Errorf("settings.currencies: %q is not an ISO 4217 currency", cur)
		}
		c.currencies = append(c.currencies, strings.ToUpper(cur))
	}
	c.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// Capabilities implements tonepay.Connector.
func (c *Connector) Capabilities() tonepay.Capabilities {
	return tonepay.Capabilities{
		Mode: c.mode, Charge: true, Tokenize: true,
		TokenTypes: []string{tonepay.TokenOneTime, tonepay.TokenReusable, tonepay.TokenPaymentMethod},
		Methods:    []string{tonepay.CreditCard, tonepay.ACHDebit},
		Currencies: c.currencies,
	}
}

// Pay implements tonepay.Connector. It tries up to 1+retries times with the
// same transaction_id, on timeouts, network errors and 5xx answers. When no
// attempt could even connect, nothing was charged and the answer is a 64002
// refusal; when one may have reached the processor, the outcome is unknown
// and Pay returns an error, so that the session retries later with the same
// transaction id.
func (c *Connector) Pay(ctx context.Context, req *tonepay.PayRequest) (*tonepay.PayResult, error) {
	if r := c.testMode(req); r != nil {
		return r, nil
	}
	body, err := json.Marshal(c.request(req))
	if err != nil {
		return nil, err
	}
	charging := req.Params.Charging()
	var lastErr error
	reached := false
	for attempt := 0; attempt <= c.retries; attempt++ {
		if attempt > 0 {
			if err := wait.Sleep(ctx, c.pause); err != nil {
				break
			}
		}
		res, sent, err := c.post(ctx, body, charging)
		reached = reached || sent
		if err == nil {
			return res, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	if !reached {
		return &tonepay.PayResult{ErrorCode: tonepay.CodePayUnavailable, Message: "The payment processor could not be reached", ConnectorError: ""}, nil
	}
	return nil, fmt.Errorf("generic connector: no answer after %d attempts: %w", c.retries+1, lastErr)
}

// testMode refuses, in TEST mode, numbers that are not test numbers.
func (c *Connector) testMode(req *tonepay.PayRequest) *tonepay.PayResult {
	if c.mode != tonepay.ModeTest {
		return nil
	}
	if req.Params.PaymentMethod == tonepay.ACHDebit {
		if !testAccounts[req.AccountNumber.Reveal()] {
			return &tonepay.PayResult{ErrorCode: tonepay.CodeInvalidTestAccount, Message: "Invalid test bank account number: in TEST mode use 12345678 or 123456789"}
		}
		return nil
	}
	if !testCards[req.CardNumber.Reveal()] {
		return &tonepay.PayResult{ErrorCode: tonepay.CodeInvalidTestCard, Message: "Invalid test card number: in TEST mode only test card numbers are accepted"}
	}
	return nil
}

func (c *Connector) request(req *tonepay.PayRequest) *request {
	r := &request{
		Method:        "tokenize",
		TransactionID: req.TransactionID,
		PostalCode:    nullable(req.PostalCode),
		Description:   nullable(req.Params.Description),
		Parameters:    req.Params.Parameter,
	}
	if r.Parameters == nil {
		r.Parameters = map[string]string{}
	}
	if req.Params.Charging() {
		r.Method, r.Amount, r.CurrencyCode = "charge", str(req.Params.ChargeAmount), str(req.Params.Currency)
	}
	if req.Params.PaymentMethod == tonepay.ACHDebit {
		r.RoutingNumber, r.BankAccountNumber = str(req.RoutingNumber), str(req.AccountNumber.Reveal())
		return r
	}
	r.CardNumber, r.CVV = str(req.CardNumber.Reveal()), nullable(req.SecurityCode.Reveal())
	r.ExpiryMonth, r.ExpiryYear = str(req.ExpMonth), str(req.ExpYear)
	return r
}

// errRetry marks an attempt worth repeating: a timeout, a network error, a 5xx.
var errRetry = errors.New("retry")

// post makes one attempt. sent reports whether the request may have reached
// the processor (anything but a failure to connect).
func (c *Connector) post(ctx context.Context, body []byte, charging bool) (res *tonepay.PayResult, sent bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "tonepay-generic-pay-connector/1")
	hr.SetBasicAuth(c.username, c.password.Reveal())
	resp, err := c.client.Do(hr)
	if err != nil {
		var op *net.OpError
		connectFailed := errors.As(err, &op) && op.Op == "dial"
		return nil, !connectFailed, fmt.Errorf("%w: %v", errRetry, scrub(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, true, fmt.Errorf("%w: reading the answer: %v", errRetry, err)
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, true, fmt.Errorf("%w: HTTP %d", errRetry, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &tonepay.PayResult{ErrorCode: tonepay.CodePayConfig, Message: "The payment processor refused the connector's credentials",
			ConnectorError: "HTTP " + strconv.Itoa(resp.StatusCode)}, true, nil
	case resp.StatusCode != http.StatusOK:
		return rejected(charging, "Got HTTP "+strconv.Itoa(resp.StatusCode)+" from Payment Provider", "HTTP "+strconv.Itoa(resp.StatusCode)), true, nil
	}
	return parse(raw, charging), true, nil
}

// scrub drops the URL from a client error: it is in the configuration, and
// error text ends up in logs.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// parse reads a 200 answer. The processor must name charge_id (charges) or
// token_id (tokenizations), null on failure; anything else is malformed.
func parse(raw []byte, charging bool) *tonepay.PayResult {
	var r response
	malformed := rejected(charging, "Got malformed response from Payment Provider", "malformed response")
	if json.Unmarshal(raw, &r) != nil {
		return malformed
	}
	id := r.TokenID
	if charging {
		id = r.ChargeID
	}
	if id == nil {
		return malformed
	}
	if code := text(r.ErrorCode); code != "" {
		msg := text(r.ErrorMessage)
		if msg == "" {
			msg = "Payment Provider reported error " + code
		}
		res := rejected(charging, msg, code)
		if cardProblem(code) {
			res.ErrorCode = tonepay.CodeCardRejected
		}
		res.Parameters = parameters(r.Parameters)
		return res
	}
	if text(id) == "" {
		return malformed
	}
	if charging {
		return &tonepay.PayResult{ConfirmationCode: text(id), Parameters: parameters(r.Parameters)}
	}
	return &tonepay.PayResult{Token: text(id), Parameters: parameters(r.Parameters)}
}

// rejected is the refusal of a charge (64008) or a tokenization (64010).
func rejected(charging bool, msg, connectorError string) *tonepay.PayResult {
	code := tonepay.CodeTokenRejected
	if charging {
		code = tonepay.CodeChargeRejected
	}
	return &tonepay.PayResult{ErrorCode: code, Message: msg, ConnectorError: connectorError}
}

// cardProblem tells error codes about the card itself (Twilio's 64012,
// "rejected the card") from other refusals, by the words processors use.
func cardProblem(code string) bool {
	code = strings.ToLower(code)
	for _, w := range []string{"card", "declin", "insufficient", "expired", "cvc", "cvv", "incorrect_number", "do_not_honor", "stolen", "lost", "fraud"} {
		if strings.Contains(code, w) {
			return true
		}
	}
	return false
}
