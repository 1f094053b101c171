package tonepay

import (
	"context"
	"strings"
	"time"
	"unicode"
)

// PrefixPhoneNumber is the SID prefix of an IncomingPhoneNumber.
const PrefixPhoneNumber = "PN"

// The IncomingPhoneNumbers errors, Twilio's. A number that is not E.164 is
// 21421; a well-formed number that some account on this server already owns
// is 21422 ("not available"): one number, one owner, whichever account asks.
// 21452 is Twilio's for an AreaCode with no numbers left: tonepay has no pool
// to draw from, so every AreaCode-only create gets it.
const (
	CodeInvalidURL             = 21402 // a voice URL that is not absolute http(s)
	CodeInvalidMethod          = 21403 // a method other than GET and POST
	CodePhoneNumberInvalid     = 21421
	CodePhoneNumberUnavailable = 21422
	CodeNoNumbersInAreaCode    = 21452
)

// PhoneNumber is an IncomingPhoneNumber: a number an account owns and the
// URLs a call to it runs. Nothing rings it yet: the inbound call comes with
// the voice runtime.
type PhoneNumber struct {
	Sid                  string
	AccountSid           string
	Number               string // E.164, unique on the server
	FriendlyName         string
	VoiceURL             string
	VoiceMethod          string // GET or POST
	VoiceFallbackURL     string
	VoiceFallbackMethod  string
	StatusCallback       string
	StatusCallbackMethod string
	DateCreated          time.Time
	DateUpdated          time.Time
}

// NumberFilter selects an account's numbers.
type NumberFilter struct {
	AccountSid   string
	PhoneNumber  string // exact match when set
	FriendlyName string // exact match when set
	Offset       int
	Limit        int
}

// NumberService keeps IncomingPhoneNumbers. A number of another account is
// ErrNotFound, as a missing one is.
type NumberService interface {
	// FindNumber returns the account's number. Errors: ErrNotFound unknown
	// number, or another account's.
	FindNumber(ctx context.Context, accountSid, sid string) (*PhoneNumber, error)
	// FindNumbers lists the account's numbers, oldest first (f.AccountSid is
	// accountSid's).
	FindNumbers(ctx context.Context, accountSid string, f NumberFilter) ([]*PhoneNumber, error)
	// CreateNumber claims req.PhoneNumber for the account. Errors: 21421 not
	// E.164, 21422 owned already (by any account).
	CreateNumber(ctx context.Context, req *CreateNumberRequest) (*PhoneNumber, error)
	// UpdateNumber changes the fields req sets.
	UpdateNumber(ctx context.Context, req *UpdateNumberRequest) (*PhoneNumber, error)
	// DeleteNumber releases the number: any account may claim it then.
	DeleteNumber(ctx context.Context, accountSid, sid string) error
}

// NumberVoice is what a number's calls run; a nil field is left as it is
// (on create: its default).
type NumberVoice struct {
	FriendlyName         *string
	VoiceURL             *string
	VoiceMethod          *string
	VoiceFallbackURL     *string
	VoiceFallbackMethod  *string
	StatusCallback       *string
	StatusCallbackMethod *string
}

// CreateNumberRequest is a well-formed IncomingPhoneNumbers create.
type CreateNumberRequest struct {
	AccountSid  string
	PhoneNumber string
	NumberVoice
}

// UpdateNumberRequest is a well-formed IncomingPhoneNumbers update.
type UpdateNumberRequest struct {
	AccountSid string
	Sid        string
	NumberVoice
}

// Apply sets n's fields from v. An empty FriendlyName or method is the
// default again, as on create.
func (v *NumberVoice) Apply(n *PhoneNumber) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&n.FriendlyName, v.FriendlyName)
	set(&n.VoiceURL, v.VoiceURL)
	set(&n.VoiceMethod, v.VoiceMethod)
	set(&n.VoiceFallbackURL, v.VoiceFallbackURL)
	set(&n.VoiceFallbackMethod, v.VoiceFallbackMethod)
	set(&n.StatusCallback, v.StatusCallback)
	set(&n.StatusCallbackMethod, v.StatusCallbackMethod)
	if n.FriendlyName == "" {
		n.FriendlyName = FormatNumber(n.Number)
	}
	for _, m := range []*string{&n.VoiceMethod, &n.VoiceFallbackMethod, &n.StatusCallbackMethod} {
		if *m == "" {
			*m = "POST"
		}
	}
}

// IsE164 reports whether s is an E.164 number: "+", a country code not
// starting with 0, at most 15 digits in all (at least 7: no real number
// is shorter).
func IsE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsEndpoint reports whether s is a party a call can have, as Calls create
// takes To and From (Twilio's spec: "The phone number, SIP address, or client
// identifier"): an E.164 number, client:<identity> or sip:<address>, with no
// space or control character anywhere. Twilio answers anything else with
// 21211 (To) or 21212 (From). A leading space is what an unencoded "+" in a
// form becomes ("-d To=+1500…" in curl): it is refused, never trimmed, since
// the number meant cannot be known for sure.
func IsEndpoint(s string) bool {
	if IsE164(s) {
		return true
	}
	var rest string
	switch {
	case hasPrefixFold(s, "client:"):
		rest = s[len("client:"):]
	case hasPrefixFold(s, "sip:"):
		rest = s[len("sip:"):]
	default:
		return false
	}
	if rest == "" || len(rest) > maxEndpoint {
		return false
	}
	for _, r := range rest {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// maxEndpoint bounds a client identity or SIP address: Twilio's <Client>
// identity is at most 256 characters, a <Sip> URI under 255.
const maxEndpoint = 256

// IsCallerID reports whether s may be the From of a caller ringing one of
// the account's numbers: an endpoint (IsEndpoint), or the caller-ID text a
// carrier sends for a withheld number, one word of letters such as
// "anonymous" (reference twilio-voice.md §1.1).
func IsCallerID(s string) bool {
	if IsEndpoint(s) {
		return true
	}
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// FormatNumber is the number as Twilio shows it by default: a North
// American number (+1 and ten digits) as "(415) 555-0100", any other
// as given.
func FormatNumber(e164 string) string {
	if len(e164) == 12 && e164[:2] == "+1" && IsE164(e164) {
		d := e164[2:]
		return "(" + d[:3] + ") " + d[3:6] + "-" + d[6:]
	}
	return e164
}
