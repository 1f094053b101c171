package tonepay

import (
	"errors"
	"fmt"
)

// Error codes are Twilio's numeric error codes. They are the vocabulary of the
// payments domain (the same numbers appear in REST errors and as PayErrorCode in
// status callbacks), so the domain uses them directly; twilioapi maps each to an
// HTTP status in one table. Append only: clients match on these numbers.
const (
	CodeMissingParameter  = 20001 // a required parameter is missing
	CodeAuthenticate      = 20003 // bad, missing or insufficient credentials
	CodeMethodNotAllowed  = 20004
	CodeNotFound          = 20404
	CodeTooManyRequests   = 20429
	CodeInternal          = 20500
	CodeCallNotInProgress = 21220

	CodePayConfig          = 64001 // connector configuration error
	CodePayUnavailable     = 64002 // connector or processor unavailable
	CodeChargeAmount       = 64003
	CodeUnknownConnector   = 64004
	CodeNoTokenize         = 64005
	CodeNoTokenType        = 64006
	CodeNoCharge           = 64007
	CodeChargeRejected     = 64008
	CodeNotAuthorized      = 64009 // the processor no longer accepts the connector's credentials (a revoked or expired key)
	CodeTokenRejected      = 64010
	CodeNoCurrency         = 64011
	CodeCardRejected       = 64012
	CodeNoPaymentMethod    = 64013
	CodeACHNeedsAVSName    = 64014 // <Pay paymentMethod="ach-debit"> without <Parameter name="AVSName">
	CodeHTTPSRequired      = 64016 // <Pay action> not https (with --require-https-webhooks)
	CodeBankAccountType    = 64017 // BankAccountType sent with credit-card
	CodeCaptureOrStatus    = 64018 // update needs exactly one of Capture and Status
	CodeIncomplete         = 64019 // Status=complete before everything was captured
	CodeInvalidParameter   = 64020
	CodeInvalidOperation   = 64021 // second open session on a call; change to an ended session
	CodeInvalidTestCard    = 64022
	CodeInvalidTestAccount = 64023
	// 64024 "Connector Instance Not Approved" is Twilio's for a connector
	// used LIVE before Twilio's support approved it. tonepay has no approval
	// step: an operator's mode = "live" is the approval, checked at start-up
	// (https URL, live key), so nothing here can raise it.
)

// CallNotInProgress is 21220 for an operation on a call that has ended.
// Twilio's text for a Calls update is "Call is not in-progress. Cannot
// redirect."; the same sentence names each operation (op: "redirect", "hang
// up", "press keys", "process a payment"), so that a client is told what it
// tried.
func CallNotInProgress(op string) *Error {
	return Errorf(CodeCallNotInProgress, "Call is not in-progress. Cannot %s.", op)
}

// Error is a failure a client may see. Message is safe to show: it never holds
// card data or credentials. Internal failures are plain Go errors and reach
// clients only as CodeInternal.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("tonepay error %d: %s", e.Code, e.Message) }

// Errorf returns an *Error with a formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, 0 for nil,
// and CodeInternal for any other error.
func ErrorCode(err error) int {
	var e *Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err; other errors become a
// generic text so that driver or disk details never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error"
}

// ErrNotFound is what stores return for a missing row; callers turn it into a
// 20404 that names the resource.
var ErrNotFound = &Error{Code: CodeNotFound, Message: "The requested resource was not found"}

// ErrConflict is what stores return when a uniqueness rule (one open session per
// call) refuses a write.
var ErrConflict = &Error{Code: CodeInvalidOperation, Message: "Conflicting state"}
