package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/cmd/tonepay/internal/cliflag"
	"github.com/tonepay/tonepay/connector/generic"
)

// processorCmd is `tonepay processor`: a reference processor for the Generic
// Pay Connector protocol, to point a generic connector at.
func processorCmd(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("processor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address; port 0 picks a free port")
	user := fs.String("username", "twilio", "the username connectors must send")
	delay := fs.Duration("delay-first", 0, "hold the first request of each transaction this long, as a slow processor would")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tonepay processor [flags]   (the password is TONEPAY_PROCESSOR_PASSWORD)")
		fs.PrintDefaults()
	}
	if err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	password := getenv("TONEPAY_PROCESSOR_PASSWORD")
	if password == "" {
		return errors.New("set TONEPAY_PROCESSOR_PASSWORD: connectors authenticate with it")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	p := &generic.Processor{Username: *user, Password: tonepay.NewSecret(password), DelayFirst: *delay}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("processor listening on http://" + ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
