package mcp

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay"
)

// A payment as a resource (DESIGN §12): payment://{CallSid}/{PaymentSid},
// the masked status payment_status gives, and notifications/resources/updated
// to its subscribers whenever the session changes, fed by the account's
// session changes (tonepay.SessionWatcher), so that an agent waits for
// "card number captured" instead of polling.

// PaymentURITemplate names a payment resource.
const PaymentURITemplate = "payment://{CallSid}/{PaymentSid}"

// PaymentURI is the resource of payment paymentSid on call callSid.
func PaymentURI(callSid, paymentSid string) string {
	return "payment://" + callSid + "/" + paymentSid
}

// parsePaymentURI splits a payment resource's URI; ok false when it is none.
func parsePaymentURI(uri string) (callSid, paymentSid string, ok bool) {
	rest, ok := strings.CutPrefix(uri, "payment://")
	if !ok {
		return "", "", false
	}
	callSid, paymentSid, ok = strings.Cut(rest, "/")
	return callSid, paymentSid, ok && callSid != "" && paymentSid != "" && !strings.Contains(paymentSid, "/")
}

// watch is one MCP session's subscriptions and the account's session
// changes feeding them. It starts at the first subscription and stops when
// the MCP session ends (an idle one ends after idleSession).
type watch struct {
	mu     sync.Mutex
	uris   map[string]bool // subscribed
	cancel context.CancelFunc
}

func (s *server) addResources(srv *sdk.Server) {
	srv.AddResourceTemplate(&sdk.ResourceTemplate{
		Name:        "payment",
		Title:       "A payment on a call, masked",
		URITemplate: PaymentURITemplate,
		MIMEType:    "application/json",
		Description: "A payment's masked status, as payment_status shows it (with 'next', what to do or tell the caller now). " +
			"Subscribe to be notified each time it changes: a field typed or failed, the payment completed or ended.",
	}, s.readPayment)
}

// readPayment reads a payment resource as the account: another account's
// is not found, as an unknown one.
func (s *server) readPayment(ctx context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	uri := req.Params.URI
	v, err := s.resource(ctx, uri)
	if err != nil {
		return nil, err
	}
	st := statusOf(v)
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: uri, MIMEType: "application/json", Text: string(b)}}}, nil
}

// resource finds the account's payment a URI names.
func (s *server) resource(ctx context.Context, uri string) (*tonepay.SessionView, error) {
	call, sid, ok := parsePaymentURI(uri)
	if !ok {
		return nil, sdk.ResourceNotFoundError(uri)
	}
	v, err := s.svc.FindSession(ctx, s.account.Sid, call, sid)
	if err != nil {
		if tonepay.ErrorCode(err) == tonepay.CodeNotFound {
			return nil, sdk.ResourceNotFoundError(uri)
		}
		return nil, fail(err)
	}
	return v, nil
}

// subscribe starts notifications of a payment the account has.
func (s *server) subscribe(ctx context.Context, req *sdk.SubscribeRequest) error {
	uri := req.Params.URI
	if _, err := s.resource(ctx, uri); err != nil {
		return err
	}
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	if s.watch.uris == nil {
		s.watch.uris = map[string]bool{}
	}
	s.watch.uris[uri] = true
	if s.watch.cancel != nil {
		return nil
	}
	// The changes outlive this request: they stop with the MCP session. Not
	// the request's context, even uncanceled: the SDK reads its values and
	// would send the notifications as part of this request's answer.
	wctx, cancel := context.WithCancel(context.Background())
	views, err := s.svc.WatchSessions(wctx, s.account.Sid)
	if err != nil {
		cancel()
		delete(s.watch.uris, uri)
		return fail(err)
	}
	s.watch.cancel = cancel
	srv, session := s.srv, req.Session
	go func() {
		session.Wait()
		cancel()
	}()
	go func() {
		for v := range views {
			uri := PaymentURI(v.CallSid, v.Sid)
			s.watch.mu.Lock()
			on := s.watch.uris[uri]
			s.watch.mu.Unlock()
			if on {
				// The URI only: the subscriber reads the resource, masked.
				srv.ResourceUpdated(wctx, &sdk.ResourceUpdatedNotificationParams{URI: uri})
			}
		}
	}()
	return nil
}

func (s *server) unsubscribe(_ context.Context, req *sdk.UnsubscribeRequest) error {
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	delete(s.watch.uris, req.Params.URI)
	return nil
}

// PromptTakePayment is the prompt that guides a model through an
// agent-assisted payment.
const PromptTakePayment = "take_payment"

func (s *server) addPrompts(srv *sdk.Server) {
	srv.AddPrompt(&sdk.Prompt{
		Name:        PromptTakePayment,
		Title:       "Take a card payment on a call",
		Description: "Guides you through taking a payment on a live call with tonepay's tools, the caller typing each field on their keypad.",
		Arguments: []*sdk.PromptArgument{
			{Name: "call_sid", Description: "the call (CA...); list_calls finds it when left out"},
			{Name: "amount", Description: "the amount to charge, such as 12.50; leave out to save the card without charging"},
			{Name: "currency", Description: "ISO 4217 code; default USD"},
		},
	}, s.takePayment)
}

func (s *server) takePayment(_ context.Context, req *sdk.GetPromptRequest) (*sdk.GetPromptResult, error) {
	a := req.Params.Arguments
	call := a["call_sid"]
	if call == "" {
		call = "the caller's call (find its call_sid with list_calls)"
	}
	what := "save the caller's card for later (start_payment without charge_amount)"
	if a["amount"] != "" {
		cur := strings.ToUpper(a["currency"])
		if cur == "" {
			cur = "USD"
		}
		what = "charge the caller " + a["amount"] + " " + cur + " (start_payment with charge_amount " + a["amount"] + " and currency " + cur + ")"
	}
	text := "You are on a phone call and will " + what + " on " + call + ".\n" +
		`Never ask the caller to say card details aloud and never repeat digits: the caller types each field on their keypad, and tonepay keeps the digits from you; you see masked values only.
1. start_payment on the call. Then subscribe to the payment's resource (payment://{call_sid}/{payment_sid}) to hear of each change, or read payment_status after each step.
2. For each field in "required", in order: tell the caller what to type and to finish with the pound key, then request_field with that field.
3. When the payment changes, read it: if the field was captured, go on to the next one; if it failed, "next" says why and what to tell the caller, then ask again.
4. When nothing is required, complete_payment, then read the payment until it has ended and tell the caller the result ("next" says what to say, with the confirmation code on success).
5. If the caller wants to stop, cancel_payment. If the payment ends otherwise (the caller hung up, the processor refused), "next" says so.`
	return &sdk.GetPromptResult{
		Description: "Take a payment on a call",
		Messages:    []*sdk.PromptMessage{{Role: "user", Content: &sdk.TextContent{Text: text}}},
	}, nil
}
