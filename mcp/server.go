// Package mcp is tonepay's Model Context Protocol server (DESIGN §12): the
// tools an AI agent uses to take a payment on a call without ever seeing
// the card, on the official Go SDK.
//
// One implementation, in process: the tools call the domain services
// (tonepay.Services) as one account, exactly as twilioapi's handlers do, and
// show sessions only as tonepay.SessionView (ViewSession is the one masking
// rule; nothing here masks or unmasks). Every rule the REST API keeps (the
// parameters' rules in ParseParams, idempotent answers, tenancy, keypad keys
// on simulated calls only) is the services' and is not repeated here. The
// HTTP door (/mcp on serve: Serve behind the API's own checks and limits;
// Handler, a plain Basic check) authenticates with the
// tonepay.Authenticator; `tonepay mcp` over stdio relays to a running
// server's /mcp (Relay, cmd/tonepay), so that the stdio agent meets the same
// server, the same tools and the same auth instead of a second
// implementation over the REST client.
package mcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay"
)

// Version is what the server says it is in its initialize answer.
const Version = "1"

// server is the tools of one account.
type server struct {
	svc     tonepay.Services
	account *tonepay.Account
	srv     *sdk.Server
	watch   watch
}

// NewServer returns an MCP server whose tools act on account acct through
// svc. acct is who authenticated (Handler decides it); every call and
// session named by a tool is read through the services as that account, so
// another account's is "not found" (20404).
func NewServer(svc tonepay.Services, acct *tonepay.Account) *sdk.Server {
	return newServer(svc, acct, nil)
}

// newServer is NewServer; opened, when set, is told when the server is
// given an MCP session over HTTP.
func newServer(svc tonepay.Services, acct *tonepay.Account, opened func(*sdk.Server)) *sdk.Server {
	s := &server{svc: svc, account: acct}
	s.srv = sdk.NewServer(&sdk.Implementation{Name: "tonepay", Version: Version}, &sdk.ServerOptions{
		Instructions: instructions,
		// Over HTTP, a session's ID names its account (Handler checks it).
		GetSessionID: func() string {
			if opened != nil {
				opened(s.srv)
			}
			return sessionID(acct)
		},
		SchemaCache:        schemas,
		SubscribeHandler:   s.subscribe,
		UnsubscribeHandler: s.unsubscribe,
	})
	s.addTools(s.srv)
	s.addResources(s.srv)
	s.addPrompts(s.srv)
	return s.srv
}

// schemas keeps the tools' schemas, inferred once: Handler makes a server
// per MCP session.
var schemas = sdk.NewSchemaCache()

// accountKey carries the authenticated account from Handler to its
// getServer.
type accountKey struct{}

func withAccount(ctx context.Context, acct *tonepay.Account) context.Context {
	return context.WithValue(ctx, accountKey{}, acct)
}

// instructions tell a model how the tools fit together.
const instructions = `tonepay takes card and bank payments on live phone calls without the digits ever reaching you.
The caller types each field on their keypad; you only ever see masked values (the last four digits of a card, the expiry as Twilio shows it).
A payment turn: list_calls to find the call; start_payment on it; request_field for each field payment_status says is required, asking the caller to type it; payment_status to see whether it was captured or failed (and what to tell the caller); complete_payment once nothing is required; cancel_payment if the caller gives up.
Rather than polling payment_status, subscribe to the payment's resource payment://{call_sid}/{payment_sid}: you are notified each time it changes. The take_payment prompt walks through a whole payment.
press_keys and say_words play the caller, on simulated calls only, for testing an agent offline.`

// toolError is a tool's failure as the model reads it: Twilio's code, the
// argument at fault when there is one, and a sentence.
type toolError struct {
	Code int
	Arg  string
	Msg  string
}

func (e *toolError) Error() string {
	if e.Arg != "" {
		return fmt.Sprintf("error %d (argument %s): %s", e.Code, e.Arg, e.Msg)
	}
	return fmt.Sprintf("error %d: %s", e.Code, e.Msg)
}

// fail turns a service's error into a tool error: its code and its
// client-safe message (tonepay.ErrorMessage: never a store's detail), with
// the argument it names when it names one by its REST name.
func fail(err error) error {
	var pe *tonepay.ParamError
	if errors.As(err, &pe) {
		return &toolError{Code: pe.Code, Arg: argName(pe.Param), Msg: pe.Error()}
	}
	msg := tonepay.ErrorMessage(err)
	return &toolError{Code: tonepay.ErrorCode(err), Arg: argIn(msg), Msg: msg}
}

// restArgs maps the REST API's parameter names to the tools' arguments,
// so that an error names what the model wrote.
var restArgs = map[string]string{
	"ChargeAmount": "charge_amount", "Currency": "currency", "PaymentMethod": "payment_method",
	"TokenType": "token_type", "PaymentConnector": "connector", "Description": "description",
	"StatusCallback": "status_callback", "Capture": "field", "IdempotencyKey": "idempotency_key",
}

func argName(rest string) string {
	if a, ok := restArgs[rest]; ok {
		return a
	}
	return rest
}

// argIn finds the argument a service's message names ("... for parameter
// ChargeAmount ..."), "" when none.
func argIn(msg string) string {
	const p = "parameter "
	i := strings.Index(msg, p)
	if i < 0 {
		return ""
	}
	name := msg[i+len(p):]
	if j := strings.IndexFunc(name, func(r rune) bool { return r == ' ' || r == ':' || r == ',' || r == '.' }); j >= 0 {
		name = name[:j]
	}
	return argName(name)
}

// badArg is a tool error for an argument the tool checks itself.
func badArg(arg, why string) error {
	return &toolError{Code: tonepay.CodeInvalidParameter, Arg: arg, Msg: why}
}

// key derives an idempotency key the payments service stores answers under,
// from the account, the tool, the call and the arguments (the agent's own
// key among them when it gave one): a model that retries a tool call after
// a lost answer gets the same payment, not a second one.
func (s *server) key(tool, callSid string, args any) string {
	b, _ := json.Marshal(args)
	h := sha256.New()
	for _, part := range []string{s.account.Sid, "mcp", tool, callSid, string(b)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// text is a result with a one-line summary as its text content.
func text(format string, args ...any) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: fmt.Sprintf(format, args...)}}}
}

// session reads the account's session (CurrentSession for the call's open
// one) as the model may see it.
func (s *server) session(ctx context.Context, callSid, sid string) (*tonepay.SessionView, error) {
	if sid == "" {
		sid = tonepay.CurrentSession
	}
	v, err := s.svc.FindSession(ctx, s.account.Sid, callSid, sid)
	if err != nil {
		return nil, fail(err)
	}
	return v, nil
}
