package mcp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Relay connects to a running server's /mcp over tr and returns the server
// `tonepay mcp` serves over stdio: remote's tools, resource templates and
// prompts, each request forwarded as it came and its answer returned as it
// went, subscriptions forwarded, and remote's notifications that a
// resource changed passed on. Close the relay when done.
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
//
// The agent's MCP session outlives the server's: when the server restarts
// (or closes an idle session), the next request that fails for want of a
// session opens a new one, subscribes again to what the agent had
// subscribed to, and is sent once more.
func Relay(ctx context.Context, tr sdk.Transport) (*sdk.Server, *RelayConn, error) {
	r := &RelayConn{tr: tr, subs: map[string]bool{}}
	r.client = sdk.NewClient(&sdk.Implementation{Name: "tonepay-mcp", Version: Version}, &sdk.ClientOptions{
		ResourceUpdatedHandler: func(ctx context.Context, req *sdk.ResourceUpdatedNotificationRequest) {
			if s := r.local.Load(); s != nil {
				s.ResourceUpdated(ctx, &sdk.ResourceUpdatedNotificationParams{URI: req.Params.URI})
			}
		},
	})
	remote, err := r.client.Connect(ctx, tr, nil)
	if err != nil {
		return nil, nil, err
	}
	r.remote = newRemote(remote)
	srv, err := r.server(ctx, remote)
	if err != nil {
		remote.Close()
		return nil, nil, err
	}
	r.local.Store(srv)
	return srv, r, nil
}

// RelayConn is the relay's session with the server, renewed when lost.
type RelayConn struct {
	tr     sdk.Transport
	client *sdk.Client
	local  atomic.Pointer[sdk.Server] // set before anything is subscribed

	mu     sync.Mutex
	remote *remote
	subs   map[string]bool // what the agent subscribed to
}

// Close ends the session with the server.
func (r *RelayConn) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remote.cs.Close()
}

func (r *RelayConn) server(ctx context.Context, remote *sdk.ClientSession) (*sdk.Server, error) {
	srv := sdk.NewServer(&sdk.Implementation{Name: "tonepay", Version: Version}, &sdk.ServerOptions{
		Instructions: remote.InitializeResult().Instructions,
		SubscribeHandler: func(ctx context.Context, req *sdk.SubscribeRequest) error {
			uri := req.Params.URI
			err := r.do(ctx, func(cs *sdk.ClientSession) error { return cs.Subscribe(ctx, &sdk.SubscribeParams{URI: uri}) })
			if err == nil {
				r.mu.Lock()
				r.subs[uri] = true
				r.mu.Unlock()
			}
			return err
		},
		UnsubscribeHandler: func(ctx context.Context, req *sdk.UnsubscribeRequest) error {
			uri := req.Params.URI
			r.mu.Lock()
			delete(r.subs, uri)
			r.mu.Unlock()
			return r.do(ctx, func(cs *sdk.ClientSession) error { return cs.Unsubscribe(ctx, &sdk.UnsubscribeParams{URI: uri}) })
		},
	})
	for t, err := range remote.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("listing the server's MCP tools: %w", err)
		}
		srv.AddTool(t, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return forward(ctx, r, func(cs *sdk.ClientSession) (*sdk.CallToolResult, error) {
				return cs.CallTool(ctx, &sdk.CallToolParams{Name: req.Params.Name, Arguments: req.Params.Arguments})
			})
		})
	}
	for t, err := range remote.ResourceTemplates(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("listing the server's MCP resources: %w", err)
		}
		srv.AddResourceTemplate(t, func(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
			return forward(ctx, r, func(cs *sdk.ClientSession) (*sdk.ReadResourceResult, error) {
				return cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: req.Params.URI})
			})
		})
	}
	for p, err := range remote.Prompts(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("listing the server's MCP prompts: %w", err)
		}
		srv.AddPrompt(p, func(ctx context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
			return forward(ctx, r, func(cs *sdk.ClientSession) (*sdk.GetPromptResult, error) {
				return cs.GetPrompt(ctx, &sdk.GetPromptParams{Name: req.Params.Name, Arguments: req.Params.Arguments})
			})
		})
	}
	return srv, nil
}

// forward is do for a request with an answer.
func forward[T any](ctx context.Context, r *RelayConn, f func(cs *sdk.ClientSession) (T, error)) (res T, err error) {
	err = r.do(ctx, func(cs *sdk.ClientSession) error {
		res, err = f(cs)
		return err
	})
	return res, err
}

// do sends f over the session with the server. When that session has
// ended (the server restarted, closed it idle, or the connection broke), it
// opens a new one, and sends f again if the first could not have reached
// the server: the session had ended before f was sent, or the server did
// not know it. A request lost in between is not sent twice (press_keys
// must not press twice): its error goes back, and the next request takes
// the new session.
func (r *RelayConn) do(ctx context.Context, f func(cs *sdk.ClientSession) error) error {
	r.mu.Lock()
	cur := r.remote
	r.mu.Unlock()
	wasGone := cur.ended()
	err := f(cur.cs)
	if err == nil || ctx.Err() != nil {
		return err
	}
	unsent := wasGone || errors.Is(err, sdk.ErrSessionMissing)
	if !unsent && !cur.ended() {
		return err // the server's answer, or a failure on a live session
	}
	fresh, rerr := r.renew(ctx, cur)
	if rerr != nil || !unsent {
		return err // the server is still out of reach, or f may have reached it
	}
	return f(fresh.cs)
}

// remote is one session with the server.
type remote struct {
	cs   *sdk.ClientSession
	gone chan struct{} // closed once cs has ended
}

func newRemote(cs *sdk.ClientSession) *remote {
	r := &remote{cs: cs, gone: make(chan struct{})}
	go func() {
		cs.Wait()
		close(r.gone)
	}()
	return r
}

func (r *remote) ended() bool {
	select {
	case <-r.gone:
		return true
	default:
		return false
	}
}

// renew replaces the session old with a new one subscribed to what the
// agent had subscribed to (unless another request renewed it already).
func (r *RelayConn) renew(ctx context.Context, old *remote) (*remote, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.remote != old {
		return r.remote, nil
	}
	cs, err := r.client.Connect(ctx, r.tr, nil)
	if err != nil {
		return nil, err
	}
	for uri := range r.subs {
		if err := cs.Subscribe(ctx, &sdk.SubscribeParams{URI: uri}); err != nil {
			delete(r.subs, uri) // gone with its payment (pruned): nothing more to hear of
		}
	}
	old.cs.Close()
	r.remote = newRemote(cs)
	return r.remote, nil
}
