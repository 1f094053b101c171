package main

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// matrixCred is one set of credentials and the accounts it may reach.
type matrixCred struct {
	Name       string
	User, Pass string
	NoAuth     bool
	Key        bool     // an API key: not on Accounts and Keys routes
	Reach      []string // account names it may act on; none: bad credentials
	Owner      string   // a subaccount's main account SID: its owner_account_sid, not a leak
}

// matrixRoute is a route of twilioapi/routes.go under an account, with the
// request that succeeds when the caller may act there.
type matrixRoute struct {
	Method, Path string // {AC}, {CA}, {PK}, {SK}, {PN}, {NEWSK}, {NEWPN}: the target's
	Body         string
	AccountOnly  bool // Accounts and Keys: no API keys
	Status, Code int  // what an allowed request gets
}

// TestAttackCrossAccount tries every route with every kind of credentials on
// every account: its own, its subaccount, its parent, a sibling, a foreign
// main account and its subaccount, and foreign call, payment and key SIDs in
// paths of its own account. Each answer is what DESIGN §3 allows, and no
// body holds a SID, token or data of an account the caller may not reach.
func TestAttackCrossAccount(t *testing.T) {
	t.Parallel()
	db := storeDB(t, "matrix")
	aSid, aTok := fixedAccount()
	bSid, bTok := fixedAccount()
	// Two main accounts in one file: served first as A, then as B.
	first := startServer(t, append(db, "TONEPAY_ACCOUNT_SID="+aSid, "TONEPAY_AUTH_TOKEN="+aTok)...)
	if code := first.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("first server exited %d", code)
	}
	srv := startServer(t, append(append(db, "TONEPAY_ACCOUNT_SID="+bSid, "TONEPAY_AUTH_TOKEN="+bTok), attackEnv...)...)
	c := newAttackClient(srv.URL, "", "")
	sink := srv.URL + "/_tonepay/sink"

	sub := func(owner, token, name string) (string, string) {
		b := c.mustDo(t, 201, rawReq{Method: "POST", Path: "/2010-04-01/Accounts.json", User: owner, Pass: token, Body: form("FriendlyName", name)})
		return jsonField(t, b, "sid"), jsonField(t, b, "auth_token")
	}
	a1Sid, a1Tok := sub(aSid, aTok, "team-a1")
	a2Sid, a2Tok := sub(aSid, aTok, "team-a2")
	b1Sid, b1Tok := sub(bSid, bTok, "team-b1")
	type acct struct{ sid, tok, main, mainTok string }
	accts := map[string]acct{
		"A": {aSid, aTok, aSid, aTok}, "A1": {a1Sid, a1Tok, aSid, aTok}, "A2": {a2Sid, a2Tok, aSid, aTok},
		"B": {bSid, bTok, bSid, bTok}, "B1": {b1Sid, b1Tok, bSid, bTok},
	}
	names := []string{"A", "A1", "A2", "B", "B1"}
	fx := map[string]fixture{}
	for i, n := range names {
		a := accts[n]
		fx[n] = makeFixture(t, c, a.sid, a.tok, a.sid, a.tok, sink, fmt.Sprintf("77%02d", i))
	}
	gone := c.mustDo(t, 201, rawReq{Method: "POST", Path: "/2010-04-01/Accounts/" + aSid + "/Keys.json", User: aSid, Pass: aTok})
	goneSid, goneSecret := jsonField(t, gone, "sid"), jsonField(t, gone, "secret")
	c.mustDo(t, 204, rawReq{Method: "DELETE", Path: "/2010-04-01/Accounts/" + aSid + "/Keys/" + goneSid + ".json", User: aSid, Pass: aTok})

	creds := []matrixCred{
		{Name: "A token", User: aSid, Pass: aTok, Reach: []string{"A", "A1", "A2"}},
		{Name: "A key", User: fx["A"].Key, Pass: fx["A"].Secret, Key: true, Reach: []string{"A", "A1", "A2"}},
		{Name: "A1 token", User: a1Sid, Pass: a1Tok, Reach: []string{"A1"}, Owner: aSid},
		{Name: "A1 key", User: fx["A1"].Key, Pass: fx["A1"].Secret, Key: true, Reach: []string{"A1"}, Owner: aSid},
		{Name: "B token", User: bSid, Pass: bTok, Reach: []string{"B", "B1"}},
		{Name: "B1 key", User: fx["B1"].Key, Pass: fx["B1"].Secret, Key: true, Reach: []string{"B1"}, Owner: bSid},
		{Name: "deleted key", User: goneSid, Pass: goneSecret},
		{Name: "A wrong token", User: aSid, Pass: "wrongtoken000000000000000000000"},
		{Name: "A key wrong secret", User: fx["A"].Key, Pass: fx["A1"].Secret},
		{Name: "A1 SID with A's token", User: a1Sid, Pass: aTok},
		{Name: "A key SID with A's token", User: fx["A"].Key, Pass: aTok},
		{Name: "no credentials", NoAuth: true},
	}
	const acc = "/2010-04-01/Accounts/{AC}"
	const ext = "/_tonepay/Accounts/{AC}/Calls/{CA}"
	capture := form("IdempotencyKey", "m", "StatusCallback", sink, "Capture", "payment-card-number")
	routes := []matrixRoute{
		{Method: "GET", Path: acc + ".json", AccountOnly: true, Status: 200},
		{Method: "GET", Path: acc + "/Keys.json", AccountOnly: true, Status: 200},
		{Method: "POST", Path: acc + "/Keys.json", Body: form("FriendlyName", "matrix"), AccountOnly: true, Status: 201},
		{Method: "GET", Path: acc + "/Keys/{SK}.json", AccountOnly: true, Status: 200},
		{Method: "POST", Path: acc + "/Keys/{SK}.json", Body: form("FriendlyName", "renamed"), AccountOnly: true, Status: 200},
		{Method: "DELETE", Path: acc + "/Keys/{NEWSK}.json", AccountOnly: true, Status: 204},
		{Method: "GET", Path: acc + "/Calls.json", Status: 200},
		{Method: "POST", Path: acc + "/Calls.json", Body: form("To", "+15005550006", "From", "+15005550001", "Twiml", "<Response/>"), Status: 201},
		{Method: "GET", Path: acc + "/Calls/{CA}.json", Status: 200},
		{Method: "POST", Path: acc + "/Calls/{CA}.json", Body: form("Status", "canceled"), Status: 200},
		{Method: "GET", Path: acc + "/IncomingPhoneNumbers.json", Status: 200},
		{Method: "POST", Path: acc + "/IncomingPhoneNumbers.json", Body: form("PhoneNumber", "not-e164"), Status: 400, Code: 21421},
		{Method: "GET", Path: acc + "/IncomingPhoneNumbers/{PN}.json", Status: 200},
		{Method: "POST", Path: acc + "/IncomingPhoneNumbers/{PN}.json", Body: form("VoiceUrl", "https://example.com/matrix"), Status: 200},
		{Method: "POST", Path: acc + "/IncomingPhoneNumbers/{PN}.json", Body: form("VoiceMethod", "PUT"), Status: 400, Code: 21403},
		{Method: "DELETE", Path: acc + "/IncomingPhoneNumbers/{NEWPN}.json", Status: 204},
		{Method: "POST", Path: acc + "/Calls/{CA}/Payments.json", Body: form("IdempotencyKey", "m", "StatusCallback", sink), Status: 400, Code: 64021},
		{Method: "POST", Path: acc + "/Calls/{CA}/Payments/{PK}.json", Body: capture, Status: 202},
		{Method: "POST", Path: ext + "/Digits", Body: form("Digits", "4"), Status: 200},
		{Method: "GET", Path: ext + "/Timeline", Status: 200},
		{Method: "POST", Path: "/_tonepay/Accounts/{AC}/Calls/Inbound", Body: form("From", "+15005550001", "To", "+15550000000"), Status: 400, Code: 21211},
		{Method: "GET", Path: ext + "/Payments", Status: 200},
		{Method: "GET", Path: ext + "/Payments/{PK}", Status: 200},
		{Method: "GET", Path: ext + "/Payments/Current", Status: 200},
		{Method: "GET", Path: ext + "/Payments/{PK}/Callbacks", Status: 200},
		{Method: "GET", Path: "/_tonepay/Accounts/{AC}/Events", Status: 200},
	}

	// secrets are never in any answer; private holds, per account, what only
	// those who reach it may see.
	var secrets []string
	private := map[string][]string{}
	for _, n := range names {
		f := fx[n]
		secrets = append(secrets, f.Secret)
		private[n] = []string{accts[n].sid, accts[n].tok, f.Call, f.Payment, f.Key, f.To, f.Number, f.PhoneNumber, "desc-" + f.To[5:], "key-" + f.To[5:]}
	}
	secrets = append(secrets, goneSecret)
	private["B1"] = append(private["B1"], "team-b1")
	private["A1"] = append(private["A1"], "team-a1")
	private["A2"] = append(private["A2"], "team-a2")

	tried, correct, leaks := 0, 0, 0
	var failures []string
	check := func(cr matrixCred, what string, q rawReq, wantStatus, wantCode int) {
		tried++
		q.User, q.Pass, q.NoAuth = cr.User, cr.Pass, cr.NoAuth
		res := c.do(q)
		problem := ""
		if res.Err != nil {
			problem = "no answer: " + res.Err.Error()
		} else if res.Status != wantStatus {
			problem = fmt.Sprintf("got %d, want %d", res.Status, wantStatus)
		} else if res.Status >= 400 {
			if e, p := checkTwilioError(res); p != "" {
				problem = p
			} else if wantCode != 0 && e.Code != wantCode {
				problem = fmt.Sprintf("got code %d, want %d", e.Code, wantCode)
			}
		}
		asked := q.Path + "\n" + q.Body
		for _, s := range secrets {
			if strings.Contains(string(res.Body), s) {
				leaks++
				problem += " LEAK of an API key secret"
			}
		}
		for _, n := range names {
			if slices.Contains(cr.Reach, n) {
				continue
			}
			for _, s := range private[n] {
				if strings.Contains(string(res.Body), s) && !strings.Contains(asked, s) && s != cr.Owner {
					leaks++
					problem += fmt.Sprintf(" LEAK of %s's %q", n, s)
				}
			}
		}
		if problem == "" {
			correct++
		} else {
			failures = append(failures, fmt.Sprintf("%s, %s: %s %s: %s: %.200s", cr.Name, what, q.Method, q.Path, problem, res.Body))
		}
	}
	newKey := func(n string) string {
		a := accts[n]
		b := c.mustDo(t, 201, rawReq{Method: "POST", Path: "/2010-04-01/Accounts/" + a.sid + "/Keys.json", User: a.main, Pass: a.mainTok})
		return jsonField(t, b, "sid")
	}
	newNumber := func(n string) string {
		a := accts[n]
		b := c.mustDo(t, 201, rawReq{Method: "POST", Path: "/2010-04-01/Accounts/" + a.sid + "/IncomingPhoneNumbers.json", User: a.main, Pass: a.mainTok,
			Body: form("PhoneNumber", newPhoneNumber())})
		return jsonField(t, b, "sid")
	}
	fill := func(path, acctName string, res map[string]string) string {
		return strings.NewReplacer("{AC}", accts[acctName].sid, "{CA}", res["CA"], "{PK}", res["PK"], "{SK}", res["SK"], "{PN}", res["PN"],
			"{NEWSK}", res["NEWSK"], "{NEWPN}", res["NEWPN"]).Replace(path)
	}
	denied := func(cr matrixCred) bool { return len(cr.Reach) == 0 }

	for _, cr := range creds {
		// Routes without an account in the path.
		switch {
		case denied(cr) || cr.Key:
			check(cr, "list accounts", rawReq{Path: "/2010-04-01/Accounts.json"}, 401, 20003)
			check(cr, "create a subaccount", rawReq{Method: "POST", Path: "/2010-04-01/Accounts.json"}, 401, 20003)
		case len(cr.Reach) == 1: // a subaccount
			check(cr, "list accounts", rawReq{Path: "/2010-04-01/Accounts.json"}, 200, 0)
			check(cr, "create a subaccount", rawReq{Method: "POST", Path: "/2010-04-01/Accounts.json"}, 401, 20003)
		default:
			check(cr, "list accounts", rawReq{Path: "/2010-04-01/Accounts.json"}, 200, 0)
			check(cr, "create a subaccount", rawReq{Method: "POST", Path: "/2010-04-01/Accounts.json", Body: form("FriendlyName", "made-by-matrix")}, 201, 0)
		}
		for _, target := range names {
			for _, rt := range routes {
				res := map[string]string{"CA": fx[target].Call, "PK": fx[target].Payment, "SK": fx[target].Key, "PN": fx[target].Number}
				if strings.Contains(rt.Path, "{NEWSK}") {
					res["NEWSK"] = newKey(target)
				}
				if strings.Contains(rt.Path, "{NEWPN}") {
					res["NEWPN"] = newNumber(target)
				}
				q := rawReq{Method: rt.Method, Path: fill(rt.Path, target, res), Body: rt.Body}
				what := "on " + target
				switch {
				case denied(cr), rt.AccountOnly && cr.Key, !slices.Contains(cr.Reach, target):
					check(cr, what, q, 401, 20003)
				default:
					check(cr, what, q, rt.Status, rt.Code)
				}
			}
		}
		// Foreign call, payment and key SIDs in the paths of an account the
		// caller reaches: not found, whoever owns them.
		for _, own := range cr.Reach {
			for _, other := range names {
				if other == own {
					continue
				}
				for _, rt := range routes {
					if !strings.ContainsAny(rt.Path, "{") || !(strings.Contains(rt.Path, "{CA}") || strings.Contains(rt.Path, "{SK}") || strings.Contains(rt.Path, "{PN}")) {
						continue
					}
					variants := []map[string]string{{"CA": fx[other].Call, "PK": fx[other].Payment, "SK": fx[other].Key, "PN": fx[other].Number}}
					if strings.Contains(rt.Path, "{PK}") {
						variants = append(variants, map[string]string{"CA": fx[own].Call, "PK": fx[other].Payment})
					}
					for _, v := range variants {
						q := rawReq{Method: rt.Method, Path: fill(rt.Path, own, v), Body: rt.Body}
						what := fmt.Sprintf("%s's SIDs in %s's path", other, own)
						if rt.AccountOnly && cr.Key {
							check(cr, what, q, 401, 20003)
						} else {
							check(cr, what, q, 404, 20404)
						}
					}
				}
			}
		}
	}
	// The fixtures of every account are as they were: nothing foreign changed them.
	for _, n := range names {
		a := accts[n]
		tried++
		b := c.do(rawReq{Path: "/2010-04-01/Accounts/" + a.sid + "/Keys/" + fx[n].Key + ".json", User: a.sid, Pass: a.tok})
		if b.Status == 200 {
			correct++
		} else {
			failures = append(failures, fmt.Sprintf("%s's key after the matrix: %d %.200s", n, b.Status, b.Body))
		}
	}
	for i, f := range failures {
		if i == 40 {
			t.Errorf("... and %d more", len(failures)-40)
			break
		}
		t.Error(f)
	}
	figures(t, "attack-cross-account", tried, correct, fmt.Sprintf("leaks=%d", leaks))
	if leaks > 0 {
		t.Errorf("%d leaks", leaks)
	}
}
