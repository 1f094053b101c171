package webhook

import (
	"log/slog"
	"sync"
	"time"
)

// AppErrorLog logs the errors of calls' apps: a TwiML URL that answers 404,
// nothing, or a document tonepay cannot run. The call's timeline holds each
// one; without a line in the log an operator whose app is broken sees calls
// end and nothing else. Like the Dispatcher's lines about failing callbacks
// it logs at WARN, at most one line per host per Every, the next one
// counting those held back (similar_not_logged); and like them it names the
// host only: the rest of the URL may carry the tenant's secrets (its
// credentials always do), and the document is the tenant's.
type AppErrorLog struct {
	Logger *slog.Logger
	Now    func() time.Time // default time.Now
	Every  time.Duration    // default 1 min
	once   sync.Once
	logged logLimit
}

// Report logs that the app at rawURL caused error code (Twilio's, 0 when
// it has none, as a redirect loop) on call callSid. An empty rawURL is an
// inline Twiml document. It is quick: the call runner calls it after
// commit.
func (l *AppErrorLog) Report(callSid string, code int, rawURL string) {
	l.once.Do(func() {
		if l.Logger == nil {
			l.Logger = slog.New(slog.DiscardHandler)
		}
		if l.Now == nil {
			l.Now = time.Now
		}
		if l.Every <= 0 {
			l.Every = time.Minute
		}
	})
	host := "inline TwiML"
	if rawURL != "" {
		host = hostKey(rawURL)
	}
	args := []any{"call", callSid, "host", host}
	if code != 0 {
		args = append(args, "code", code)
	}
	l.logged.warn(l.Logger, "app "+host, l.Now(), l.Every,
		"a call's app failed; the call's timeline says how (tonepay call timeline CALLSID)", args...)
}
