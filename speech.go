package tonepay

// Speech is what a simulated caller says on a call, as one utterance: the
// Speech API (POST …/Calls/{CA}/Speech), `tonepay call say`, a caller
// script's say step. A <Gather input="speech"> (or "dtmf speech") takes it
// whole, as Twilio's recogniser's final result (CallService.Speak).
type Speech struct {
	AccountSid string // the call's account: another account's call is not found
	CallSid    string
	Text       string // the words, sent to the app as SpeechResult
	// Confidence is the recogniser's confidence, above 0 and at most 1;
	// 0 is DefaultSpeechConfidence.
	Confidence float64
}

// DefaultSpeechConfidence is the Confidence of speech said without one.
const DefaultSpeechConfidence = 0.9

// MaxSpeechText bounds Speech.Text, in bytes: a caller's answer to a menu
// is a few words, and every partial result callback repeats them.
const MaxSpeechText = 1024
