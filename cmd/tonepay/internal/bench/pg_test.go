package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay/internal/e2e"
	"github.com/tonepay/tonepay/internal/pgtest"
)

// TestBenchOnlyPostgres runs the PostgreSQL measures at a tiny size on
// TONEPAY_TEST_POSTGRES_URL's server: pgbench's commit rate, creates with
// 1, 2 and 3 processes, the server's durability settings beside them, and
// the run's database dropped at its end.
func TestBenchOnlyPostgres(t *testing.T) {
	server := pgtest.ServerURL(t)
	var out, errOut bytes.Buffer
	args := []string{"--only", "postgres", "--json", "--postgres", server, "--requests", "40", "--pgbench-time", "2s"}
	if err := Main(context.Background(), args, e2e.Binary(), &out, &errOut); err != nil {
		t.Fatalf("bench --only postgres: %v\n%s", err, errOut.String())
	}
	var fields map[string]any
	if err := json.Unmarshal(out.Bytes(), &fields); err != nil {
		t.Fatalf("bench --json printed %q: %v", out.String(), err)
	}
	for _, k := range []string{"pg_commit_rps", "pg_commit_clients", "pg_commit_threads", "pg_create_ratio_3"} {
		if v, ok := fields[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v", k, fields[k])
		}
	}
	var r benchResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.PGCreate) != pgProcesses {
		t.Fatalf("pg_create_rps_by_processes: %+v", r.PGCreate)
	}
	for i, l := range r.PGCreate {
		if l.Processes != i+1 || l.RPS <= 0 || l.P50MS <= 0 || l.P99MS < l.P50MS || l.Requests != 40 || l.Concurrency <= 0 {
			t.Errorf("processes %d: %+v", i+1, l)
		}
	}
	for k, v := range r.Errors {
		if v != 0 {
			t.Errorf("errors: %s = %v", k, v)
		}
	}
	for _, k := range []string{"pg_server_version", "pg_synchronous_commit", "pg_fsync", "pg_database"} {
		if r.Machine[k] == "" {
			t.Errorf("machine lacks %s: %v", k, r.Machine)
		}
	}
	if r.CreateRPS1M != 0 || len(r.Create) != 0 || r.PGSkipped != "" {
		t.Errorf("--only postgres ran other measures, or says it skipped: %+v", r)
	}
	conn, err := pgx.Connect(context.Background(), server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left bool
	if err := conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, r.Machine["pg_database"]).Scan(&left); err != nil || left {
		t.Errorf("database %s left behind (%v)", r.Machine["pg_database"], err)
	}
}

// TestPgbenchTPS reads the line pgbench 15 prints, and refuses output
// without one.
func TestPgbenchTPS(t *testing.T) {
	out := "transaction type: commit_rate.sql\nscaling factor: 1\nnumber of clients: 16\nlatency average = 1.935 ms\n" +
		"initial connection time = 12.271 ms\ntps = 8268.516253 (without initial connection time)\n"
	if v, err := pgbenchTPS([]byte(out)); err != nil || v != 8268.516253 {
		t.Errorf("pgbenchTPS = %v, %v", v, err)
	}
	if _, err := pgbenchTPS([]byte("pgbench: error: connection refused\n")); err == nil {
		t.Error("no tps line: no error")
	}
	// A level that measured nothing (the clients still connecting when -T
	// ran out) is told apart from a failure.
	none := []byte("number of clients: 64\nduration: 1 s\nnumber of transactions actually processed: 0\nnumber of failed transactions: 0 (NaN%)\n")
	if !noneProcessed.Match(none) || noneProcessed.Match([]byte("number of transactions actually processed: 0123\n")) {
		t.Error("noneProcessed does not match only pgbench's zero line")
	}
}

// TestPrintPostgres: the printout has the PostgreSQL figures, with the
// server's durability settings, when they ran, says so when they were
// skipped, and is silent when they were not asked for.
func TestPrintPostgres(t *testing.T) {
	ran := benchResult{Machine: map[string]string{"pg_server_version": "15.8", "pg_synchronous_commit": "on", "pg_fsync": "off"}}
	ran.PGCommitRPS, ran.PGCommitClients, ran.PGCommitThreads = 8000, 64, 2
	ran.PGCreate = []pgLevel{{Processes: 1, Concurrency: 64, RPS: 2000, P50MS: 20, P99MS: 60}, {Processes: 3, Concurrency: 16, RPS: 4000, P50MS: 3, P99MS: 9}}
	var skipped benchResult
	skipped.PGSkipped = "no --postgres URL or TONEPAY_BENCH_POSTGRES"
	tests := []struct {
		name      string
		r         benchResult
		want, not []string
	}{
		{"ran", ran, []string{"PostgreSQL 15.8 (synchronous_commit on, fsync off): single-row commits 8000/s (pgbench -c 64 -j 2)",
			"1 process(es): 2000/s (concurrency 64), p50 20.00 ms, p99 60.00 ms; 0.25 of the commit rate",
			"3 process(es): 4000/s (concurrency 16), p50 3.00 ms, p99 9.00 ms; 0.50 of the commit rate"}, []string{"skipped"}},
		{"skipped", skipped, []string{"PostgreSQL measures: skipped (no --postgres URL or TONEPAY_BENCH_POSTGRES)"}, []string{"commits"}},
		{"not asked", benchResult{}, nil, []string{"PostgreSQL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w strings.Builder
			printPostgres(&w, tt.r)
			for _, s := range tt.want {
				if !strings.Contains(w.String(), s) {
					t.Errorf("lacks %q:\n%s", s, w.String())
				}
			}
			for _, s := range tt.not {
				if strings.Contains(w.String(), s) {
					t.Errorf("has %q:\n%s", s, w.String())
				}
			}
		})
	}
}
