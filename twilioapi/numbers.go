package twilioapi

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tonepay/tonepay"
)

// The IncomingPhoneNumbers routes: API keys may use them (as Calls), and a
// main account reaches its subaccounts' numbers through their paths
// (inAccount). The rules (E.164, one owner, defaults) are the service's; this
// file checks the form of each value.

func (s *server) handleNumberList(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	q, p, err := parseList(w, r)
	if err != nil {
		return err
	}
	list, err := s.svc.FindNumbers(r.Context(), acct.Sid, tonepay.NumberFilter{PhoneNumber: q.Get("PhoneNumber"),
		FriendlyName: q.Get("FriendlyName"), Offset: p.offset(), Limit: p.limit()})
	if err != nil {
		return err
	}
	out := make([]numberJSON, len(list))
	for i, n := range list {
		out[i] = encodeNumber(n)
	}
	writePage(w, accountURI(acct.Sid)+"/IncomingPhoneNumbers.json", "incoming_phone_numbers", filterOf(q, "PhoneNumber", "FriendlyName"), p, out)
	return nil
}

func (s *server) handleNumberCreate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	if form.Get("PhoneNumber") == "" && form.Get("AreaCode") != "" {
		return tonepay.Errorf(tonepay.CodeNoNumbersInAreaCode, "No phone numbers found in area code %s: tonepay has no pool of numbers; give PhoneNumber", clip(form.Get("AreaCode"), 16))
	}
	p := params{v: form, bad: codeMalformed}
	number := p.required("PhoneNumber")
	voice := numberVoice(&p)
	if p.err != nil {
		return p.err
	}
	n, err := s.svc.CreateNumber(r.Context(), &tonepay.CreateNumberRequest{AccountSid: acct.Sid, PhoneNumber: number, NumberVoice: voice})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, encodeNumber(n))
	return nil
}

func (s *server) handleNumberFetch(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	n, err := s.svc.FindNumber(r.Context(), acct.Sid, pathSid(r, "NumberSid"))
	if err != nil {
		return inPath(r, err)
	}
	writeJSON(w, http.StatusOK, encodeNumber(n))
	return nil
}

// handleNumberUpdate changes the fields sent. As with Calls, a request that
// does not parse answers 20404 first when the number is not the account's.
func (s *server) handleNumberUpdate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	p := params{v: form, bad: codeMalformed}
	voice := numberVoice(&p)
	// Twilio moves a number to another subaccount with AccountSid; tonepay
	// does not yet, and says so rather than ignore it.
	if to := form.Get("AccountSid"); to != "" && to != acct.Sid {
		p.invalid("AccountSid", clip(to, 40), "moving a number to another account is not supported")
	}
	if p.err != nil {
		if _, ferr := s.svc.FindNumber(r.Context(), acct.Sid, pathSid(r, "NumberSid")); ferr != nil {
			return inPath(r, ferr)
		}
		return p.err
	}
	n, err := s.svc.UpdateNumber(r.Context(), &tonepay.UpdateNumberRequest{AccountSid: acct.Sid, Sid: pathSid(r, "NumberSid"), NumberVoice: voice})
	if err != nil {
		return inPath(r, err)
	}
	writeJSON(w, http.StatusOK, encodeNumber(n))
	return nil
}

func (s *server) handleNumberDelete(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	if err := s.svc.DeleteNumber(r.Context(), acct.Sid, pathSid(r, "NumberSid")); err != nil {
		return inPath(r, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxFriendlyName is Twilio's bound on a number's FriendlyName.
const maxFriendlyName = 64

// numberVoice reads the fields create and update share; a field absent from
// the form stays nil (unchanged, or its default on create).
func numberVoice(p *params) tonepay.NumberVoice {
	opt := func(name string) *string {
		if vs, ok := p.v[name]; ok {
			v := vs[0]
			return &v
		}
		return nil
	}
	v := tonepay.NumberVoice{FriendlyName: opt("FriendlyName")}
	if v.FriendlyName != nil && utf8.RuneCountInString(*v.FriendlyName) > maxFriendlyName {
		p.invalid("FriendlyName", clip(*v.FriendlyName, 64), "at most 64 characters")
	}
	type field struct {
		name string
		dst  **string
	}
	// In a fixed order, so that the first bad field is the one reported.
	for _, f := range []field{{"VoiceUrl", &v.VoiceURL}, {"VoiceFallbackUrl", &v.VoiceFallbackURL}, {"StatusCallback", &v.StatusCallback}} {
		name, dst := f.name, f.dst
		if *dst = opt(name); *dst != nil && !absoluteHTTP(**dst) {
			p.fail(tonepay.Errorf(tonepay.CodeInvalidURL, "Invalid Url for parameter %s: must be an absolute http or https URL", name))
		}
	}
	for _, f := range []field{{"VoiceMethod", &v.VoiceMethod}, {"VoiceFallbackMethod", &v.VoiceFallbackMethod}, {"StatusCallbackMethod", &v.StatusCallbackMethod}} {
		name, dst := f.name, f.dst
		if *dst = opt(name); *dst != nil {
			m := strings.ToUpper(**dst)
			if m != "" && m != http.MethodGet && m != http.MethodPost {
				p.fail(tonepay.Errorf(tonepay.CodeInvalidMethod, "Invalid Method for parameter %s: must be GET or POST", name))
			}
			*dst = &m
		}
	}
	return v
}

// absoluteHTTP reports whether s is empty (no URL) or an absolute http(s)
// URL with a host.
func absoluteHTTP(s string) bool {
	if s == "" {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
