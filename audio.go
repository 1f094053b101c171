package tonepay

import "context"

// Audio renders what a real caller hears from the call's TwiML (<Say>,
// <Pay>'s prompts, <Play>) as 8 kHz G.711 mu-law, the audio of Twilio Media
// Streams and of SIP's PCMU. tts/ implements it (espeak-ng, cached); the
// media-stream and SIP legs play what it returns. A simulated call needs
// none: its caller reads the timeline.
type Audio interface {
	// Speak returns text spoken in voice and language (TwiML's attributes;
	// "" for the defaults). Errors: ErrNoSpeech when no speech engine is
	// installed (the leg plays silence and the timeline gets a warning).
	Speak(ctx context.Context, text, voice, language string) ([]byte, error)
	// Play returns the audio file at url (WAV of PCM, mu-law or A-law, or
	// raw mu-law), fetched under the callback policy, as 8 kHz mu-law.
	Play(ctx context.Context, url string) ([]byte, error)
}

// ErrNoSpeech reports that no speech engine is installed.
var ErrNoSpeech = Errorf(CodeInternal, "no speech engine: install espeak-ng")
