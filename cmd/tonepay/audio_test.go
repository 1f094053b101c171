package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tonepay/tonepay/internal/suites"
	"github.com/tonepay/tonepay/webhook"
)

// TestNewAudio: the wired Audio plays a file through the call's fetcher and
// its policy, and speaks when espeak-ng is installed.
func TestNewAudio(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/basic")
		w.Write(bytes.Repeat([]byte{0xFF}, 1600))
	}))
	t.Cleanup(srv.Close)
	policy, err := webhook.ParsePolicy("loopback")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a := newAudio(webhook.NewFetcher(nil, policy, 0), slog.New(slog.NewTextHandler(&logs, nil)))
	audio, err := a.Play(context.Background(), srv.URL+"/beep.ulaw")
	if err != nil || len(audio) != 1600 {
		t.Fatalf("Play: %d bytes, %v; want 1600", len(audio), err)
	}

	// A policy that refuses loopback refuses Play too.
	public, err := webhook.ParsePolicy("public")
	if err != nil {
		t.Fatal(err)
	}
	refused := newAudio(webhook.NewFetcher(nil, public, 0), slog.New(slog.NewTextHandler(&logs, nil)))
	if _, err := refused.Play(context.Background(), srv.URL+"/beep.ulaw"); err == nil || !strings.Contains(err.Error(), "callback-networks") {
		t.Errorf("Play to loopback under a public-only policy: %v, want refused", err)
	}

	if _, how := suites.FindEspeak(); how != "" {
		if !strings.Contains(logs.String(), "espeak-ng not found") {
			t.Errorf("no warning without espeak-ng: %q", logs.String())
		}
		suites.Need(t, suites.SpeechSuite, how)
	}
	if logs.Len() != 0 {
		t.Errorf("logged with espeak-ng installed: %q", logs.String())
	}
	if audio, err := a.Speak(context.Background(), "Hello", "alice", "en-US"); err != nil || len(audio) < 2000 {
		t.Errorf("Speak: %d bytes, %v", len(audio), err)
	}
}
