package main

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/connector/generic"
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
// after the end and a restart. A third round types cards where no field
// listens (issue 19): before the agent's Capture and between its fields,
// during a <Say>, on hold, in a <Pause>, while a <Pay> processes; every
// call's timeline, rebuilt key by key from the API and from the store's
// rows, holds no card number, expiry or security code, and no key entry in
// the store's files shows a key. The server's output at debug level holds no
// card number or security code either.
func TestFaultCardScan(t *testing.T) {
	t.Parallel()
	const erase = 2 * time.Second
	const margin = 1500 * time.Millisecond
	dir := t.TempDir()
	db := filepath.Join(dir, "scan.db")
	held := newHeldProcessor(t)
	// Real voice time: a <Say> lasts as long as it is spoken, so that keys
	// can come during one.
	fs := newFaultServer(t, db, "TONEPAY_ERASE_WITHIN="+erase.String(), "TONEPAY_LOG_LEVEL=debug", "TONEPAY_VOICE_TIME=real",
		"TONEPAY_CONFIG="+heldConfig(t, dir, held.srv.URL), "FAULT_PROC_PASSWORD="+heldPassword)
	hk := newHook(t, fs.token, "")
	app := newVoiceApp(t, fs.token, map[string]string{
		"/hold": `<Response><Say>Please hold</Say><Pause length="600"/></Response>`,
		"/say":  `<Response><Say loop="60">Your call is important to us</Say><Hangup/></Response>`,
		"/pay":  `<Response><Pay paymentConnector="Held" chargeAmount="10.00" postalCode="false" timeout="30" action="/paid"/></Response>`,
		"/paid": `<Response><Hangup/></Response>`,
	})
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

	// Third round: cards typed where no field listens. The agent's caller
	// types each field before its Capture (so also between fields); the
	// others type on calls with no session, or while a <Pay> processes.
	sc.open()
	c := []cardFlow{{what: "agent, typed early", card: "4111111111111111", cvv: "286", early: true}}
	for i := range c {
		sc.run(&c[i])
		sc.end(&c[i])
	}
	c = append(c, sc.typeAround(app, held)...)
	sc.clear(c)
	all := append(append(append([]cardFlow(nil), a...), b...), c...)
	tried, correct, keys := sc.rebuild(all)
	sc.close()
	figures(t, "fault-card-scan-timeline", tried, correct, fmt.Sprintf("calls=%d keys=%d cases=agent-early,held,pause,say,pay-processing",
		len(all), keys))

	logs := fs.logs()
	if !strings.Contains(logs, "level=DEBUG") {
		t.Fatal("the server did not log at debug level")
	}
	for _, f := range all {
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
	early     bool   // the caller types each field before the agent's Capture too
	what      string // where the card is typed, for typeAround's calls
	call, pk  string
	keys      int // keys pressed on the call
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
		if f.early {
			// Callers type ahead of the agent; no field listens yet.
			if applied, dropped := sc.press(f, fl.keys); applied != 0 || dropped != len(fl.keys) {
				sc.t.Errorf("%s typed before its Capture: applied %d, dropped %d", fl.field, applied, dropped)
			}
		}
		sc.post(payments+"/"+f.pk+".json", url.Values{"IdempotencyKey": {"c"}, "StatusCallback": {sc.cb}, "Capture": {fl.field}})
		for _, k := range fl.keys {
			sc.press(f, string(k))
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

// press types keys on f's call, one request, and returns its answer.
func (sc *cardScan) press(f *cardFlow, keys string) (applied, dropped int) {
	sc.t.Helper()
	var p struct{ Applied, Dropped int }
	if err := json.Unmarshal(sc.post(sc.fs.ext("/Calls/"+f.call+"/Digits"), url.Values{"Digits": {keys}}), &p); err != nil {
		sc.t.Fatal(err)
	}
	f.keys += len(keys)
	return p.Applied, p.Dropped
}

// typeAround types a card, its expiry and code where no field listens, each
// on a call of its own: on hold (one key per request, as a slow caller),
// in a closing <Pause>, during a <Say>, and while a <Pay> waits for its
// processor (after its fields were typed); then the call ends.
func (sc *cardScan) typeAround(app *voiceApp, held *heldProcessor) []cardFlow {
	sc.t.Helper()
	fs := sc.fs
	create := func(u string) string {
		form := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {u}}
		return sidOf(sc.post(fs.api("/Calls.json"), form))
	}
	hangUp := func(f *cardFlow) {
		sc.post(fs.api("/Calls/"+f.call+".json"), url.Values{"Status": {"completed"}})
	}
	all := func(f *cardFlow) string { return f.card + "#1230" + f.cvv }
	out := []cardFlow{
		{what: "held", card: "4242424242424242", cvv: "913", call: fs.newCall()},
		{what: "pause", card: "5555555555554444", cvv: "458", call: create(app.url("/hold"))},
		{what: "say", card: "4000000000000002", cvv: "731", call: create(app.url("/say"))},
		{what: "pay", card: "4111111111111111", cvv: "365", call: create(app.url("/pay"))},
	}
	for i := range out {
		f := &out[i]
		switch f.what {
		case "held":
			for _, k := range all(f) {
				sc.press(f, string(k))
			}
		case "pause", "say":
			if f.what == "pause" { // after the Say, which takes its time
				waitFor(sc.t, 10*time.Second, "the Pause", func() bool {
					_, es := fs.timeline(sc.t, f.call)
					return es[len(es)-1].Kind == "verb" && es[len(es)-1].Verb == "Pause"
				})
			}
			if st, es := fs.timeline(sc.t, f.call); st != "in-progress" || !slices.ContainsFunc(es, func(e timelineEntry) bool { return e.Kind == "say" }) {
				sc.t.Fatalf("%s call %s: %s %+v", f.what, f.call, st, es)
			}
			if applied, dropped := sc.press(f, all(f)); applied != 0 || dropped != len(all(f)) {
				sc.t.Errorf("%s: applied %d dropped %d, want all dropped", f.what, applied, dropped)
			}
			if st, es := fs.timeline(sc.t, f.call); st != "in-progress" || es[len(es)-1].Kind != "key" {
				sc.t.Errorf("%s call %s: the keys did not come during it: %s %+v", f.what, f.call, st, es[len(es)-1])
			}
		case "pay":
			sc.press(f, f.card+"#")
			sc.press(f, "1230")
			sc.press(f, f.cvv)
			select {
			case <-held.arrived:
			case <-time.After(10 * time.Second):
				sc.t.Fatal("the <Pay> did not reach its processor")
			}
			// The caller types it all again while the payment is processed.
			if applied, dropped := sc.press(f, all(f)); applied != 0 || dropped != len(all(f)) {
				sc.t.Errorf("pay processing: applied %d dropped %d, want all dropped", applied, dropped)
			}
			held.let()
			waitFor(sc.t, 10*time.Second, "the <Pay> call's end", func() bool { st, _ := fs.timeline(sc.t, f.call); return st == "completed" })
			if got := app.requests(); got[len(got)-1].Path != "/paid" || got[len(got)-1].Params.Get("Result") != "success" {
				sc.t.Errorf("the <Pay> action: %+v", got[len(got)-1])
			}
			continue
		}
		hangUp(f)
	}
	return out
}

// keyEntries finds the key entries in a store file's bytes, the old versions
// of rows in the -wal file included.
var keyEntries = regexp.MustCompile(`"kind":"key","text":"([^"]*)"`)

// rebuild rebuilds each call's keys from its timeline, one entry (row) at a
// time: the key entries' texts, and the Digits of a Gather's end, in order,
// once from the API and once from the store's rows. Neither may hold the
// call's card number, expiry or security code, and each must count every key
// pressed on the call (else it proves nothing). The store's files, read as
// bytes, may hold no key entry that shows a key. It returns how many rebuilds
// (and file scans) it checked, how many were clean, and the keys pressed.
func (sc *cardScan) rebuild(flows []cardFlow) (tried, correct, keys int) {
	sc.t.Helper()
	join := func(kind, verb, text string) string {
		if kind == "key" {
			return text
		}
		if _, digits, ok := strings.Cut(text, "ended: Digits="); ok && kind == "verb" && verb == "Gather" {
			return strings.Fields(digits + " ")[0]
		}
		return ""
	}
	check := func(f cardFlow, from, got string) {
		tried++
		if f.what == "" {
			f.what = "agent"
		}
		for _, s := range []string{f.card, "1230", f.cvv} {
			if strings.Contains(got, s) {
				sc.t.Errorf("the timeline of call %s (%s), rebuilt from %s, holds %s: %q", f.call, f.what, from, s, got)
				return
			}
		}
		if len(got) != f.keys {
			sc.t.Errorf("the timeline of call %s (%s), rebuilt from %s, counts %d keys, want the %d pressed: %q", f.call, f.what, from, len(got), f.keys, got)
			return
		}
		correct++
	}
	for _, f := range flows {
		keys += f.keys
		_, es := sc.fs.timeline(sc.t, f.call)
		var api strings.Builder
		for _, e := range es {
			api.WriteString(join(e.Kind, e.Verb, e.Text))
		}
		check(f, "the API", api.String())

		rows, err := sc.read.Query(`SELECT entry FROM call_timeline WHERE call_sid = ? ORDER BY seq`, f.call)
		if err != nil {
			sc.t.Fatal(err)
		}
		var store strings.Builder
		for rows.Next() {
			var b []byte
			var e timelineEntry
			if err := rows.Scan(&b); err != nil {
				sc.t.Fatal(err)
			}
			if err := json.Unmarshal(b, &e); err != nil {
				sc.t.Fatal(err)
			}
			store.WriteString(join(e.Kind, e.Verb, e.Text))
		}
		if err := rows.Err(); err != nil {
			sc.t.Fatal(err)
		}
		rows.Close()
		check(f, "the store's rows", store.String())
	}
	for name, data := range storeFiles(sc.t, sc.db) {
		tried++
		shown := 0
		for _, m := range keyEntries.FindAllSubmatch(data, -1) {
			if strings.Trim(string(m[1]), "*") != "" {
				shown++
			}
		}
		if shown > 0 {
			sc.t.Errorf("%s holds %d key entries that show their keys", name, shown)
			continue
		}
		correct++
	}
	return tried, correct, keys
}

// heldPassword is the held processor's Basic auth password.
const heldPassword = "faultproc1"

// heldProcessor is a Generic Pay Connector processor that holds every
// request until the test lets them go, so that a caller can type while a
// payment is processed; arrived says a request came.
type heldProcessor struct {
	srv     *httptest.Server
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHeldProcessor(t *testing.T) *heldProcessor {
	h := &heldProcessor{arrived: make(chan struct{}, 16), release: make(chan struct{})}
	p := &generic.Processor{Username: "twilio", Password: tonepay.NewSecret(heldPassword)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			select {
			case h.arrived <- struct{}{}:
			default:
			}
			select {
			case <-h.release:
			case <-r.Context().Done():
				return
			}
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { h.let(); h.srv.Close() })
	return h
}

// let answers the held requests and every later one.
func (h *heldProcessor) let() { h.once.Do(func() { close(h.release) }) }

// heldConfig writes a config with the sandbox as Default and a generic
// connector, Held, pointed at a held processor.
func heldConfig(t *testing.T, dir, processorURL string) string {
	t.Helper()
	path := filepath.Join(dir, "held.toml")
	err := os.WriteFile(path, []byte(`
[[connector]]
name = "Default"
type = "sandbox"

[[connector]]
name = "Held"
type = "generic"
[connector.settings]
url = "`+processorURL+`/"
username = "twilio"
password_env = "FAULT_PROC_PASSWORD"
timeout = "10s"
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path
}
