package twilioapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
)

const apiVersion = tonepay.APIVersion

// writeJSON writes v as the response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Our response types always marshal; this is a programming error.
		writeBody(w, http.StatusInternalServerError, []byte(`{"code":20500,"message":"Internal error","more_info":"https://www.twilio.com/docs/errors/20500","status":500}`))
		return
	}
	writeBody(w, status, b)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

// date formats REST body dates as Twilio does: RFC 2822 in GMT. The zero time
// is null.
func date(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC1123Z)
	return &s
}

func accountURI(sid string) string { return "/" + apiVersion + "/Accounts/" + sid }

type accountJSON struct {
	AuthToken       string            `json:"auth_token"`
	DateCreated     *string           `json:"date_created"`
	DateUpdated     *string           `json:"date_updated"`
	FriendlyName    string            `json:"friendly_name"`
	OwnerAccountSid string            `json:"owner_account_sid"`
	Sid             string            `json:"sid"`
	Status          string            `json:"status"`
	SubresourceURIs map[string]string `json:"subresource_uris"`
	Type            string            `json:"type"`
	URI             string            `json:"uri"`
}

// encodeAccount shows the auth token, as Twilio does: only the account itself
// or its main account can fetch it.
func encodeAccount(a *tonepay.Account) accountJSON {
	u := accountURI(a.Sid)
	return accountJSON{
		AuthToken:       a.AuthToken.Reveal(),
		DateCreated:     date(a.DateCreated),
		DateUpdated:     date(a.DateUpdated),
		FriendlyName:    a.FriendlyName,
		OwnerAccountSid: a.OwnerSid,
		Sid:             a.Sid,
		Status:          a.Status,
		SubresourceURIs: map[string]string{"calls": u + "/Calls.json", "keys": u + "/Keys.json", "incoming_phone_numbers": u + "/IncomingPhoneNumbers.json"},
		Type:            "Full",
		URI:             u + ".json",
	}
}

type keyJSON struct {
	Sid          string  `json:"sid"`
	FriendlyName string  `json:"friendly_name"`
	DateCreated  *string `json:"date_created"`
	DateUpdated  *string `json:"date_updated"`
	Secret       string  `json:"secret,omitempty"` // only when created
}

func encodeKey(k *tonepay.APIKey) keyJSON {
	return keyJSON{Sid: k.Sid, FriendlyName: k.FriendlyName, DateCreated: date(k.DateCreated), DateUpdated: date(k.DateUpdated)}
}

type callJSON struct {
	Sid             string            `json:"sid"`
	DateCreated     *string           `json:"date_created"`
	DateUpdated     *string           `json:"date_updated"`
	ParentCallSid   *string           `json:"parent_call_sid"`
	AccountSid      string            `json:"account_sid"`
	To              string            `json:"to"`
	ToFormatted     string            `json:"to_formatted"`
	From            string            `json:"from"`
	FromFormatted   string            `json:"from_formatted"`
	PhoneNumberSid  *string           `json:"phone_number_sid"`
	Status          string            `json:"status"`
	StartTime       *string           `json:"start_time"`
	EndTime         *string           `json:"end_time"`
	Duration        *string           `json:"duration"`
	Price           *string           `json:"price"`
	PriceUnit       string            `json:"price_unit"`
	Direction       string            `json:"direction"`
	AnsweredBy      *string           `json:"answered_by"`
	APIVersion      string            `json:"api_version"`
	ForwardedFrom   *string           `json:"forwarded_from"`
	GroupSid        *string           `json:"group_sid"`
	CallerName      *string           `json:"caller_name"`
	QueueTime       string            `json:"queue_time"`
	TrunkSid        *string           `json:"trunk_sid"`
	URI             string            `json:"uri"`
	SubresourceURIs map[string]string `json:"subresource_uris"`
}

func encodeCall(c *tonepay.Call) callJSON {
	u := accountURI(c.AccountSid) + "/Calls/" + c.Sid
	var duration *string
	if !c.EndTime.IsZero() {
		d := strconv.Itoa(c.Duration())
		duration = &d
	}
	return callJSON{
		ParentCallSid:   orNull(c.ParentCallSid),
		PhoneNumberSid:  orNull(c.PhoneNumberSid),
		ForwardedFrom:   orNull(c.ForwardedFrom),
		Sid:             c.Sid,
		DateCreated:     date(c.DateCreated),
		DateUpdated:     date(c.DateUpdated),
		AccountSid:      c.AccountSid,
		To:              c.To,
		ToFormatted:     formatNumber(c.To),
		From:            c.From,
		FromFormatted:   formatNumber(c.From),
		Status:          c.Status,
		StartTime:       date(c.StartTime),
		EndTime:         date(c.EndTime),
		Duration:        duration,
		PriceUnit:       "USD",
		Direction:       c.Direction,
		APIVersion:      apiVersion,
		QueueTime:       "0",
		URI:             u + ".json",
		SubresourceURIs: callSubresources(u),
	}
}

// orNull is s, or JSON null when s is empty (Twilio's nullable fields).
func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// callSubresources are Twilio's, every key of api.v2010.account.call:
// clients that follow one must find it, even where tonepay serves only
// Payments.
func callSubresources(u string) map[string]string {
	m := map[string]string{}
	for key, name := range map[string]string{
		"notifications": "Notifications", "recordings": "Recordings", "payments": "Payments", "events": "Events",
		"siprec": "Siprec", "streams": "Streams", "transcriptions": "Transcriptions",
		"user_defined_message_subscriptions": "UserDefinedMessageSubscriptions", "user_defined_messages": "UserDefinedMessages",
	} {
		m[key] = u + "/" + name + ".json"
	}
	return m
}

// formatNumber is Twilio's *_formatted: a North American number reads
// (415) 867-5309; anything else (other countries, client:name, SIP) is
// shown as it is.
func formatNumber(n string) string {
	d, ok := strings.CutPrefix(n, "+1")
	if !ok || len(d) != 10 || strings.Trim(d, "0123456789") != "" {
		return n
	}
	return "(" + d[:3] + ") " + d[3:6] + "-" + d[6:]
}

type paymentJSON struct {
	AccountSid  string  `json:"account_sid"`
	CallSid     string  `json:"call_sid"`
	Sid         string  `json:"sid"`
	DateCreated *string `json:"date_created"`
	DateUpdated *string `json:"date_updated"`
	URI         string  `json:"uri"`
}

// encodePayment is the body of Payments create and update, first answer and
// replay alike: Twilio returns no capture state here, only the resource;
// progress goes to the StatusCallback.
func encodePayment(p *tonepay.Payment) paymentJSON {
	return paymentJSON{
		AccountSid:  p.AccountSid,
		CallSid:     p.CallSid,
		Sid:         p.Sid,
		DateCreated: date(p.DateCreated),
		DateUpdated: date(p.DateUpdated),
		URI:         accountURI(p.AccountSid) + "/Calls/" + p.CallSid + "/Payments/" + p.Sid + ".json",
	}
}

// page is a list request's position: Twilio's Page and PageSize.
type page struct {
	Page, Size int
}

const (
	defaultPageSize = 50
	maxPageSize     = 1000 // Twilio's
	// maxOffset bounds how deep Page may reach (Page × PageSize): a store
	// skips every row before the page, so the bound is the bound on a list
	// request's cost, and it keeps the offset far from overflowing. Deeper
	// lists are read with filters.
	maxOffset = 1_000_000
)

// parseList reads a list request's query: its filters and its page.
func parseList(w http.ResponseWriter, r *http.Request) (url.Values, page, error) {
	q, err := parseForm(w, r)
	if err != nil {
		return nil, page{}, err
	}
	p, err := parsePage(q)
	return q, p, err
}

// parsePage reads Page (from 0) and PageSize (1 to 1000, default 50), and
// refuses a page beyond maxOffset. PageToken, which Twilio's own page URIs
// carry, is not needed here: the page URIs we write carry Page, and a
// PageToken from elsewhere is ignored.
func parsePage(q url.Values) (page, error) {
	p := page{Size: defaultPageSize}
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return p, tonepay.Errorf(codeMalformed, "Invalid value for parameter PageSize: must be a whole number from 1 to %d", maxPageSize)
		}
		p.Size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, tonepay.Errorf(codeMalformed, "Invalid value for parameter Page: must be a whole number from 0")
		}
		// Divided, not multiplied: Page × PageSize may overflow.
		if n > maxOffset/p.Size {
			return p, tonepay.Errorf(codeMalformed, "Invalid value for parameter Page: with PageSize %d, Page may be at most %d (lists are paged %d rows deep; filter to see further)",
				p.Size, maxOffset/p.Size, maxOffset)
		}
		p.Page = n
	}
	return p, nil
}

// offset and limit for a store query; one more row than the page tells whether
// a next page exists.
func (p page) offset() int { return p.Page * p.Size }
func (p page) limit() int  { return p.Size + 1 }

// writePage writes Twilio's paging envelope around items (which may hold one
// extra item, meaning there is a next page). filter keeps the list's query
// parameters in the page URIs.
func writePage[T any](w http.ResponseWriter, path, key string, filter url.Values, p page, items []T) {
	more := len(items) > p.Size
	if more {
		items = items[:p.Size]
	}
	uri := func(n int) string {
		q := url.Values{}
		for k, v := range filter {
			q[k] = v
		}
		q.Set("Page", strconv.Itoa(n))
		q.Set("PageSize", strconv.Itoa(p.Size))
		return path + "?" + q.Encode()
	}
	var next, prev *string
	if more {
		s := uri(p.Page + 1)
		next = &s
	}
	if p.Page > 0 {
		s := uri(p.Page - 1)
		prev = &s
	}
	start := p.offset()
	end := start
	if len(items) > 0 {
		end = start + len(items) - 1
	}
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		key:                 items,
		"end":               end,
		"first_page_uri":    uri(0),
		"next_page_uri":     next,
		"page":              p.Page,
		"page_size":         p.Size,
		"previous_page_uri": prev,
		"start":             start,
		"uri":               uri(p.Page),
	})
}

// numberJSON is api.v2010.account.incoming_phone_number. What tonepay does
// not model has Twilio's value for a plain local number: voice only, no
// address needed, no SMS, no trunk, no emergency calling.
type numberJSON struct {
	AccountSid             string          `json:"account_sid"`
	AddressSid             *string         `json:"address_sid"`
	AddressRequirements    string          `json:"address_requirements"`
	APIVersion             string          `json:"api_version"`
	Beta                   bool            `json:"beta"`
	Capabilities           map[string]bool `json:"capabilities"`
	DateCreated            *string         `json:"date_created"`
	DateUpdated            *string         `json:"date_updated"`
	FriendlyName           string          `json:"friendly_name"`
	IdentitySid            *string         `json:"identity_sid"`
	PhoneNumber            string          `json:"phone_number"`
	Origin                 string          `json:"origin"`
	Sid                    string          `json:"sid"`
	SMSApplicationSid      *string         `json:"sms_application_sid"`
	SMSFallbackMethod      string          `json:"sms_fallback_method"`
	SMSFallbackURL         string          `json:"sms_fallback_url"`
	SMSMethod              string          `json:"sms_method"`
	SMSURL                 string          `json:"sms_url"`
	StatusCallback         string          `json:"status_callback"`
	StatusCallbackMethod   string          `json:"status_callback_method"`
	TrunkSid               *string         `json:"trunk_sid"`
	URI                    string          `json:"uri"`
	VoiceReceiveMode       string          `json:"voice_receive_mode"`
	VoiceApplicationSid    *string         `json:"voice_application_sid"`
	VoiceCallerIDLookup    bool            `json:"voice_caller_id_lookup"`
	VoiceFallbackMethod    string          `json:"voice_fallback_method"`
	VoiceFallbackURL       string          `json:"voice_fallback_url"`
	VoiceMethod            string          `json:"voice_method"`
	VoiceURL               string          `json:"voice_url"`
	EmergencyStatus        string          `json:"emergency_status"`
	EmergencyAddressSid    *string         `json:"emergency_address_sid"`
	EmergencyAddressStatus string          `json:"emergency_address_status"`
	BundleSid              *string         `json:"bundle_sid"`
	Status                 string          `json:"status"`
	Type                   string          `json:"type"`
}

func encodeNumber(n *tonepay.PhoneNumber) numberJSON {
	return numberJSON{
		AccountSid:             n.AccountSid,
		AddressRequirements:    "none",
		APIVersion:             apiVersion,
		Capabilities:           map[string]bool{"voice": true, "sms": false, "mms": false, "fax": false},
		DateCreated:            date(n.DateCreated),
		DateUpdated:            date(n.DateUpdated),
		FriendlyName:           n.FriendlyName,
		PhoneNumber:            n.Number,
		Origin:                 "twilio",
		Sid:                    n.Sid,
		SMSFallbackMethod:      "POST",
		SMSMethod:              "POST",
		StatusCallback:         n.StatusCallback,
		StatusCallbackMethod:   n.StatusCallbackMethod,
		URI:                    accountURI(n.AccountSid) + "/IncomingPhoneNumbers/" + n.Sid + ".json",
		VoiceReceiveMode:       "voice",
		VoiceFallbackMethod:    n.VoiceFallbackMethod,
		VoiceFallbackURL:       n.VoiceFallbackURL,
		VoiceMethod:            n.VoiceMethod,
		VoiceURL:               n.VoiceURL,
		EmergencyStatus:        "Inactive",
		EmergencyAddressStatus: "unregistered",
		Status:                 "in-use",
		Type:                   "local",
	}
}
