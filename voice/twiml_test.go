package voice

import (
	"reflect"
	"testing"
)

const docURL = "https://ivr.acme.io/ivr/start.xml?lang=en"

var (
	gatherDefaults = Verb{Name: "Gather", FinishOnKey: "#", Timeout: 5, Method: "POST", Action: docURL}
	dialDefaults   = Verb{Name: "Dial", Text: "+1555", Method: "POST", Timeout: 30, TimeLimit: 14400}
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, body string
		code       int    // 0: parses
		want       []Verb // checked when set
		warnings   int
	}{
		{"empty response", `<Response/>`, 0, nil, 0},
		{"say defaults", `<Response><Say>Hello <emphasis>there</emphasis></Say></Response>`, 0,
			[]Verb{{Name: "Say", Text: "Hello there", Language: "en-US", Loop: 1}}, 0},
		{"say attrs", `<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="Polly.Joanna" language="fr-FR" loop="0">Bonjour</Say></Response>`, 0,
			[]Verb{{Name: "Say", Text: "Bonjour", Voice: "Polly.Joanna", Language: "fr-FR", Loop: 0}}, 0},
		// Twilio's 13xxx codes of Say, Gather and Dial are warnings (but 13338):
		// the default runs, with one warning per code.
		{"say bad loop", `<Response><Say loop="x">a</Say></Response>`, 0, []Verb{{Name: "Say", Text: "a", Language: "en-US", Loop: 1}}, 1},
		{"say negative loop", `<Response><Say loop="-1">a</Say></Response>`, 0, []Verb{{Name: "Say", Text: "a", Language: "en-US", Loop: 1}}, 1},
		{"play relative", `<Response><Play loop="2">../audio/hi.mp3</Play></Response>`, 0,
			[]Verb{{Name: "Play", Text: "https://ivr.acme.io/audio/hi.mp3", Loop: 2}}, 0},
		{"play digits", `<Response><Play digits="wW12#"/></Response>`, 0, []Verb{{Name: "Play", Digits: "wW12#", Loop: 1}}, 0},
		// ...and so are Play's, Pause's, Redirect's and Reject's.
		{"play bad digits", `<Response><Play digits="12x"/></Response>`, 0, []Verb{{Name: "Play", Loop: 1}}, 1},
		{"play bad loop", `<Response><Play loop="-2">/a.wav</Play></Response>`, 0, []Verb{{Name: "Play", Text: "https://ivr.acme.io/a.wav", Loop: 1}}, 1},
		{"pause default", `<Response><Pause/></Response>`, 0, []Verb{{Name: "Pause", Length: 1}}, 0},
		{"pause length", `<Response><Pause length="7"/></Response>`, 0, []Verb{{Name: "Pause", Length: 7}}, 0},
		{"pause zero", `<Response><Pause length="0"/></Response>`, 0, []Verb{{Name: "Pause", Length: 1}}, 1},
		{"pause bad", `<Response><Pause length="long"/><Pause length="x"/></Response>`, 0, []Verb{{Name: "Pause", Length: 1}, {Name: "Pause", Length: 1}}, 1},
		{"gather defaults", `<Response><Gather/></Response>`, 0,
			[]Verb{{Name: "Gather", FinishOnKey: "#", Timeout: 5, Method: "POST", Action: docURL}}, 0},
		{"gather attrs", `<Response><Gather input="dtmf" numDigits="4" finishOnKey="" timeout="9" action="next?x=1" method="get" actionOnEmptyResult="true"><Say>Enter</Say><Pause length="2"/><Play>/a.wav</Play></Gather></Response>`, 0,
			[]Verb{{Name: "Gather", NumDigits: 4, FinishOnKey: "", Timeout: 9, Action: "https://ivr.acme.io/ivr/next?x=1", Method: "GET", ActionOnEmptyResult: true,
				Prompts: []Verb{{Name: "Say", Text: "Enter", Language: "en-US", Loop: 1}, {Name: "Pause", Length: 2}, {Name: "Play", Text: "https://ivr.acme.io/a.wav", Loop: 1}}}}, 0},
		{"gather star", `<Response><Gather finishOnKey="*"/></Response>`, 0, nil, 0},
		{"gather speech", `<Response><Gather input="speech"/></Response>`, 0, []Verb{withInput(gatherDefaults, "speech")}, 0},
		{"gather dtmf speech", `<Response><Gather input="dtmf speech"/></Response>`, 0, []Verb{withInput(gatherDefaults, "dtmf speech")}, 0},
		{"gather bad numDigits", `<Response><Gather numDigits="0"/></Response>`, 0, []Verb{gatherDefaults}, 1},
		{"gather bad timeout", `<Response><Gather timeout="soon"/></Response>`, 0, []Verb{gatherDefaults}, 1},
		{"gather timeout auto", `<Response><Gather timeout="auto"/></Response>`, 0, []Verb{gatherDefaults}, 0},
		{"gather bad finishOnKey", `<Response><Gather finishOnKey="##"/></Response>`, 0, []Verb{gatherDefaults}, 1},
		{"gather bad method", `<Response><Gather method="PUT"/></Response>`, 0, []Verb{gatherDefaults}, 1},
		{"gather bad values, one warning per code", `<Response><Gather timeout="x"/><Gather timeout="y" numDigits="z"><Say loop="q">a</Say></Gather></Response>`, 0, nil, 3},
		{"gather bad empty", `<Response><Gather actionOnEmptyResult="yes"/></Response>`, 13338, nil, 0},
		{"gather nests dial", `<Response><Gather><Dial>+1</Dial></Gather></Response>`, 13320, nil, 0},
		{"gather nests play digits", `<Response><Gather><Play digits="1"/></Gather></Response>`, 13320, nil, 0},
		{"gather unknown attrs warn once", `<Response><Gather bargeIn="true" colour="x" size="9"/></Response>`, 0, nil, 1},
		{"redirect", `<Response><Redirect method="GET">../b</Redirect></Response>`, 0,
			[]Verb{{Name: "Redirect", Text: "https://ivr.acme.io/b", Method: "GET"}}, 0},
		{"redirect default method", `<Response><Redirect>https://other.example/x</Redirect></Response>`, 0,
			[]Verb{{Name: "Redirect", Text: "https://other.example/x", Method: "POST"}}, 0},
		{"redirect bad method", `<Response><Redirect method="DELETE">../b</Redirect></Response>`, 0, []Verb{{Name: "Redirect", Text: "https://ivr.acme.io/b", Method: "POST"}}, 1},
		{"hangup", `<Response><Hangup/></Response>`, 0, []Verb{{Name: "Hangup"}}, 0},
		{"reject default", `<Response><Reject/></Response>`, 0, []Verb{{Name: "Reject", Reason: "rejected"}}, 0},
		{"reject busy", `<Response><Reject reason="busy"/></Response>`, 0, []Verb{{Name: "Reject", Reason: "busy"}}, 0},
		{"reject bad", `<Response><Reject reason="nope"/></Response>`, 0, []Verb{{Name: "Reject", Reason: "rejected"}}, 1},
		{"dial bare", `<Response><Dial> +15551234567 </Dial></Response>`, 0,
			[]Verb{{Name: "Dial", Text: "+15551234567", Method: "POST", Timeout: 30, TimeLimit: 14400}}, 0},
		{"dial timeLimit hangupOnStar", `<Response><Dial timeLimit="60" hangupOnStar="true">+1555</Dial></Response>`, 0,
			[]Verb{{Name: "Dial", Text: "+1555", Method: "POST", Timeout: 30, TimeLimit: 60, HangupOnStar: true}}, 0},
		{"dial bad timeLimit", `<Response><Dial timeLimit="x">+1555</Dial></Response>`, 0, []Verb{dialDefaults}, 1},
		{"dial bad hangupOnStar", `<Response><Dial hangupOnStar="yes">+1555</Dial></Response>`, 0, []Verb{dialDefaults}, 1},
		{"dial bad method", `<Response><Dial method="PUT">+1555</Dial></Response>`, 0, []Verb{dialDefaults}, 1},
		{"dial nouns", `<Response><Dial action="/dialed" method="GET" timeout="10" callerId="+15550001111"><Number>+15551</Number><Client>agent</Client><Sip>sip:a@b.example</Sip></Dial></Response>`, 0,
			[]Verb{{Name: "Dial", Action: "https://ivr.acme.io/dialed", Method: "GET", Timeout: 10, TimeLimit: 14400, CallerID: "+15550001111",
				Nouns: []Noun{{"Number", "+15551"}, {"Client", "agent"}, {"Sip", "sip:a@b.example"}}}}, 0},
		{"dial conference", `<Response><Dial><Conference>room</Conference></Dial></Response>`, 13215, nil, 0},
		{"dial nothing", `<Response><Dial/></Response>`, 13223, nil, 0},
		{"dial bad timeout", `<Response><Dial timeout="-1">+1555</Dial></Response>`, 0, []Verb{dialDefaults}, 1},
		{"connect raw", `<Response><Connect action="/after"><Stream url="wss://x.example/s"/></Connect></Response>`, 0,
			[]Verb{{Name: "Connect", Action: "https://ivr.acme.io/after", Method: "POST", Streams: []Stream{{URL: "wss://x.example/s", Track: "inbound_track", Bidirectional: true}}}}, 0},
		{"pay kept", `<Response><Pay chargeAmount="10.00"><Prompt for="payment-card-number"><Say>Card</Say></Prompt></Pay></Response>`, 0,
			nil, 0},
		{"comments ignored", `<Response><!-- hi --><Hangup/></Response><!-- end -->`, 0, []Verb{{Name: "Hangup"}}, 0},
		{"unknown verb", `<Response><Record/></Response>`, CodeSchema, nil, 0},
		{"case sensitive", `<Response><say>hi</say></Response>`, CodeSchema, nil, 0},
		{"unclosed", `<Response><Say>hi</Response>`, CodeParse, nil, 0},
		{"unquoted attribute", `<Response><Pause length=2/></Response>`, CodeParse, nil, 0},
		{"whitespace before decl", "\n <?xml version=\"1.0\"?><Response/>", CodeParse, nil, 0},
		{"text after root", `<Response/>junk`, CodeParse, nil, 0},
		{"not xml", `{"hello":1}`, CodeParse, nil, 0},
		{"wrong root", `<Reply><Say>x</Say></Reply>`, CodeRoot, nil, 0},
		{"empty body", "  \n", CodeEmptyBody, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(tt.body), docURL)
			if tt.code != 0 {
				if err == nil || err.Code != tt.code {
					t.Fatalf("error %v, want code %d", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if tt.want != nil && !reflect.DeepEqual(doc.Verbs, tt.want) {
				t.Errorf("verbs\n got %+v\nwant %+v", doc.Verbs, tt.want)
			}
			if len(doc.Warnings) != tt.warnings {
				t.Errorf("warnings %v, want %d", doc.Warnings, tt.warnings)
			}
		})
	}
}

func TestParseInline(t *testing.T) {
	// Inline Twiml has no URL: a relative action is 15004, and a Gather
	// without action has none.
	if _, err := Parse([]byte(`<Response><Gather action="next"/></Response>`), ""); err == nil || err.Code != CodeRelativeAction {
		t.Fatalf("relative action: %v", err)
	}
	doc, err := Parse([]byte(`<Response><Gather/></Response>`), "")
	if err != nil || doc.Verbs[0].Action != "" {
		t.Fatalf("%v %+v", err, doc)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct{ base, ref, want string }{
		{"https://a.example/ivr/start.xml?x=1", "", "https://a.example/ivr/start.xml?x=1"},
		{"https://a.example/ivr/start.xml", "next", "https://a.example/ivr/next"},
		{"https://a.example/ivr/start.xml", "../nextInstructions", "https://a.example/nextInstructions"},
		{"https://a.example/ivr/start.xml", "/root?y=2", "https://a.example/root?y=2"},
		{"https://a.example/ivr/", "?q=1", "https://a.example/ivr/?q=1"},
		{"http://127.0.0.1:8080/a/b", "c", "http://127.0.0.1:8080/a/c"},
		{"https://a.example/a#rt=1000", "b", "https://a.example/b"},
		{"https://a.example/a", "https://b.example/z", "https://b.example/z"},
		{"https://a.example/a", "//b.example/z", "https://b.example/z"},
		{"", "https://b.example/z", "https://b.example/z"},
	}
	for _, tt := range tests {
		got, err := Resolve(tt.base, tt.ref)
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q, %q) = %q, %v; want %q", tt.base, tt.ref, got, err, tt.want)
		}
	}
	for _, bad := range [][2]string{{"", "next"}, {"https://a.example/", "ftp://x/y"}, {"https://a.example/", "%zz"}} {
		if _, err := Resolve(bad[0], bad[1]); err == nil {
			t.Errorf("Resolve(%q, %q) resolved", bad[0], bad[1])
		}
	}
}
