package tonepay

import "context"

// Caller is who sent a request: an account, through its own credentials
// (its SID and auth token) or through one of its API keys.
type Caller struct {
	Account *Account
	APIKey  *APIKey // nil with the account's own credentials
}

// Access is what a caller asks to do on an account.
type Access int

// Accesses. Append only.
const (
	// AccessUse reaches an account's calls, payments, numbers and the
	// extension API: any of its credentials may.
	AccessUse Access = iota
	// AccessManage reaches the account itself, its subaccounts and its API
	// keys: as with Twilio's standard keys, only the account's own
	// credentials (its auth token) may, never an API key.
	AccessManage
)

// ErrBadCredentials is the answer to credentials that do not authenticate:
// an unknown SID and a wrong password alike, so that nothing tells which
// SIDs exist. Only this error counts against a client's failed-
// authentication limit (twilioapi): a suspended account is no guess.
var ErrBadCredentials = &Error{Code: CodeAuthenticate, Message: "Authenticate: the username or password is incorrect"}

// Authenticator decides who a request is from and which accounts it
// reaches (DESIGN §3). Every door that takes credentials (the REST API, the
// console's stream, an MCP server) asks it, and decodes only their form
// (HTTP Basic, an environment variable).
type Authenticator interface {
	// Authenticate checks credentials: an account SID with its auth token,
	// or an API key SID with its secret. Errors (20003): ErrBadCredentials
	// for anything that does not match, including a user that is no such
	// SID and a deleted key; "account X is suspended" (or closed) for good
	// credentials of an account that is not active.
	Authenticate(ctx context.Context, user, password string) (*Caller, error)
	// Authorize returns account sid if c may act on it with access: its own
	// account, or a main account's subaccount (whatever that one's status).
	// Errors (20003), in this order: an API key asking for AccessManage;
	// any other account, existing or not: the credentials do not reach it.
	Authorize(ctx context.Context, c *Caller, sid string, access Access) (*Account, error)
	// Recheck checks a long-lived request's credentials again, as at its
	// start (Authenticate, then Authorize with AccessUse), and that the
	// account it watches is still active: a deleted key, a rotated token or
	// a suspended account (the caller's or the watched subaccount) end what
	// the request was watching. Errors: those of Authenticate and
	// Authorize, 20003 for an account no longer active; any other error is
	// the store's, and the request should end too (fail closed).
	Recheck(ctx context.Context, user, password, sid string) error
}
