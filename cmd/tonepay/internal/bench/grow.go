package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tonepay/tonepay/store/sqlite"
)

// The grow measure (issue 25): does a store that has served many payments
// stay as fast as an empty one? The same two figures, Payments create
// throughput and a key's latency to its partial-result callback, on an
// empty SQLite store and on one already holding growRows ended sessions on
// as many completed calls (sqlite.SeedEnded: their callbacks delivered,
// their timelines kept), each served by a tonepay serve of its own, one
// after the other, in the same run.

// growResult is the grow measure's part of benchResult.
type growResult struct {
	GrowRows        int     `json:"grow_rows,omitempty"`   // ended sessions (and calls) in the grown store
	GrowSeedSeconds float64 `json:"grow_seed_s,omitempty"` // how long seeding them took
	GrowDBBytes     int64   `json:"grow_db_bytes,omitempty"`
	CreateRPSEmpty  float64 `json:"create_rps_empty,omitempty"` // concurrency growConcurrency, on an empty store
	CreateRPS1M     float64 `json:"create_rps_1m,omitempty"`    // the same on the grown store
	CreateP99Empty  float64 `json:"create_p99_ms_empty,omitempty"`
	CreateP991M     float64 `json:"create_p99_ms_1m,omitempty"`
	KeyP50Empty     float64 `json:"key_p50_ms_empty,omitempty"` // digit -> partial-result callback
	KeyP99Empty     float64 `json:"key_p99_ms_empty,omitempty"`
	KeyP501M        float64 `json:"key_p50_ms_1m,omitempty"`
	KeyP991M        float64 `json:"key_p99_ms_1m,omitempty"`
	KeyCalls        int     `json:"key_calls,omitempty"` // calls pressing keys at once, five keys each
}

// growConcurrency is the creates' concurrency: the create measure's best
// level.
const growConcurrency = 64

// grow runs the grow measure into res: requests creates and keyCalls
// callers' keys on each store.
func (b *bench) grow(res *benchResult, say func(string, ...any), exe string, rows, requests, keyCalls int) error {
	res.GrowRows, res.KeyCalls = rows, keyCalls
	for _, grown := range []bool{false, true} {
		path := filepath.Join(b.dir, fmt.Sprintf("grow-%t.db", grown))
		if grown {
			say("seeding a SQLite store with %d ended sessions on as many completed calls…", rows)
			start := time.Now()
			if err := sqlite.SeedEnded(b.ctx, path, b.sid, rows); err != nil {
				return err
			}
			res.GrowSeedSeconds = time.Since(start).Seconds()
			if fi, err := os.Stat(path); err == nil {
				res.GrowDBBytes = fi.Size()
			}
		}
		create, p99, keys, err := b.growRun(say, exe, path, grown, requests, keyCalls)
		removeStore(path) // gigabytes, once grown
		if err != nil {
			return err
		}
		if grown {
			res.CreateRPS1M, res.CreateP991M, res.KeyP501M, res.KeyP991M = create, p99, Percentile(keys, 50), Percentile(keys, 99)
		} else {
			res.CreateRPSEmpty, res.CreateP99Empty, res.KeyP50Empty, res.KeyP99Empty = create, p99, Percentile(keys, 50), Percentile(keys, 99)
		}
	}
	return nil
}

// growRun serves the store at path and measures it.
func (b *bench) growRun(say func(string, ...any), exe, path string, grown bool, requests, keyCalls int) (rps, p99 float64, keys []time.Duration, err error) {
	c, err := b.startChild(exe, path)
	if err != nil {
		return 0, 0, nil, err
	}
	defer c.stop()
	which := map[bool]string{false: "the empty store", true: "the grown store"}[grown]
	err = b.on(c, func() error {
		calls, err := b.makeCalls(requests, 64)
		if err != nil {
			return err
		}
		b.quiet()
		say("Payments create at concurrency %d on %s…", growConcurrency, which)
		urls := b.paymentsURL(calls)
		profileOf(c.pprof, "grow-"+map[bool]string{false: "empty", true: "grown"}[grown], 2*time.Second)
		lr, errs := load(growConcurrency, requests, func(i int) string { return urls[i] }, b.createForm, http.StatusCreated, b.sid, b.token)
		if errs > 0 {
			return fmt.Errorf("grow: %d of %d creates on %s failed", errs, requests, which)
		}
		rps, p99 = lr.RPS, lr.P99MS
		say("digit to partial-result callback, %d calls, on %s…", keyCalls, which)
		keys, err = b.digitLatency(keyCalls, 5, false)
		return err
	})
	return rps, p99, keys, err
}

// removeStore deletes a SQLite store's files.
func removeStore(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal", ".key"} {
		os.Remove(path + suffix)
	}
}

func printGrow(w io.Writer, r benchResult) {
	if r.GrowRows == 0 {
		return
	}
	fmt.Fprintf(w, "store grown to %d ended sessions and calls (seeded in %.1f s, %.0f MB):\n", r.GrowRows, r.GrowSeedSeconds, float64(r.GrowDBBytes)/1e6)
	fmt.Fprintf(w, "  Payments create at concurrency %d: %.0f/s grown, %.0f/s empty (%.2f); p99 %.2f ms grown, %.2f ms empty\n",
		growConcurrency, r.CreateRPS1M, r.CreateRPSEmpty, r.CreateRPS1M/r.CreateRPSEmpty, r.CreateP991M, r.CreateP99Empty)
	fmt.Fprintf(w, "  digit -> partial callback (%d calls): p50 %.2f ms grown, %.2f ms empty; p99 %.2f ms grown, %.2f ms empty\n",
		r.KeyCalls, r.KeyP501M, r.KeyP50Empty, r.KeyP991M, r.KeyP99Empty)
}

// growKeyCalls are the callers pressing keys at once in the grow measure:
// a modest number, so that the store, not the load, decides the latency.
const growKeyCalls = 100
