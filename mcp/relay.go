package mcp

import (
	"context"
	"fmt"
	"sync/atomic"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Relay connects to a running server's /mcp over tr and returns the server
// `tonepay mcp` serves over stdio: remote's tools, resource templates and
// prompts, each request forwarded as it came and its answer returned as it
// went, subscriptions forwarded, and remote's notifications that a
// resource changed passed on. Close remote when done.
//
// Why a server that forwards, rather than JSON-RPC messages copied between
// two raw transport connections: the SDK's streamable client keeps its
// protocol state (the negotiated version it sends in each request's
// MCP-Protocol-Version header, the standalone event stream it opens after
// initialize) in its ClientSession, which a raw connection never
// initializes; a copier would have to redo that by hand. Here each side is
// the SDK's own, the stdio agent negotiates with this process and this
// process with the server, and what crosses is what the server has
// already masked. The lists are read once, at start: the server's are fixed.
func Relay(ctx context.Context, tr sdk.Transport) (srv *sdk.Server, remote *sdk.ClientSession, err error) {
	var local atomic.Pointer[sdk.Server] // set before anything is subscribed
	c := sdk.NewClient(&sdk.Implementation{Name: "tonepay-mcp", Version: Version}, &sdk.ClientOptions{
		ResourceUpdatedHandler: func(ctx context.Context, req *sdk.ResourceUpdatedNotificationRequest) {
			if s := local.Load(); s != nil {
				s.ResourceUpdated(ctx, &sdk.ResourceUpdatedNotificationParams{URI: req.Params.URI})
			}
		},
	})
	if remote, err = c.Connect(ctx, tr, nil); err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			remote.Close()
		}
	}()
	srv = sdk.NewServer(&sdk.Implementation{Name: "tonepay", Version: Version}, &sdk.ServerOptions{
		Instructions: remote.InitializeResult().Instructions,
		SubscribeHandler: func(ctx context.Context, req *sdk.SubscribeRequest) error {
			return remote.Subscribe(ctx, &sdk.SubscribeParams{URI: req.Params.URI})
		},
		UnsubscribeHandler: func(ctx context.Context, req *sdk.UnsubscribeRequest) error {
			return remote.Unsubscribe(ctx, &sdk.UnsubscribeParams{URI: req.Params.URI})
		},
	})
	for t, err := range remote.Tools(ctx, nil) {
		if err != nil {
			return nil, nil, fmt.Errorf("listing the server's MCP tools: %w", err)
		}
		srv.AddTool(t, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return remote.CallTool(ctx, &sdk.CallToolParams{Name: req.Params.Name, Arguments: req.Params.Arguments})
		})
	}
	for t, err := range remote.ResourceTemplates(ctx, nil) {
		if err != nil {
			return nil, nil, fmt.Errorf("listing the server's MCP resources: %w", err)
		}
		srv.AddResourceTemplate(t, func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			return remote.ReadResource(ctx, &sdk.ReadResourceParams{URI: req.Params.URI})
		})
	}
	for p, err := range remote.Prompts(ctx, nil) {
		if err != nil {
			return nil, nil, fmt.Errorf("listing the server's MCP prompts: %w", err)
		}
		srv.AddPrompt(p, func(ctx context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
			return remote.GetPrompt(ctx, &sdk.GetPromptParams{Name: req.Params.Name, Arguments: req.Params.Arguments})
		})
	}
	local.Store(srv)
	return srv, remote, nil
}
