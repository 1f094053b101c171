package voice

import (
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/twilio/twilio-go/twiml"
)

// TestTwilioGoDocuments runs what real apps generate: documents written by
// twilio-go's own twiml package.
func TestTwilioGoDocuments(t *testing.T) {
	start, err := twiml.Voice([]twiml.Element{
		&twiml.VoiceGather{NumDigits: "1", Action: "menu", Method: "POST", Timeout: "3", ActionOnEmptyResult: "false", BargeIn: "true",
			InnerElements: []twiml.Element{&twiml.VoiceSay{Message: "Press 1 for sales", Voice: "Polly.Joanna", Language: "en-US", Loop: "1"}, &twiml.VoicePause{Length: "1"}}},
		&twiml.VoiceRedirect{Url: "start", Method: "POST"},
	})
	if err != nil {
		t.Fatal(err)
	}
	menu, _ := twiml.Voice([]twiml.Element{
		&twiml.VoiceSay{Message: "Connecting you"},
		&twiml.VoiceDial{Action: "/dialed", Timeout: "20", CallerId: "+15550001111", InnerElements: []twiml.Element{&twiml.VoiceNumber{PhoneNumber: "+15553334444"}}},
	})
	dialed, _ := twiml.Voice([]twiml.Element{&twiml.VoiceSay{Message: "Goodbye"}, &twiml.VoiceHangup{}})
	app := map[string]page{base + "start": xmlPage(start), base + "menu": xmlPage(menu), "https://ivr.acme.io/dialed": xmlPage(dialed)}
	s := newCall(nil)
	doc, perr := Parse([]byte(start), base+"start")
	if perr != nil || len(doc.Warnings) != 0 {
		t.Fatalf("%v %v\n%s", perr, doc, start)
	}
	play(t, Engine{}, s, app, []step{
		{in: answer, fetch: base + "start"},
		{serve: true, wait: sec, heard: []string{"Press 1 for sales"}},
		{at: sec, in: Input{Kind: Timeout}, wait: 4 * sec},
		{at: 4 * sec, in: Input{Kind: Timeout}, fetch: base + "start"}, // no key: the Redirect asks again
		{at: 4 * sec, serve: true, wait: 5 * sec},
		{at: 4 * sec, keys: "1", fetch: base + "menu", params: map[string]string{"Digits": "1"}},
		{at: 4 * sec, serve: true, heard: []string{"Connecting you"}, wait: 4*sec + 4*3600*sec},
		{at: 34 * sec, in: Input{Kind: FarEndHangUp}, fetch: "https://ivr.acme.io/dialed", params: map[string]string{"DialCallStatus": "completed", "DialCallDuration": "30"}},
		{at: 34 * sec, serve: true, ended: tonepay.CallCompleted, heard: []string{"Goodbye"}},
	})
}

// TestTwilioGoPrompt: twilio-go writes <Prompt for> as for_ (its VoicePrompt.For_):
// tonepay reads it as for.
func TestTwilioGoPrompt(t *testing.T) {
	doc, err := twiml.Voice([]twiml.Element{&twiml.VoicePay{ChargeAmount: "1", InnerElements: []twiml.Element{
		&twiml.VoicePrompt{For_: "expiration-date", Attempt: "2", InnerElements: []twiml.Element{&twiml.VoiceSay{Message: "Expiry again"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	d, perr := Parse([]byte(doc), base+"start")
	if perr != nil {
		t.Fatalf("%v\n%s", perr, doc)
	}
	pv := d.Verbs[0].Pay
	if pv.Invalid != "" || len(pv.Prompts) != 1 || pv.Prompts[0].For != "expiration-date" || len(d.Warnings) != 0 {
		t.Fatalf("%+v warnings %v\n%s", pv, d.Warnings, doc)
	}
}
