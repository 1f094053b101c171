package main

import (
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay/seal"
)

// TestFaultCardScan: real card flows typed one key at a time on the keypad,
// with a known data key. After every request the test reads the sealed
// values of the open sessions from the database (read-only, while the
// server runs), so it knows every ciphertext the store ever held. During a
// session the scan of the database, -wal and -shm files finds the sealed
// data (else it proves nothing); once the sessions ended and
// --erase-within (2 s here) passed, it finds none of it, nor a card number
// or security code in clear: after a clean end, and after a kill -9 right
// after the end and a restart. The server's output at debug level holds no
// card number or security code either.
func TestFaultCardScan(t *testing.T) {
	t.Parallel()
	const erase = 2 * time.Second
	const margin = 1500 * time.Millisecond
	db := filepath.Join(t.TempDir(), "scan.db")
	fs := newFaultServer(t, db, "TONEPAY_ERASE_WITHIN="+erase.String(), "TONEPAY_LOG_LEVEL=debug")
	hk := newHook(t, fs.token, "")
	key, _ := base64.StdEncoding.DecodeString(faultKey)
	box, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	sc := &cardScan{t: t, fs: fs, db: db, cb: hk.url(), box: box, seen: map[string]bool{}}

	// First round: the sessions end (two charges, one cancelled mid-way);
	// the server stays up.
	sc.open()
	a := []cardFlow{
		{card: "4242424242424242", cvv: "737"},
		{card: "5555555555554444", cvv: "842"},
		{card: "4000000000000002", cvv: "519", cancel: true},
	}
	for i := range a {
		sc.run(&a[i])
	}
	if found := sc.scan(sc.blobs); len(found) == 0 {
		t.Fatalf("the scan finds none of the %d sealed values while a session is open: it proves nothing", len(sc.blobs))
	}
	for i := range a {
		sc.end(&a[i])
	}
	roundA := len(sc.blobs)
	sc.close()
	time.Sleep(erase + margin)
	leftA := sc.scan(sc.blobs)
	sc.clear(a)

	// Second round: killed with SIGKILL right after the sessions ended, then
	// started again; the bound holds through the crash.
	sc.open()
	b := []cardFlow{
		{card: "4111111111111111", cvv: "604"},
		{card: "5555555555554444", cvv: "371"},
	}
	for i := range b {
		sc.run(&b[i])
	}
	if found := sc.scan(sc.blobs[roundA:]); len(found) == 0 {
		t.Fatal("the scan finds no sealed value of the second round's open sessions")
	}
	for i := range b {
		sc.end(&b[i])
	}
	sc.close()
	fs.restart()
	time.Sleep(erase + margin)
	left := sc.scan(sc.blobs)
	sc.clear(b)

	report := func(when string, found map[string][]string) {
		byFile := map[string]int{}
		for _, where := range found {
			for _, f := range where {
				byFile[f]++
			}
		}
		if len(found) > 0 {
			t.Errorf("%s: %d sealed values of ended sessions are still in the store's files %v", when, len(found), byFile)
		}
	}
	report(fmt.Sprintf("%s after the first round ended", erase+margin), leftA)
	report(fmt.Sprintf("%s after the second round ended, killed and restarted", erase+margin), left)
	for k := range leftA {
		left[k] = nil // gone means gone at every scan after its end
	}
	figures(t, "fault-card-scan", len(sc.blobs), len(sc.blobs)-len(left), fmt.Sprintf("sessions=%d erase_within=%s kills=1 reads=%d",
		len(a)+len(b), erase, sc.reads))

	logs := fs.logs()
	if !strings.Contains(logs, "level=DEBUG") {
		t.Fatal("the server did not log at debug level")
	}
	for _, f := range append(a, b...) {
		if strings.Contains(logs, f.card) {
			t.Errorf("the server's output holds card number %s", f.card)
		}
		// A security code stands alone, not inside a time, a duration or a SID.
		if m := regexp.MustCompile(`(^|[^0-9A-Za-z.:])` + f.cvv + `([^0-9A-Za-z.]|$)`).FindString(logs); m != "" {
			t.Errorf("the server's output holds security code %s: %q", f.cvv, m)
		}
	}
}

type cardFlow struct {
	card, cvv string
	cancel    bool
	call, pk  string
}

// cardScan drives card flows and collects every sealed value the store held.
type cardScan struct {
	t     *testing.T
	fs    *faultServer
	db    string
	cb    string
	read  *sql.DB
	box   *seal.Box
	seen  map[string]bool
	blobs [][]byte // each distinct sealed value, in the order first seen
	reads int
}

func (sc *cardScan) open()  { sc.read = openReadOnly(sc.t, sc.db) }
func (sc *cardScan) close() { sc.read.Close() }

// collect reads the sealed column of every session.
func (sc *cardScan) collect() {
	sc.t.Helper()
	rows, err := sc.read.Query(`SELECT sid, sealed FROM sessions WHERE sealed IS NOT NULL`)
	if err != nil {
		sc.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sid string
		var b []byte
		if err := rows.Scan(&sid, &b); err != nil {
			sc.t.Fatal(err)
		}
		// What the test collects is what the data key opens: card data.
		if _, err := sc.box.Open(sid, b); err != nil {
			sc.t.Fatalf("a sealed value of %s does not open with the data key: %v", sid, err)
		}
		if len(b) >= 24 && !sc.seen[string(b)] {
			sc.seen[string(b)] = true
			sc.blobs = append(sc.blobs, b)
		}
	}
	sc.reads++
	if err := rows.Err(); err != nil {
		sc.t.Fatal(err)
	}
}

// post sends one request that must succeed, then collects.
func (sc *cardScan) post(path string, form url.Values) []byte {
	sc.t.Helper()
	code, b, err := sc.fs.do("POST", path, form)
	if err != nil || code/100 != 2 {
		sc.t.Fatalf("POST %s: %d %s %v", path, code, b, err)
	}
	sc.collect()
	return b
}

// run takes a session through every field, one key per request, and stops
// short of its end.
func (sc *cardScan) run(f *cardFlow) {
	sc.t.Helper()
	if f.call = sc.fs.newCall(); f.call == "" {
		sc.t.Fatal("no call")
	}
	payments := sc.fs.api("/Calls/" + f.call + "/Payments")
	f.pk = sidOf(sc.post(payments+".json", url.Values{"IdempotencyKey": {"create"}, "StatusCallback": {sc.cb}, "ChargeAmount": {"12.34"}}))
	fields := []struct{ field, keys string }{
		{"payment-card-number", f.card + "#"}, {"expiration-date", "1230"}, {"security-code", f.cvv}, {"postal-code", "94109#"},
	}
	if f.cancel {
		fields = fields[:3]
	}
	for _, fl := range fields {
		sc.post(payments+"/"+f.pk+".json", url.Values{"IdempotencyKey": {"c"}, "StatusCallback": {sc.cb}, "Capture": {fl.field}})
		for _, k := range fl.keys {
			sc.post(sc.fs.ext("/Calls/"+f.call+"/Digits"), url.Values{"Digits": {string(k)}})
		}
	}
	if v, ok := sc.fs.view(f.call, f.pk); !ok || len(v.Captured) != len(fields) {
		sc.t.Fatalf("session %s captured %v, want %d fields", f.pk, v.Captured, len(fields))
	}
}

// end completes or cancels the session and waits for it to have ended.
func (sc *cardScan) end(f *cardFlow) {
	sc.t.Helper()
	status := "complete"
	if f.cancel {
		status = "cancel"
	}
	sc.post(sc.fs.api("/Calls/"+f.call+"/Payments/"+f.pk+".json"), url.Values{"IdempotencyKey": {"end"}, "StatusCallback": {sc.cb}, "Status": {status}})
	waitFor(sc.t, 10*time.Second, "session "+f.pk+" ended", func() bool {
		v, ok := sc.fs.view(f.call, f.pk)
		if ok && v.Status == "ended" {
			sc.collect()
		}
		return ok && v.Status == "ended"
	})
	if v, _ := sc.fs.view(f.call, f.pk); !f.cancel && v.Result != "success" || f.cancel && v.Result != "payment-cancelled" {
		sc.t.Errorf("session %s ended with %q", f.pk, v.Result)
	}
}

// scan reads the store's files and returns which of blobs it found where
// (by the nonce and first bytes of each: a partial copy counts).
func (sc *cardScan) scan(blobs [][]byte) map[string][]string {
	sc.t.Helper()
	files := storeFiles(sc.t, sc.db)
	out := map[string][]string{}
	for _, b := range blobs {
		for name, data := range files {
			if _, ok := containsAny(data, [][]byte{b[:24]}); ok {
				out[string(b)] = append(out[string(b)], name)
			}
		}
	}
	return out
}

// clear checks that no typed value is in any file in clear.
func (sc *cardScan) clear(flows []cardFlow) {
	sc.t.Helper()
	for name, data := range storeFiles(sc.t, sc.db) {
		for _, f := range flows {
			for _, s := range []string{f.card, `"` + f.cvv + `"`, "=" + f.cvv, "1230" + f.cvv, f.card[:6] + "1230"} {
				if strings.Contains(string(data), s) {
					sc.t.Errorf("%s holds %q in clear", name, s)
				}
			}
		}
	}
}
