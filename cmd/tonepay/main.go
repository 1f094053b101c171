// Command tonepay serves Twilio's agent-assisted Payments API.
//
//	tonepay serve    run the server (see `tonepay serve -h`)
//	tonepay demo     a scripted payment, end to end, on a temporary server
//	tonepay call     play the caller against a running server
//	tonepay processor  a reference Generic Pay Connector processor
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tonepay:", err)
		}
		os.Exit(2)
	}
}

const usage = `tonepay serves Twilio's agent-assisted Payments API.

Usage:
  tonepay serve [flags]   run the server; "tonepay serve -h" lists the flags
  tonepay demo            watch a payment go through, end to end, in ten seconds
  tonepay call ...        play the caller against a running server ("tonepay call" for help)
  tonepay processor       a reference Generic Pay Connector processor to try connectors with
  tonepay bench [--json]  measure this machine: tonepay against a bare net/http server

Run "go test ./..." in the source tree to test it.
`

// run is main without the process: tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "demo":
		return demo(ctx, stdout)
	case "call":
		return callCmd(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "processor":
		return processorCmd(ctx, args[1:], getenv, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
