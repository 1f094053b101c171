package mcp

import (
	"context"
	"fmt"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Relay returns the server `tonepay mcp` serves over stdio: remote's tools
// (a session with a running server's /mcp), each call forwarded as it came
// and its result returned as it went.
//
// Why a server of tools that forward, rather than JSON-RPC messages copied
// between two raw transport connections: the SDK's streamable client keeps
// its protocol state (the negotiated version it sends in each request's
// MCP-Protocol-Version header, the standalone event stream it opens after
// initialize) in its ClientSession, which a raw connection never
// initializes; a copier would have to redo that by hand. Here each side is
// the SDK's own, the stdio agent negotiates with this process and this
// process with the server, and what crosses is only tool calls and their
// results, which the server has already masked. Tools are listed once, at
// start: the server's set is fixed.
func Relay(ctx context.Context, remote *sdk.ClientSession) (*sdk.Server, error) {
	init := remote.InitializeResult()
	srv := sdk.NewServer(&sdk.Implementation{Name: "tonepay", Version: Version}, &sdk.ServerOptions{Instructions: init.Instructions})
	for t, err := range remote.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("listing the server's MCP tools: %w", err)
		}
		srv.AddTool(t, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return remote.CallTool(ctx, &sdk.CallToolParams{Name: req.Params.Name, Arguments: req.Params.Arguments})
		})
	}
	return srv, nil
}
