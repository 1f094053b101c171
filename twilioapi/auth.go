package twilioapi

import (
	"net/http"

	"github.com/tonepay/tonepay"
)

// The credentials' rules (who a SID and its password are, which accounts
// they reach, what an API key may not do) are the domain's
// (tonepay.Authenticator); what is HTTP's stays here: Basic decoding, the
// failed-authentication limit (server.go), and the 401 with its
// WWW-Authenticate challenge (errors.go).

// basicAuth returns a request's HTTP Basic credentials.
func basicAuth(r *http.Request) (user, pass string, err error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", "", tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: no credentials were provided")
	}
	return user, pass, nil
}

// authenticate checks a request's credentials: an Account SID with its
// auth token, or an API key SID with its secret.
func (s *server) authenticate(r *http.Request) (*tonepay.Caller, error) {
	user, pass, err := basicAuth(r)
	if err != nil {
		return nil, err
	}
	return s.svc.Authenticate(r.Context(), user, pass)
}

// stillAuthorized checks a long-lived request's credentials again, as at its
// start (tonepay.Authenticator.Recheck). It bypasses the failed-
// authentication limit, since the stream is not a guess.
func (s *server) stillAuthorized(r *http.Request, account string) error {
	user, pass, err := basicAuth(r)
	if err != nil {
		return err
	}
	return s.svc.Recheck(r.Context(), user, pass, account)
}
