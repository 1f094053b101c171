// Package dtmf reads and writes DTMF keys as in-band tones on 8 kHz audio: a
// streaming detector held to ITU-T Q.24's accept and reject limits
// (frequency, twist, duration, pause, signal to noise, talk-off), a tone
// generator, a suppressor that masks tones on audio relayed to an agent
// while a payment session is open, and G.711 companding (g711's, kept here
// for the legs). The Twilio Media Streams receiver and the SIP leg feed it a
// call's inbound audio; the media-stream sender plays Tone while a simulated
// caller presses a key. It imports only the standard library and g711.
package dtmf
