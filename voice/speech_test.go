package voice

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func withInput(v Verb, in string) Verb {
	v.Input = in
	return v
}

func TestParseGatherSpeech(t *testing.T) {
	tests := []struct {
		name    string
		attrs   string
		want    Verb // Input, SpeechTimeout, Partial, PartialMethod only
		warning int  // the one warning's code, 0 none
	}{
		{"dtmf is the default", ``, Verb{}, 0},
		{"dtmf", `input="dtmf"`, Verb{}, 0},
		{"speech", `input="speech"`, Verb{Input: "speech"}, 0},
		{"dtmf speech", `input="dtmf speech"`, Verb{Input: "dtmf speech"}, 0},
		{"speech dtmf", `input=" speech  dtmf "`, Verb{Input: "dtmf speech"}, 0},
		{"bad input runs as dtmf", `input="voice"`, Verb{}, 13326},
		{"empty input runs as dtmf", `input=""`, Verb{}, 13326},
		{"speechTimeout auto", `input="speech" speechTimeout="auto"`, Verb{Input: "speech", SpeechTimeout: "auto"}, 0},
		{"speechTimeout seconds", `input="speech" speechTimeout="3"`, Verb{Input: "speech", SpeechTimeout: "3"}, 0},
		{"speechTimeout zero", `input="speech" speechTimeout="0"`, Verb{Input: "speech"}, 13327},
		{"speechTimeout bad", `input="speech" speechTimeout="soon"`, Verb{Input: "speech"}, 13327},
		{"partial relative, POST", `input="speech" partialResultCallback="partial"`,
			Verb{Input: "speech", Partial: "https://ivr.acme.io/ivr/partial", PartialMethod: "POST"}, 0},
		{"partial GET", `input="speech" partialResultCallback="/p" partialResultCallbackMethod="get"`,
			Verb{Input: "speech", Partial: "https://ivr.acme.io/p", PartialMethod: "GET"}, 0},
		{"partial bad method runs as POST", `input="speech" partialResultCallback="/p" partialResultCallbackMethod="PUT"`,
			Verb{Input: "speech", Partial: "https://ivr.acme.io/p", PartialMethod: "POST"}, 13329},
		{"Twilio's speech attributes: no warning", `input="speech" language="fr-FR" hints="agent, billing" profanityFilter="false" speechModel="phone_call" enhanced="true" actionOnEmptyResult="true" maxSpeechTime="30" bargeIn="false"`,
			Verb{Input: "speech"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(`<Response><Gather `+tt.attrs+`/></Response>`), base+"start")
			if err != nil {
				t.Fatal(err)
			}
			g := doc.Verbs[0]
			got := Verb{Input: g.Input, SpeechTimeout: g.SpeechTimeout, Partial: g.Partial, PartialMethod: g.PartialMethod}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			var codes []int
			for _, w := range doc.Warnings {
				codes = append(codes, w.Code)
			}
			if (tt.warning == 0) != (len(codes) == 0) || (tt.warning != 0 && (len(codes) != 1 || codes[0] != tt.warning)) {
				t.Errorf("warnings %v, want %d", codes, tt.warning)
			}
		})
	}
	// A relative partialResultCallback in a document with no URL is the
	// action's error (15004).
	if _, err := Parse([]byte(`<Response><Gather input="speech" partialResultCallback="p"/></Response>`), ""); err == nil || err.Code != CodeRelativeAction {
		t.Errorf("relative partialResultCallback in Twiml: %v, want 15004", err)
	}
}

func TestSpeech(t *testing.T) {
	const act = "https://app.test/heard"
	say := func(text string, conf float64, paying bool) Input {
		return Input{Kind: Said, Utterance: &Utterance{Text: text, Confidence: conf}, Paying: paying}
	}
	tests := []struct {
		name   string
		twiml  string
		before string // keys pressed first
		in     Input

		fetch  map[string]string // the action's params ("-" absent); nil: no fetch
		row    Entry             // the speech row (Kind, Text, Masked)
		ended  string            // the Gather's end row text, "" none
		heard  bool              // Output.Speech set
		next   string            // a say entry after (the document went on)
		unrout string            // keys unrouted (before)
	}{
		{name: "speech gather takes the words",
			twiml: `<Gather input="speech" action="` + act + `"><Say>Say agent</Say></Gather>`, in: say("I want an agent", 0, false),
			fetch: map[string]string{"SpeechResult": "I want an agent", "Confidence": "0.9", "Digits": "-", "FinishedOnKey": "-", "CallSid": "CA00000000000000000000000000000001"},
			row:   Entry{Kind: "speech", Text: "I want an agent"}, ended: "ended: SpeechResult=I want an agent Confidence=0.9", heard: true},
		{name: "confidence as given",
			twiml: `<Gather input="speech" action="` + act + `"/>`, in: say("yes", 0.42, false),
			fetch: map[string]string{"SpeechResult": "yes", "Confidence": "0.42"},
			row:   Entry{Kind: "speech", Text: "yes"}, ended: "ended: SpeechResult=yes Confidence=0.42", heard: true},
		{name: "dtmf speech: speech first wins",
			twiml: `<Gather input="dtmf speech" numDigits="1" action="` + act + `"/>`, in: say("billing", 0, false),
			fetch: map[string]string{"SpeechResult": "billing", "Confidence": "0.9"},
			row:   Entry{Kind: "speech", Text: "billing"}, ended: "ended: SpeechResult=billing Confidence=0.9", heard: true},
		{name: "speech dtmf: keys first win, speech dropped",
			twiml: `<Gather input="speech dtmf" action="` + act + `"/>`, before: "12", in: say("billing", 0, false),
			row: Entry{Kind: "speech", Text: "billing (dropped: the <Gather> took keys first)"}},
		{name: "dtmf gather drops speech",
			twiml: `<Gather action="` + act + `"/>`, in: say("billing", 0, false),
			row: Entry{Kind: "speech", Text: `billing (dropped: the <Gather> takes keys only (input="dtmf"))`}},
		{name: "speech-only gather does not take keys",
			twiml: `<Gather input="speech" action="` + act + `"/>`, before: "5", unrout: "5", in: say("sales", 0, false),
			fetch: map[string]string{"SpeechResult": "sales"},
			row:   Entry{Kind: "speech", Text: "sales"}, ended: "ended: SpeechResult=sales Confidence=0.9", heard: true},
		{name: "no gather: dropped",
			twiml: `<Say>Hold on</Say><Pause length="30"/>`, in: say("hello", 0, false),
			row: Entry{Kind: "speech", Text: "hello (dropped: no <Gather> listens: the call is in a <Pause>)"}},
		{name: "payment open: masked, the app still gets the words",
			twiml: `<Gather input="speech" action="` + act + `"/>`, in: say("4242 4242", 0, true),
			fetch: map[string]string{"SpeechResult": "4242 4242"},
			row:   Entry{Kind: "speech", Text: "(speech)", Masked: true}, ended: "ended: SpeechResult=(speech) Confidence=0.9", heard: true},
		{name: "payment open, dropped: masked",
			twiml: `<Gather action="` + act + `"/>`, in: say("4242 4242", 0, true),
			row: Entry{Kind: "speech", Text: `(speech) (dropped: the <Gather> takes keys only (input="dtmf"))`, Masked: true}},
		{name: "no action: the document goes on",
			twiml: `<Gather input="speech"/><Say>After</Say>`, in: say("hi", 0, false),
			row: Entry{Kind: "speech", Text: "hi"}, ended: "ended: SpeechResult=hi Confidence=0.9", heard: true, next: "After"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newCall(func(s *State) { s.URL, s.Twiml = "", "<Response>"+tt.twiml+"</Response>" })
			e := Engine{Instant: true}
			e.Step(s, answer, t0)
			unrouted := ""
			for i := 0; i < len(tt.before); i++ {
				if o := e.Step(s, Input{Kind: Key, Key: tt.before[i]}, t0); o.Unrouted != 0 {
					unrouted += string(o.Unrouted)
				}
			}
			if unrouted != tt.unrout {
				t.Errorf("unrouted %q, want %q", unrouted, tt.unrout)
			}
			o := e.Step(s, tt.in, t0.Add(sec))
			if len(o.Timeline) == 0 || o.Timeline[0].Kind != tt.row.Kind || o.Timeline[0].Text != tt.row.Text || o.Timeline[0].Masked != tt.row.Masked {
				t.Fatalf("timeline %+v, want first %+v", o.Timeline, tt.row)
			}
			ended, next := "", ""
			for _, en := range o.Timeline[1:] {
				if en.Kind == "verb" && en.Verb == "Gather" {
					ended = en.Text
					if en.Masked != tt.row.Masked {
						t.Errorf("Gather end masked %v", en.Masked)
					}
				}
				if en.Kind == "say" {
					next = en.Text
				}
			}
			if ended != tt.ended || next != tt.next {
				t.Errorf("ended %q next %q, want %q %q", ended, next, tt.ended, tt.next)
			}
			if (o.Speech != nil) != tt.heard {
				t.Errorf("Speech %+v, want heard %v", o.Speech, tt.heard)
			}
			if tt.fetch == nil {
				if o.Fetch != nil {
					t.Fatalf("fetch %+v, want none", o.Fetch)
				}
				if !tt.heard && s.Current == nil && tt.next == "" {
					t.Errorf("dropped speech ended the verb that waited")
				}
				return
			}
			if o.Fetch == nil || o.Fetch.URL != act || o.Fetch.Reason != "action" {
				t.Fatalf("fetch %+v, want the action", o.Fetch)
			}
			for k, v := range tt.fetch {
				got, ok := o.Fetch.Params[k]
				if v == "-" {
					if ok {
						t.Errorf("%s=%q, want absent", k, got)
					}
				} else if !ok || got[0] != v {
					t.Errorf("%s=%q, want %q", k, got, v)
				}
			}
			if s.Current != nil || s.Wait != nil {
				t.Errorf("the Gather still waits: %+v %+v", s.Current, s.Wait)
			}
		})
	}
}

// A speech gather's wait for the caller is its timeout, whatever its
// speechTimeout: that is the silence after speech, and a say is a whole
// utterance. With no speech, the Gather times out as with keys.
func TestSpeechTimeouts(t *testing.T) {
	s := newCall(func(s *State) {
		s.URL, s.Twiml = "", `<Response><Gather input="speech" timeout="3" speechTimeout="auto" action="https://app.test/a"/><Say>Nothing heard</Say></Response>`
	})
	e := Engine{Instant: true}
	o := e.Step(s, answer, t0)
	if o.Wait == nil || o.Wait.Until != t0.Add(3*sec) {
		t.Fatalf("wait %+v, want the timeout (3 s)", o.Wait)
	}
	o = e.Step(s, Input{Kind: Timeout}, t0.Add(3*sec))
	if o.Fetch != nil || len(o.Timeline) < 2 || o.Timeline[len(o.Timeline)-2].Text != "Nothing heard" {
		t.Fatalf("timeout: %+v", o.Timeline)
	}
}

func TestSpeechPartials(t *testing.T) {
	tests := []struct {
		text string
		want []string // UnstableSpeechResult of each
	}{
		{"agent", []string{"agent"}},
		{"I want  an agent", []string{"I", "I want", "I want an", "I want an agent"}},
		{"one two three four five six seven eight nine ten eleven twelve", []string{
			"one two", "one two three", "one two three four", "one two three four five", "one two three four five six",
			"one two three four five six seven eight", "one two three four five six seven eight nine",
			"one two three four five six seven eight nine ten", "one two three four five six seven eight nine ten eleven", "one two three four five six seven eight nine ten eleven twelve"}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			s := newCall(func(s *State) {
				s.URL, s.Twiml = "", `<Response><Gather input="speech" action="https://app.test/a" partialResultCallback="https://app.test/partial" partialResultCallbackMethod="GET"/></Response>`
			})
			e := Engine{Instant: true}
			e.Step(s, answer, t0)
			o := e.Step(s, Input{Kind: Said, Utterance: &Utterance{Text: tt.text}}, t0)
			if o.Speech == nil || o.Fetch == nil {
				t.Fatalf("not heard: %+v", o)
			}
			var got []string
			for i, p := range o.Speech.Partials {
				if p.URL != "https://app.test/partial" || p.Method != "GET" {
					t.Errorf("partial %d: %s %s", i, p.Method, p.URL)
				}
				if p.Params.Get("SequenceNumber") != strconv.Itoa(i+1) {
					t.Errorf("partial %d: SequenceNumber %s", i, p.Params.Get("SequenceNumber"))
				}
				if p.Params.Get("Stability") != "0.9" || p.Params.Get("CallSid") != s.CallSid || p.Params.Has("SpeechResult") {
					t.Errorf("partial %d: %v", i, p.Params)
				}
				u := p.Params.Get("UnstableSpeechResult")
				if stable := p.Params.Get("StableSpeechResult"); !strings.HasPrefix(u, stable) || stable == u {
					t.Errorf("partial %d: StableSpeechResult %q of %q", i, stable, u)
				}
				got = append(got, u)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("partials %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSpeechPartialsWhilePaying: while a payment session is open, the words
// go to the action only: no partialResultCallback (kept in the outbox), a
// warning instead, and the timeline shows "(speech)".
func TestSpeechPartialsWhilePaying(t *testing.T) {
	s := newCall(func(s *State) {
		s.URL, s.Twiml = "", `<Response><Gather input="speech" action="https://app.test/a" partialResultCallback="https://app.test/partial"/></Response>`
	})
	e := Engine{Instant: true}
	e.Step(s, answer, t0)
	o := e.Step(s, Input{Kind: Said, Utterance: &Utterance{Text: "4242 4242 4242 4242"}, Paying: true}, t0)
	if o.Speech == nil || len(o.Speech.Partials) != 0 || o.Fetch == nil || o.Fetch.Params.Get("SpeechResult") != "4242 4242 4242 4242" {
		t.Fatalf("output %+v", o)
	}
	var warned bool
	for _, en := range o.Timeline {
		if strings.Contains(en.Text, "4242") {
			t.Errorf("timeline shows the words: %+v", en)
		}
		warned = warned || en.Kind == "warning" && strings.Contains(en.Text, "partialResultCallback")
	}
	if !warned {
		t.Errorf("no warning: %+v", o.Timeline)
	}
}
