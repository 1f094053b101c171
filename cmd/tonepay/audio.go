package main

import (
	"log/slog"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/tts"
	"github.com/tonepay/tonepay/webhook"
)

// newAudio returns what real legs play: <Say> by espeak-ng, <Play> files
// fetched by fetcher (the call's fetcher, so under the callback policy).
// Without espeak-ng it still plays files, and says once at start-up that
// <Say> will be silence on real legs.
func newAudio(fetcher *webhook.Fetcher, log *slog.Logger) tonepay.Audio {
	cfg := tts.Config{}
	if fetcher != nil {
		cfg.Fetch = fetcher.FetchAudio
	}
	e := tts.New(cfg)
	if _, ok := e.Available(); !ok {
		log.Warn("espeak-ng not found: <Say> plays silence on real call legs (apt-get install espeak-ng)")
	}
	return e
}
