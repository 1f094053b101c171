package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/cmd/tonepay/internal/cliflag"
	"github.com/tonepay/tonepay/mcp"
)

const mcpUsage = `Usage: tonepay mcp [--server URL]

Serves MCP (the tools an AI agent takes payments with, never seeing the
card) on stdin and stdout, for an MCP client that starts it as a command.
It relays to a running server's /mcp: the server and credentials come from
--server (TONEPAY_SERVER, default http://127.0.0.1:8080),
TONEPAY_ACCOUNT_SID and TONEPAY_AUTH_TOKEN (an account's, or an API key's
SID and secret), as for "tonepay call".
`

// mcpCmd is `tonepay mcp`: MCP over stdio, relayed to serve's /mcp (mcp.Relay).
func mcpCmd(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, mcpUsage) }
	server := fs.String("server", client.Server(getenv), "the tonepay server")
	if err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return flag.ErrHelp
	}
	// client.New checks the URL and the credentials as `tonepay call` does.
	c, err := client.New(*server, getenv("TONEPAY_ACCOUNT_SID"), getenv("TONEPAY_AUTH_TOKEN"))
	if err != nil {
		if errors.Is(err, client.ErrNoCredentials) {
			return err
		}
		return fmt.Errorf("--server (or TONEPAY_SERVER) %w", err)
	}
	tr := &sdk.StreamableClientTransport{
		Endpoint:   strings.TrimSuffix(c.BaseURL(), "/") + "/mcp",
		HTTPClient: &http.Client{Transport: basicAuth{getenv("TONEPAY_ACCOUNT_SID"), getenv("TONEPAY_AUTH_TOKEN")}},
	}
	srv, relay, err := mcp.Relay(ctx, tr)
	if err != nil {
		return unreachable(c.BaseURL(), err, callFix)
	}
	defer relay.Close()
	return srv.Run(ctx, &sdk.StdioTransport{})
}

// basicAuth signs each request to /mcp in as the account.
type basicAuth struct{ user, pass string }

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.pass)
	return http.DefaultTransport.RoundTrip(r)
}
