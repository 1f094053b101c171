package voice

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
)

// secret is what another internal service answers with: tonepay's fetches
// may reach loopback and private networks (the default policy), so a
// tenant's document can point a call at one.
const secret = "SECRET-7f3a9c"

// drive steps s through ins: an Input of Kind Fetched with no Seq is the
// app's answer to the pending fetch (404 when the app has no such page).
// It returns every timeline entry the steps made.
func drive(t *testing.T, s *State, app map[string]page, ins ...Input) []Entry {
	t.Helper()
	var tl []Entry
	for i, in := range ins {
		if in.Kind == Fetched && in.Seq == 0 {
			if s.Fetch == nil {
				t.Fatalf("input %d: nothing to serve (timeline %+v)", i, tl)
			}
			p, ok := app[s.Fetch.URL]
			if !ok {
				p = page{404, "text/html", "not found"}
			}
			in = Input{Kind: Fetched, Seq: s.Fetch.Seq, Status: p.status, ContentType: p.ct, Body: []byte(p.body)}
		}
		if (in.Kind == FetchFailed) && s.Fetch != nil {
			in.Seq = s.Fetch.Seq
		}
		tl = append(tl, Engine{}.Step(s, in, t0).Timeline...)
	}
	return tl
}

func serve() Input { return Input{Kind: Fetched} }

// TestNotTwiMLNotShown: an answer that is not TwiML reaches the timeline and
// the call's state only as its status, length and content type, whatever
// its type and status: a /metrics page, a stack dump, an HTML page, XML of
// another kind, a malformed document, an error page, JSON.
func TestNotTwiMLNotShown(t *testing.T) {
	metrics := "# HELP tonepay_build_info " + secret + "\n# TYPE tonepay_build_info gauge\n" +
		`tonepay_build_info{version="` + secret + `"} 1` + "\nhttp_requests_total{path=\"/a&b<c\"} 13245\n"
	stack := "goroutine profile: total 2\n1 @ 0x43e2d6 0x40a\n#\t0x4727c4\tmain.handle+0x44\t/src/" + secret + "/main.go:12\n"
	tests := []struct {
		name string
		p    page
		code int // the call's ErrorCode; 0: read aloud (text/plain)
	}{
		{"text/plain metrics", page{200, "text/plain; version=0.0.4; charset=utf-8", metrics}, 0},
		{"text/plain stack dump", page{200, "text/plain; charset=utf-8", stack}, 0},
		{"text/plain one word", page{200, "text/plain", secret}, 0},
		{"html page", page{200, "text/html", "<html><body><p>" + secret + "</p></body></html>"}, CodeRoot},
		{"xml of another kind", page{200, "application/xml", "<" + secret + "><v>1</v></" + secret + ">"}, CodeRoot},
		{"malformed xml", page{200, "text/xml", "&" + secret + "; <Response/>"}, CodeParse},
		{"malformed html", page{200, "text/html", "<p>" + secret + "</div>"}, CodeRoot},
		{"not xml at all", page{200, "text/xml", metrics}, CodeParse},
		{"error page", page{500, "text/plain", metrics}, CodeHTTPRetrieval},
		{"json", page{200, "application/json", `{"token":"` + secret + `"}`}, CodeContentType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newCall(nil)
			tl := drive(t, s, map[string]page{base + "start": tt.p}, answer, serve())
			b, _ := json.Marshal(tl)
			if strings.Contains(string(b), secret) {
				t.Errorf("the timeline shows the answer: %s", b)
			}
			if st, _ := json.Marshal(s); strings.Contains(string(st), secret) {
				t.Errorf("the call's state holds the answer: %s", st)
			}
			if s.Status != tonepay.CallCompleted || s.ErrorCode != tt.code {
				t.Fatalf("status %s code %d, want completed %d (%s)", s.Status, s.ErrorCode, tt.code, b)
			}
			n := strconv.Itoa(len(tt.p.body))
			switch tt.code {
			case 0: // read aloud, as Twilio does, but only its length and type are shown
				if h := said(tl); len(h) != 1 || !strings.Contains(h[0], n) || !strings.Contains(h[0], "text/plain") {
					t.Errorf("heard %q, want one entry stating %s bytes of text/plain", h, n)
				}
			case CodeParse, CodeRoot: // the error states the answer's length and type
				mt := strings.Split(tt.p.ct, ";")[0]
				if e := errorEntry(tl); !strings.Contains(e.Text, n) || !strings.Contains(e.Text, mt) {
					t.Errorf("error %q, want one stating %s bytes of %s", e.Text, n, mt)
				}
			}
		})
	}
	// A text/plain answer that is TwiML runs, as before.
	s := newCall(nil)
	tl := drive(t, s, map[string]page{base + "start": {200, "text/plain", "<Response><Say>Plain</Say></Response>"}}, answer, serve())
	if h := said(tl); len(h) != 1 || h[0] != "Plain" {
		t.Errorf("text/plain TwiML: heard %q", h)
	}
	// A document that is TwiML says what is wrong with it.
	s = newCall(nil)
	tl = drive(t, s, map[string]page{base + "start": xmlPage(`<Response><Say>hi</Gather></Response>`)}, answer, serve())
	if e := errorEntry(tl); e.Code != CodeParse || !strings.Contains(e.Text, "Gather") {
		t.Errorf("malformed TwiML: %+v, want 12100 naming the element", e)
	}
}

func said(tl []Entry) []string {
	var out []string
	for _, en := range tl {
		if en.Kind == "say" && en.Text != StockMessage {
			out = append(out, en.Text)
		}
	}
	return out
}

func errorEntry(tl []Entry) Entry {
	for _, en := range tl {
		if en.Kind == "error" {
			return en
		}
	}
	return Entry{}
}

// TestTimelineRedacted: credentials in a URL (the call's Url, a Play, a
// Gather action, a Redirect, a Dial action, a fallback, an update, an error
// quoting a URL) are never on the timeline as shown (Entry.Redacted), while
// the call's state keeps them to make its requests.
func TestTimelineRedacted(t *testing.T) {
	const pw = "tok-5be1d2"
	app := "http://AC1:" + pw + "@127.0.0.1:8080"
	tests := []struct {
		name  string
		mod   func(*State)
		pages map[string]page
		ins   []Input
		fetch string // the URL State.Fetch holds at the end; "" none
	}{
		{"play, gather action, redirect, dial action", func(s *State) { s.URL = app + "/start" }, map[string]page{
			app + "/start": xmlPage(`<Response><Play>` + app + `/a.mp3</Play><Gather numDigits="1" action="` + app + `/g"><Say>Press</Say></Gather></Response>`),
			app + "/g":     xmlPage(`<Response><Redirect method="GET">` + app + `/r</Redirect></Response>`),
			app + "/r":     xmlPage(`<Response><Dial action="/d">+15551234</Dial></Response>`),
		}, []Input{answer, serve(), {Kind: Key, Key: '1'}, serve(), serve(), {Kind: FarEndHangUp}}, app + "/d"},
		{"relative URLs keep the document's credentials", func(s *State) { s.URL = app + "/start" }, map[string]page{
			app + "/start": xmlPage(`<Response><Play>a.mp3</Play><Redirect>next</Redirect></Response>`),
		}, []Input{answer, serve()}, app + "/next"},
		{"fallback", func(s *State) { s.URL, s.FallbackURL = app+"/start", app+"/fb" }, nil,
			[]Input{answer, serve()}, app + "/fb"},
		{"fetch failed", func(s *State) { s.URL = app + "/start" }, nil,
			[]Input{answer, {Kind: FetchFailed, Code: CodeHTTPConnection, Message: "connection refused"}}, ""},
		{"audio answer", func(s *State) { s.URL = app + "/start" }, map[string]page{app + "/start": {200, "audio/mpeg", "ID3"}},
			[]Input{answer, serve()}, ""},
		{"update", nil, nil, []Input{answer, {Kind: Update, URL: app + "/u", Method: "GET"}}, app + "/u"},
		{"an error quoting the URL", func(s *State) { s.URL = app + "/start" }, map[string]page{
			app + "/start": xmlPage(`<Response><Gather action="ftp://AC1:` + pw + `@127.0.0.1/x"/></Response>`),
		}, []Input{answer, serve()}, ""},
		{"redirect loop", func(s *State) { s.URL = app + "/loop" }, map[string]page{
			app + "/loop": xmlPage(`<Response><Redirect/></Response>`),
		}, append([]Input{answer}, repeat(serve(), DefaultMaxHops+1)...), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newCall(tt.mod)
			tl := drive(t, s, tt.pages, tt.ins...)
			hosts := 0
			for _, en := range tl {
				b, _ := json.Marshal(en.Redacted())
				if strings.Contains(string(b), pw) {
					t.Errorf("shown: %s", b)
				}
				if strings.Contains(string(b), "127.0.0.1") {
					hosts++
				}
			}
			if hosts == 0 {
				t.Errorf("no entry shows the app's URL at all: %+v", tl)
			}
			got := ""
			if s.Fetch != nil {
				got = s.Fetch.URL
			}
			if got != tt.fetch {
				t.Errorf("the state's fetch is %q, want %q: the runner requests it", got, tt.fetch)
			}
		})
	}
}

func repeat(in Input, n int) []Input {
	out := make([]Input, n)
	for i := range out {
		out[i] = in
	}
	return out
}
