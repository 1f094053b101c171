package twilioapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tonepay/tonepay"
)

// Bounds of one Timeline request: Twilio's largest PageSize, and the one
// used when none is given, since a call's timeline is read whole.
const maxTimelinePage = 1000

// handleInbound is a simulated caller dialing one of the account's numbers
// (see tonepay.CallService.CreateInbound): the call answers as Calls create
// does, and the number's VoiceUrl runs.
func (s *server) handleInbound(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	// From and To are the service's to judge: 21212 and 21211, as Twilio.
	// ForwardedFrom, optional, is what a carrier says forwarded the call;
	// Dial, how the far end of its <Dial>s behaves.
	p := params{v: form, bad: codeMalformed}
	fe := farEnd(&p, "Dial")
	if p.err != nil {
		return p.err
	}
	c, err := s.svc.CreateInbound(r.Context(), &tonepay.InboundCallRequest{AccountSid: acct.Sid, From: form.Get("From"), To: form.Get("To"),
		ForwardedFrom: form.Get("ForwardedFrom"), FarEnd: fe})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, encodeCall(c))
	return nil
}

type timelineJSON struct {
	CallSid   string            `json:"call_sid"`
	Status    string            `json:"status"`
	Entries   []json.RawMessage `json:"entries"`
	NextAfter int64             `json:"next_after"`
}

// handleTimeline lists what happened on the call, entries after After (a
// Seq), at most PageSize; the client reads on from next_after.
//
// The call is read before its entries: a status read in the same request as
// a terminal one then means every entry of the call's TwiML is already
// stored, so a client polling until the call ends misses none of them (the
// answers to its last webhooks, kind "webhook", may still come after).
func (s *server) handleTimeline(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	q, err := parseForm(w, r)
	if err != nil {
		return s.pathFirst(r, acct, err)
	}
	p := params{v: q, bad: codeMalformed}
	var after int64
	if v := q.Get("After"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			p.invalid("After", clip(v, 24), "must be a Seq, a whole number from 0")
		}
		after = max(n, 0)
	}
	size := p.integer("PageSize", maxTimelinePage, 1, maxTimelinePage)
	if err := s.pathFirst(r, acct, p.err); err != nil {
		return err
	}
	c, err := s.findCall(r, acct)
	if err != nil {
		return err
	}
	list, err := s.svc.FindTimeline(r.Context(), acct.Sid, c.Sid, after, size)
	if err != nil {
		return inPath(r, err)
	}
	out := timelineJSON{CallSid: c.Sid, Status: c.Status, Entries: make([]json.RawMessage, 0, len(list)), NextAfter: after}
	for _, e := range list {
		out.Entries = append(out.Entries, s.withSeq(e))
		out.NextAfter = e.Seq
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// withSeq is the stored entry with "seq" spliced in as its first field. The
// entry is a voice.Entry as JSON, written by the runtime; splicing keeps
// every field it has, today's and those added later, where decoding into a
// copy of voice.Entry here would drop new ones silently (and twilioapi must
// not import voice). Key entries are already masked by the runtime when it
// stores them: nothing here could unmask them. An entry that is not a JSON
// object (never written by the runtime) is shown by its seq alone, so that
// one bad row does not hide the rest of the call.
func (s *server) withSeq(e *tonepay.TimelineEntry) json.RawMessage {
	head := []byte(`{"seq":` + strconv.FormatInt(e.Seq, 10))
	body := bytes.TrimSpace(e.Entry)
	if len(body) < 2 || body[0] != '{' || !json.Valid(body) {
		s.log.Warn("timeline entry is not a JSON object", "call", e.CallSid, "seq", e.Seq)
		return append(head, '}')
	}
	rest := bytes.TrimSpace(body[1:])
	if rest[0] == '}' { // {}
		return append(head, '}')
	}
	return append(append(head, ','), rest...)
}
