package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
)

// The PostgreSQL measures (issue 25): Payments creates per second with 1, 2
// and 3 tonepay serve processes on one database, next to that database
// server's own single-row commit rate on this machine (pgbench), which
// bounds any number of processes. Both run on a database the bench
// creates for the run and drops at its end. Durability is the server's:
// its synchronous_commit and fsync are read and reported beside the
// figures (a test cluster may run with fsync off).

// pgResult is the PostgreSQL measures' part of benchResult.
type pgResult struct {
	PGCommitRPS     float64   `json:"pg_commit_rps,omitempty"`     // pgbench: one single-row INSERT per transaction
	PGCommitClients int       `json:"pg_commit_clients,omitempty"` // pgbench -c of the best run
	PGCommitThreads int       `json:"pg_commit_threads,omitempty"` // pgbench -j
	PGCreate        []pgLevel `json:"pg_create_rps_by_processes,omitempty"`
	PGCreateRatio3  float64   `json:"pg_create_ratio_3,omitempty"` // 3 processes' creates/s / pg_commit_rps
	PGSkipped       string    `json:"pg_skipped,omitempty"`        // why the measures did not run
}

// pgLevel is the best concurrency's creates with so many processes.
type pgLevel struct {
	Processes   int     `json:"processes"`
	Concurrency int     `json:"concurrency"` // requests in flight, spread over the processes
	Requests    int     `json:"requests"`
	RPS         float64 `json:"rps"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
}

// pgConcurrency are the levels tried, for pgbench's clients and for the
// creates: the create measure's.
var pgConcurrency = []int{16, 64}

// pgProcesses are the numbers of tonepay processes measured.
const pgProcesses = 3

// postgres runs the PostgreSQL measures into res against the server at
// server (a postgres:// URL whose user may create databases).
func (b *bench) postgres(res *benchResult, say func(string, ...any), exe, server string, requests int, pgbenchTime time.Duration) error {
	ctx := b.ctx
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer admin.Close(context.Background())
	for _, name := range []string{"server_version", "synchronous_commit", "fsync"} {
		var v string
		if err := admin.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			return fmt.Errorf("postgres: SHOW %s: %w", name, err)
		}
		res.Machine["pg_"+name] = v
	}
	name := "tonepay_bench_" + tonepay.RandomHex(6)
	res.Machine["pg_database"] = name // dropped at the end; the test checks
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	u, err := url.Parse(server)
	if err != nil {
		return err
	}
	u.Path = "/" + name
	db := u.String()

	say("PostgreSQL (%s, synchronous_commit %s, fsync %s): its own single-row commit rate, pgbench…",
		res.Machine["pg_server_version"], res.Machine["pg_synchronous_commit"], res.Machine["pg_fsync"])
	if err := b.pgCommit(res, db, pgbenchTime); err != nil {
		return err
	}
	key := make([]byte, 32)
	rand.Read(key)
	dataKey := "TONEPAY_DATA_KEY=" + base64.StdEncoding.EncodeToString(key) // the same for every process, as they require
	for n := 1; n <= pgProcesses; n++ {
		lv, err := b.pgCreates(say, exe, db, dataKey, n, requests, res)
		if err != nil {
			return err
		}
		res.PGCreate = append(res.PGCreate, lv)
	}
	if res.PGCommitRPS > 0 {
		res.PGCreateRatio3 = res.PGCreate[pgProcesses-1].RPS / res.PGCommitRPS
	}
	return nil
}

// pgCreates starts n processes on db and measures creates spread over
// them round robin, at each of pgConcurrency; it returns the best level.
func (b *bench) pgCreates(say func(string, ...any), exe, db, dataKey string, n, requests int, res *benchResult) (pgLevel, error) {
	var procs []*child
	defer func() {
		for _, c := range procs {
			c.stop()
		}
	}()
	for range n {
		c, err := b.startChild(exe, db, dataKey)
		if err != nil {
			return pgLevel{}, err
		}
		procs = append(procs, c)
	}
	best := pgLevel{Processes: n}
	err := b.on(procs[0], func() error {
		calls, err := b.makeCalls(len(pgConcurrency)*requests, 64)
		if err != nil {
			return err
		}
		for i, conc := range pgConcurrency {
			b.quiet()
			say("Payments create on PostgreSQL, %d process(es), concurrency %d…", n, conc)
			mine := calls[i*requests : (i+1)*requests]
			profileOf(procs[0].pprof, fmt.Sprintf("pg-p%d-c%d", n, conc), 2*time.Second)
			lr, errs := load(conc, requests, func(j int) string {
				return procs[j%n].base + "/2010-04-01/Accounts/" + b.sid + "/Calls/" + mine[j] + "/Payments.json"
			}, b.createForm, http.StatusCreated, b.sid, b.token)
			res.Errors[fmt.Sprintf("pg_create_p%d_c%d", n, conc)] = float64(errs)
			if lr.RPS > best.RPS {
				best = pgLevel{Processes: n, Concurrency: conc, Requests: requests, RPS: lr.RPS, P50MS: lr.P50MS, P99MS: lr.P99MS}
			}
		}
		return nil
	})
	return best, err
}

// pgCommit measures db's commit rate with pgbench: a custom script of one
// single-row INSERT, each its own transaction, into a table of the bench's
// database, at each of pgConcurrency clients.
func (b *bench) pgCommit(res *benchResult, db string, d time.Duration) error {
	bin, err := findPgbench()
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(b.ctx, db)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	_, err = conn.Exec(b.ctx, `CREATE TABLE commit_rate (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text NOT NULL)`)
	conn.Close(context.Background())
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	script := filepath.Join(b.dir, "commit_rate.sql")
	if err := os.WriteFile(script, []byte("INSERT INTO commit_rate (v) VALUES ('PK0123456789abcdef0123456789abcdef');\n"), 0o600); err != nil {
		return err
	}
	threads := runtime.NumCPU()
	res.PGCommitThreads = threads
	for _, clients := range pgConcurrency {
		secs := strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
		// -n: no vacuum of pgbench's own tables, which this database lacks.
		out, err := exec.CommandContext(b.ctx, bin, "-n", "-f", script, "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(threads, clients)), "-T", secs, db).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pgbench: %w\n%s", err, out)
		}
		tps, err := pgbenchTPS(out)
		if err != nil && !noneProcessed.Match(out) {
			return err
		}
		// A level whose clients were still connecting when -T ran out (a
		// busy machine) measured nothing: the best level is the figure.
		if tps > res.PGCommitRPS {
			res.PGCommitRPS, res.PGCommitClients = tps, clients
		}
	}
	if res.PGCommitRPS == 0 {
		return fmt.Errorf("pgbench completed no transaction in %v at any of %v clients: give it longer (--pgbench-time)", d, pgConcurrency)
	}
	return nil
}

// noneProcessed is pgbench's line when no transaction ended within -T (it
// then prints no tps).
var noneProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: 0\b`)

var tpsRE = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)

// pgbenchTPS reads pgbench's "tps = N (without initial connection time)".
func pgbenchTPS(out []byte) (float64, error) {
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps line:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// findPgbench looks for pgbench on PATH, then in pg_config --bindir, then
// in Debian's /usr/lib/postgresql/*/bin (the newest).
func findPgbench() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "pgbench")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	slices.SortFunc(found, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	if len(found) > 0 {
		return found[0], nil
	}
	return "", errors.New("pgbench not found (on PATH, in pg_config --bindir, or /usr/lib/postgresql/*/bin): install PostgreSQL's client tools")
}

// pgVersion is the major version in a /usr/lib/postgresql/N/bin path.
func pgVersion(p string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return n
}

func printPostgres(w io.Writer, r benchResult) {
	if r.PGSkipped != "" {
		fmt.Fprintf(w, "PostgreSQL measures: skipped (%s)\n", r.PGSkipped)
	}
	if r.PGCommitRPS == 0 {
		return
	}
	fmt.Fprintf(w, "PostgreSQL %s (synchronous_commit %s, fsync %s): single-row commits %.0f/s (pgbench -c %d -j %d)\n",
		r.Machine["pg_server_version"], r.Machine["pg_synchronous_commit"], r.Machine["pg_fsync"], r.PGCommitRPS, r.PGCommitClients, r.PGCommitThreads)
	for _, l := range r.PGCreate {
		fmt.Fprintf(w, "  Payments create, %d process(es): %.0f/s (concurrency %d), p50 %.2f ms, p99 %.2f ms; %.2f of the commit rate\n",
			l.Processes, l.RPS, l.Concurrency, l.P50MS, l.P99MS, l.RPS/r.PGCommitRPS)
	}
}
