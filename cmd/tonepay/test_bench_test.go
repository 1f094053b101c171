package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tonepay/tonepay/examples/ivr/ivrapp"
)

// BenchmarkScript100 is `tonepay test --parallel 8` on a script of 100
// tests (the IVR's order-status call: 2 fetches, 2 presses, 3 expects)
// against examples/ivr on loopback, embedded server start included.
// docs/performance.md has the figures.
func BenchmarkScript100(b *testing.B) {
	var getenv func(string) string
	var h http.Handler
	srv := newLoopbackApp(b, func(url string) http.Handler {
		var token string
		getenv, token = scriptEnv(url)
		h = ivrapp.New(token, url)
		return h
	})
	_ = srv
	var sb strings.Builder
	sb.WriteString("app: ${APP_URL}\ntests:\n")
	for i := range 100 {
		fmt.Fprintf(&sb, "  - name: order %d\n    call: {url: /voice}\n    steps:\n      - expect: Welcome to Acme Pizza\n      - press: \"1\"\n      - press: \"%04d#\"\n      - expect: /Order( \\d){4} is in the oven/\n      - expect_status: completed\n", i, i)
	}
	script := filepath.Join(b.TempDir(), "100.yaml")
	os.WriteFile(script, []byte(sb.String()), 0o600)
	b.ResetTimer()
	for range b.N {
		if err := run(context.Background(), []string{"test", "--parallel", "8", script}, getenv, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEmbeddedStart is the embedded server's start and stop: a
// temporary SQLite store, its migrations, the main account, the listener.
func BenchmarkEmbeddedStart(b *testing.B) {
	getenv, _ := scriptEnv("")
	for range b.N {
		es, err := startEmbedded(context.Background(), getenv)
		if err != nil {
			b.Fatal(err)
		}
		if err := es.client.Health(context.Background()); err != nil {
			b.Fatal(err)
		}
		es.close()
	}
}
