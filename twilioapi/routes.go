package twilioapi

import "net/http"

// routes lists the whole API surface. Wildcards named {X} hold "SID.json";
// handlers read them with pathSid.
func (s *server) routes(m *http.ServeMux) {
	mux := routedMux{m}
	const acct = "/2010-04-01/Accounts/{AccountSid}"

	mux.Handle("GET /_tonepay/health", handleHealth())

	mux.Handle("GET /2010-04-01/Accounts.json", s.authed(s.handleAccountList))
	mux.Handle("POST /2010-04-01/Accounts.json", s.authed(s.handleAccountCreate))
	mux.Handle("GET "+acct, s.accountOnly(s.handleAccountFetch))

	mux.Handle("GET "+acct+"/Keys.json", s.accountOnly(s.handleKeyList))
	mux.Handle("POST "+acct+"/Keys.json", s.accountOnly(s.handleKeyCreate))
	mux.Handle("GET "+acct+"/Keys/{KeySid}", s.accountOnly(s.handleKeyFetch))
	mux.Handle("POST "+acct+"/Keys/{KeySid}", s.accountOnly(s.handleKeyUpdate))
	mux.Handle("DELETE "+acct+"/Keys/{KeySid}", s.accountOnly(s.handleKeyDelete))

	mux.Handle("GET "+acct+"/Calls.json", s.inAccount(s.handleCallList))
	mux.Handle("POST "+acct+"/Calls.json", s.inAccount(s.handleCallCreate))
	mux.Handle("GET "+acct+"/Calls/{CallSid}", s.inAccount(s.handleCallFetch))
	mux.Handle("POST "+acct+"/Calls/{CallSid}", s.inAccount(s.handleCallUpdate))

	mux.Handle("GET "+acct+"/IncomingPhoneNumbers.json", s.inAccount(s.handleNumberList))
	mux.Handle("POST "+acct+"/IncomingPhoneNumbers.json", s.inAccount(s.handleNumberCreate))
	mux.Handle("GET "+acct+"/IncomingPhoneNumbers/{NumberSid}", s.inAccount(s.handleNumberFetch))
	mux.Handle("POST "+acct+"/IncomingPhoneNumbers/{NumberSid}", s.inAccount(s.handleNumberUpdate))
	mux.Handle("DELETE "+acct+"/IncomingPhoneNumbers/{NumberSid}", s.inAccount(s.handleNumberDelete))

	mux.Handle("POST "+acct+"/Calls/{CallSid}/Payments.json", s.inAccount(s.handlePaymentCreate))
	mux.Handle("POST "+acct+"/Calls/{CallSid}/Payments/{PaymentSid}", s.inAccount(s.handlePaymentUpdate))

	const ext = "/_tonepay/Accounts/{AccountSid}/Calls/{CallSid}"
	mux.Handle("POST "+ext+"/Digits", s.inAccount(s.handleDigits))
	mux.Handle("POST "+ext+"/Speech", s.inAccount(s.handleSpeech))
	mux.Handle("GET "+ext+"/Timeline", s.inAccount(s.handleTimeline))
	mux.Handle("POST /_tonepay/Accounts/{AccountSid}/Calls/Inbound", s.inAccount(s.handleInbound))
	mux.Handle("GET "+ext+"/Payments", s.inAccount(s.handleSessionList))
	mux.Handle("GET "+ext+"/Payments/{PaymentSid}", s.inAccount(s.handleSessionFetch))
	mux.Handle("GET "+ext+"/Payments/{PaymentSid}/Callbacks", s.inAccount(s.handleSessionCallbacks))
	mux.Handle("GET /_tonepay/Accounts/{AccountSid}/Events", s.inAccount(s.handleEvents))
	mux.Handle("POST /_tonepay/sink", handleSink())
}

func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeBody(w, http.StatusOK, []byte(`{"status":"ok"}`))
	})
}

// routedMux registers every route through routed, so that a handler never
// writes to the fallback that catches ServeMux's own answers.
type routedMux struct{ *http.ServeMux }

func (m routedMux) Handle(pattern string, h http.Handler) { m.ServeMux.Handle(pattern, routed(h)) }
