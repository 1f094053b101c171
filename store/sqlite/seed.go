package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

// SeedEnded adds to the SQLite file at path (created and migrated if need
// be) n completed calls of accountSid, each with one ended, paid payment
// session, as a store that has served n agent-assisted payments in the
// last day holds them: the call with its saved run and its timeline, the
// session with its masked state and no sealed data, its status callbacks
// delivered with one attempt each, and the create's idempotent answer.
// Every SID, callback token and answer key is random, as the store's are,
// so that the indexes hold them as a grown store's do. The calls ended
// within the 23 hours before now less ten minutes: neither
// --timeline-retention's prune nor --retention's (nor the answers' 24
// hours) removes them at once.
//
// A real payment leaves more rows than these: a partial-result callback
// per key (some thirty callbacks), ten or so timeline entries. Seeding a
// million of those would take many minutes; each seeded call has two
// callbacks (the first and the result) and three timeline entries (fetch,
// say, hangup), so that every table and index a live call writes to holds
// a million-sized population of its rows.
//
// It creates accountSid as a main account with a random token if the store
// lacks it (tonepay serve replaces the token with its own at start). It is
// for benchmarks (tonepay bench's grow measure): it writes with no journal
// and fsync off (and syncs the file once, at the end), so it must have the
// file to itself, and a file whose seeding failed is to be thrown away.
func SeedEnded(ctx context.Context, path, accountSid string, n int) error {
	if err := seedAccount(ctx, path, accountSid); err != nil {
		return fmt.Errorf("sqlite.SeedEnded: %w", err)
	}
	// Foreign keys off: the rows are made consistent (the test checks it),
	// and each check is an index lookup per row. No journal: a transaction
	// with several statements otherwise keeps a statement journal of every
	// page each one changes, in memory, which took most of the time.
	db, err := sql.Open("sqlite", dsn(path, fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()),
		"_pragma=foreign_keys(0)", "_pragma=journal_mode(OFF)", "_pragma=synchronous(OFF)",
		"_pragma=cache_size(-262144)", "_pragma=temp_store(MEMORY)"))
	if err != nil {
		return fmt.Errorf("sqlite.SeedEnded: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := seed(ctx, db, accountSid, n, time.Now()); err != nil {
		return fmt.Errorf("sqlite.SeedEnded: %w", err)
	}
	// Back to the mode the store runs in.
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode = WAL`); err != nil {
		return fmt.Errorf("sqlite.SeedEnded: %w", err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("sqlite.SeedEnded: %w", err)
	}
	// On disk before it returns: the kernel writing gigabytes back later
	// would share the disk with whatever is measured on the file next.
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sqlite.SeedEnded: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sqlite.SeedEnded: %w", err)
	}
	return nil
}

// seedAccount opens the store, which migrates the file, and creates the
// account if it is missing.
func seedAccount(ctx context.Context, path, accountSid string) error {
	s, err := Open(path)
	if err != nil {
		return err
	}
	err = s.Update(ctx, func(tx tonepay.Tx) error {
		_, err := tx.FindAccount(ctx, accountSid)
		if !errors.Is(err, tonepay.ErrNotFound) {
			return err
		}
		now := time.Now().UTC()
		return tx.CreateAccount(ctx, &tonepay.Account{Sid: accountSid, OwnerSid: accountSid, FriendlyName: "Main account",
			Status: tonepay.AccountActive, AuthToken: tonepay.NewSecret(tonepay.RandomHex(16)), DateCreated: now, DateUpdated: now})
	})
	return errors.Join(err, s.Close())
}

// seedChunk is how many calls one round of statements adds (a variable for
// the test, which crosses chunks with a few).
var seedChunk = 50_000

// Placeholders in the row templates, replaced per row in SQL. Letters only:
// URL and JSON encoding leave them as they are.
const (
	phAccount = "XXACCOUNTXX"
	phCall    = "XXCALLXX"
	phSession = "XXSESSIONXX"
	phHex     = "XXHEXXX"     // 32 random hex digits
	phCode    = "XXCODEXX"    // 24 random hex digits
	phCreated = "XXCREATEDXX" // a form's DateCreated
	phUpdated = "XXUPDATEDXX" // a form's DateUpdated
)

// phTime is a JSON template's placeholder time, and phTimeJSON the same as
// encoding/json writes it; each is replaced by the row's time.
var phTime = time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)

const phTimeJSON = "2001-02-03T04:05:06.123456789Z"

// Random hex in SQL: 32 digits (a SID's, a token's), 24 (a charge's code).
const (
	randHex  = `lower(hex(randomblob(16)))`
	randCode = `lower(hex(randomblob(12)))`
)

// formTime is, in SQL, a stored time (Unix nanoseconds) as a callback's
// form carries it (milliseconds, truncated, URL-encoded: strftime rounds,
// so it gets whole milliseconds); jsonTime as JSON carries a time.Time.
func formTime(ns string) string {
	return `replace(strftime('%Y-%m-%dT%H:%M:%fZ', ((` + ns + `) / 1000000) / 1000.0, 'unixepoch'), ':', '%3A')`
}

func jsonTime(ns string) string {
	return `strftime('%Y-%m-%dT%H:%M:%S', (` + ns + `) / 1000000000, 'unixepoch') || '.' || printf('%09d', (` + ns + `) % 1000000000) || 'Z'`
}

// fill returns an SQL expression for template with each placeholder (a key
// of subs) replaced by its SQL expression: the text between them goes in as
// literals, joined with || (cheaper per row than replace(), which scans the
// whole text once per placeholder). The templates are this file's own.
func fill(template string, subs map[string]string) string {
	var parts []string
	for rest := template; rest != ""; {
		at, ph := -1, ""
		for p := range subs {
			if i := strings.Index(rest, p); i >= 0 && (at < 0 || i < at) {
				at, ph = i, p
			}
		}
		if at < 0 {
			parts = append(parts, quote(rest))
			break
		}
		if at > 0 {
			parts = append(parts, quote(rest[:at]))
		}
		parts = append(parts, "("+subs[ph]+")")
		rest = rest[at+len(ph):]
	}
	return strings.Join(parts, " || ")
}

// quote is s as an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

const (
	seedApp      = "https://example.com/ivr"
	seedCallback = "https://example.com/payment-status"
)

// Each call's times, from its start: the session is created 5 s in and
// ends 60 s in, and the call hangs up 90 s in. A callback is delivered
// 2 ms after it is queued.
const (
	seedSessionAfter = 5 * time.Second
	seedSessionEnds  = 60 * time.Second
	seedCallEnds     = 90 * time.Second
	seedDelivery     = 2 * time.Millisecond
)

// seedRow is a row's text with placeholders, and when it happened: from
// the session's creation (a callback), from the call's start (a timeline
// entry).
type seedRow struct {
	after time.Duration
	text  string
}

// seedTemplates are the rows' varying text, encoded by the store's own
// code where it is in reach (a session's JSON, a callback's form) and
// copied from a real run where not (a call's run state and timeline, the
// answer: JSON of types the store does not import; the test decodes them
// into those types).
type seedTemplates struct {
	params, state string
	callbacks     []seedRow
}

func newSeedTemplates() (seedTemplates, error) {
	var t seedTemplates
	s := &tonepay.Session{
		Params: tonepay.Params{PaymentMethod: "credit-card", ChargeAmount: "10.00", Currency: "USD", Input: "dtmf", PaymentConnector: "Default",
			PostalCode: true, SecurityCode: true, Timeout: 5, TokenType: "reusable", ValidCardTypes: []string{"visa", "mastercard", "amex"}},
		State: tonepay.State{Captured: map[tonepay.Field]string{tonepay.FieldCardNumber: "xxxxxxxxxxxx4242", tonepay.FieldExpiration: "1230",
			tonepay.FieldSecurityCode: "xxx", tonepay.FieldPostalCode: "94109"}, CardType: "visa", StatusCallback: seedCallback,
			TransactionID: "TX" + phHex, ProcessingSince: phTime, Result: "success", ConfirmationCode: "ch_" + phCode},
	}
	var err error
	if t.params, t.state, err = sqlrow.SessionJSON(s); err != nil {
		return t, err
	}
	created := url.Values{"AccountSid": {phAccount}, "CallSid": {phCall}, "ChargeAmount": {"10.00"}, "DateCreated": {phCreated},
		"PaymentConnector": {"Default"}, "PaymentMethod": {"credit-card"}, "Sid": {phSession}}
	result := url.Values{"DateUpdated": {phUpdated}, "ExpirationDate": {"1230"}, "PaymentCardNumber": {"xxxxxxxxxxxx4242"}, "PaymentCardPostalCode": {"94109"},
		"PaymentCardType": {"visa"}, "PaymentConfirmationCode": {"ch_" + phCode}, "Result": {"success"}, "SecurityCode": {"xxx"}}
	for k, v := range created {
		result[k] = v
	}
	t.callbacks = []seedRow{{0, encodeForm(created)}, {seedSessionEnds - seedSessionAfter, encodeForm(result)}}
	return t, nil
}

// seedRun is the call's run as the runtime saves it at the call's end
// (JSON of voice.State).
const seedRun = `{"accountSid":"` + phAccount + `","callSid":"` + phCall + `","from":"+15005550001","to":"+15005550006","direction":"outbound-api",` +
	`"url":"` + seedApp + `","method":"POST","fallbackMethod":"POST","status":"completed","doc":{"url":"` + seedApp + `","verbs":[` +
	`{"name":"Say","text":"Hello, an agent will take your payment","language":"en-US","loop":1,"finishOnKey":""},` +
	`{"name":"Pause","length":600,"finishOnKey":""}]},"next":2,"since":"0001-01-01T00:00:00Z","seq":1,"hops":0,"progress":1}`

// seedTimeline is the call's timeline (JSON of voice.Entry).
var seedTimeline = []seedRow{
	{0, `{"at":"` + phTimeJSON + `","kind":"fetch","text":"answer","url":"` + seedApp + `","method":"POST"}`},
	{15 * time.Millisecond, `{"at":"` + phTimeJSON + `","kind":"say","verb":"Say","text":"Hello, an agent will take your payment","language":"en-US","loop":1}`},
	{seedCallEnds, `{"at":"` + phTimeJSON + `","kind":"hangup","text":"completed"}`},
}

// seedAnswer is a Payments create's stored answer (a JSON Payment).
const seedAnswer = `{"Sid":"` + phSession + `","AccountSid":"` + phAccount + `","CallSid":"` + phCall + `","DateCreated":"` + phTimeJSON + `","DateUpdated":"` + phTimeJSON + `"}`

// seed writes n calls, seedChunk at a time, spread evenly over the 23 hours
// before now less ten minutes.
func seed(ctx context.Context, db *sql.DB, account string, n int, now time.Time) error {
	t, err := newSeedTemplates()
	if err != nil {
		return err
	}
	span := 23*time.Hour - 10*time.Minute - seedCallEnds
	base := now.Add(-23 * time.Hour).UnixNano()
	step := int64(span) / int64(max(n, 1))
	// One transaction: a commit per chunk wrote the same index pages again
	// and again, and was slower.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for lo := 0; lo < n; lo += seedChunk {
		if err := seedChunkRows(ctx, tx, &t, account, lo, min(n, lo+seedChunk), base, step); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// seedChunkRows adds calls lo..hi-1 with everything they carry. Each
// statement reads the rows the previous ones added (by rowid, which SQLite
// hands out in increasing order), so that a session names its call and a
// callback its session.
func seedChunkRows(ctx context.Context, tx *sql.Tx, t *seedTemplates, account string, lo, hi int, base, step int64) error {
	last := func(query string) (int64, error) {
		var v int64
		return v, tx.QueryRowContext(ctx, query).Scan(&v)
	}
	calls, err := last(`SELECT COALESCE(max(rowid), 0) FROM calls`)
	if err != nil {
		return err
	}
	sessions, err := last(`SELECT COALESCE(max(rowid), 0) FROM sessions`)
	if err != nil {
		return err
	}
	callbacks, err := last(`SELECT COALESCE(max(id), 0) FROM callbacks`)
	if err != nil {
		return err
	}
	ns := func(d time.Duration) int64 { return int64(d) }
	// A table of the n rows each parent gets, with their offsets in time
	// and their text, in SQL.
	rows := func(rs []seedRow, text func(r seedRow) string) (table, texts string) {
		var tb, cs strings.Builder
		for i, r := range rs {
			if i > 0 {
				tb.WriteString(" UNION ALL ")
			}
			fmt.Fprintf(&tb, "SELECT %d AS n, %d AS after", i+1, ns(r.after))
			fmt.Fprintf(&cs, " WHEN %d THEN %s", i+1, text(r))
		}
		return "(" + tb.String() + ")", "CASE k.n" + cs.String() + " END"
	}
	cbTable, cbForms := rows(t.callbacks, func(r seedRow) string {
		return fill(r.text, map[string]string{phSession: "s.sid", phAccount: "s.account_sid", phCall: "s.call_sid",
			phCreated: formTime("s.date_created"), phUpdated: formTime("s.date_created + k.after"), phCode: randCode})
	})
	tlTable, tlEntries := rows(seedTimeline, func(r seedRow) string {
		return fill(r.text, map[string]string{phTimeJSON: jsonTime("c.start_time + k.after")})
	})
	stmts := []struct {
		query string
		args  []any
	}{
		// The calls: SID, account, to, from, url, status, direction,
		// start, end, created, updated, then CallCols' later columns at
		// the values a Calls create with Url alone stores.
		{`WITH RECURSIVE i(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?2)
		INSERT INTO calls (` + sqlrow.CallCols + `)
		SELECT 'CA' || ` + randHex + `, ?3, '+15005550006', '+15005550001', ?4, 'completed', 'outbound-api',
			?5 + n * ?6, ?5 + n * ?6 + ?7, ?5 + n * ?6, ?5 + n * ?6 + ?7,
			'POST', '', '', 'POST', '', 'POST', 'completed', 60, '', '', '', '', 'simulated', 0
		FROM i`, []any{lo, hi, account, seedApp, base, step, ns(seedCallEnds)}},

		{`INSERT INTO call_runs (` + sqlrow.CallRunCols + `)
		SELECT sid, account_sid, ` + fill(seedRun, map[string]string{phAccount: "account_sid", phCall: "sid"}) + `, 3, 0, end_time
		FROM calls WHERE rowid > ?1 ORDER BY rowid`, []any{calls}},

		// The timeline's table is keyed by call: a call's entries go in
		// together, the chunk's calls in SID order, one pass over the
		// table's pages rather than a random page per row.
		{`INSERT INTO call_timeline (` + sqlrow.TimelineCols + `)
		SELECT c.sid, k.n, c.start_time + k.after, ` + tlEntries + `
		FROM calls c, ` + tlTable + ` k WHERE c.rowid > ?1 ORDER BY c.sid, k.n`, []any{calls}},

		{`INSERT INTO sessions (` + sqlrow.SessionCols + `)
		SELECT 'PK' || ` + randHex + `, account_sid, sid, 'ended', ?1,
			` + fill(t.state, map[string]string{phHex: randHex, phCode: randCode, phTimeJSON: jsonTime("start_time + ?4 - 1000000")}) + `,
			NULL, 0, start_time + ?3, start_time + ?4
		FROM calls WHERE rowid > ?2 ORDER BY rowid`, []any{t.params, calls, ns(seedSessionAfter), ns(seedSessionEnds)}},

		{`INSERT INTO answers (key, status, body, date_created)
		SELECT lower(hex(randomblob(32))), ?1,
			` + fill(seedAnswer, map[string]string{phSession: "sid", phAccount: "account_sid", phCall: "call_sid", phTimeJSON: jsonTime("date_created")}) + `,
			date_created
		FROM sessions WHERE rowid > ?2 ORDER BY rowid`, []any{tonepay.AnswerPayment, sessions}},

		// Delivered: chain_head stays set, as the store leaves it.
		{`INSERT INTO callbacks (token, account_sid, session_sid, url, form, status, attempts, next_attempt_at, leased_until, date_created, date_updated, method, chain_head)
		SELECT ` + randHex + `, s.account_sid, s.sid, ?1, ` + cbForms + `,
			'delivered', 1, s.date_created + k.after, 0, s.date_created + k.after, s.date_created + k.after + ?2, '', 1
		FROM sessions s, ` + cbTable + ` k WHERE s.rowid > ?3 ORDER BY s.rowid, k.n`,
			[]any{seedCallback, ns(seedDelivery), sessions}},

		{`INSERT INTO callback_attempts (callback_id, n, at, duration_ns, status_code, error)
		SELECT id, 1, date_updated, 300000 + abs(random() % 700000), 204, '' FROM callbacks WHERE id > ?1 ORDER BY id`, []any{callbacks}},
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.query, s.args...); err != nil {
			return err
		}
	}
	return nil
}
