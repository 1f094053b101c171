package bench

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseOptions: the flags' defaults, the SIP measure's flags, and each
// mistake refused with its reason.
func TestParseOptions(t *testing.T) {
	t.Setenv("TONEPAY_BENCH_POSTGRES", "") // the defaults are without it
	tests := []struct {
		name    string
		args    []string
		check   func(options) bool
		wantErr string
	}{
		{"defaults", nil, func(o options) bool {
			return o.sipCalls == 500 && o.sipTyping == 50 && o.duration == 20*time.Second && o.only == "" && o.runs("sip") && o.runs("voice") &&
				o.postgres == "" && o.pgbenchTime == 5*time.Second && o.growRows == 1_000_000 && o.runs("postgres") && o.runs("grow")
		}, ""},
		{"only postgres", []string{"--only", "postgres", "--postgres", "postgres://u@127.0.0.1/postgres", "--pgbench-time", "2s"}, func(o options) bool {
			return o.postgres == "postgres://u@127.0.0.1/postgres" && o.pgbenchTime == 2*time.Second && o.runs("postgres") && !o.runs("grow")
		}, ""},
		{"only grow", []string{"--only", "grow", "--grow-rows", "500"}, func(o options) bool { return o.growRows == 500 && o.runs("grow") && !o.runs("postgres") }, ""},
		{"only postgres, no server", []string{"--only", "postgres"}, nil, "--only postgres needs a server: --postgres URL or TONEPAY_BENCH_POSTGRES"},
		{"no rows", []string{"--grow-rows", "0"}, nil, "--grow-rows 0: want at least 1"},
		{"only sip", []string{"--only", "sip", "--sip-calls", "20", "--sip-typing", "5", "--duration", "3s"}, func(o options) bool {
			return o.sipCalls == 20 && o.sipTyping == 5 && o.duration == 3*time.Second && o.runs("sip") && !o.runs("streams")
		}, ""},
		{"nobody typing", []string{"--sip-typing", "0"}, func(o options) bool { return o.sipTyping == 0 }, ""},
		{"unknown group", []string{"--only", "digits"}, nil, `--only "digits": the groups are payments, voice, pay, streams, sip, postgres, grow`},
		{"more typing than calls", []string{"--sip-calls", "10", "--sip-typing", "11"}, nil, "no more callers typing than calls"},
		{"no calls", []string{"--sip-calls", "0"}, nil, "want at least one call"},
		{"short duration", []string{"--duration", "500ms"}, nil, "--duration 500ms: want at least 1s"},
		{"bad duration", []string{"--duration", "20"}, nil, "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted: 100..1
	}
	tests := []struct {
		name        string
		ds          []time.Duration
		p           int
		want, wantM float64
	}{
		{"empty", nil, 99, 0, 0},
		{"one", ms(7), 50, 7, 7},
		{"p50 of 1..100", ms(hundred...), 50, 51, 100},
		{"p99 of 1..100", ms(hundred...), 99, 100, 100},
		{"p100 stays in range", ms(3, 1, 2), 100, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("Percentile(%d) = %v, want %v", tt.p, got, tt.want)
			}
			if got := maxMS(tt.ds); got != tt.wantM {
				t.Errorf("maxMS = %v, want %v", got, tt.wantM)
			}
		})
	}
}

// TestFlow: relays are known by their timestamp from packet 0's relay (the
// marked one) on, whatever order they come in; a packet with no relay in
// the window is lost; a slot that carried a key's events instead of audio
// is not counted; relays that cannot be placed are counted apart.
func TestFlow(t *testing.T) {
	var base uint32 = 4294967000 // the relayed timestamps wrap past 2^32
	ms := int64(time.Millisecond)
	at := func(t int64) int64 { return 1_800_000_000_000_000_000 + t } // UnixNano: 0 is "no audio"
	var f flow
	for k := range 6 {
		if k == 3 {
			continue // slot 3: a key's events, no audio
		}
		f.wrote(k, at(int64(k)*20*ms))
	}
	f.relayed(true, base, at(1*ms))                 // packet 0, 1 ms
	f.relayed(false, base+2*160, at(40*ms+3*ms))    // packet 2 before packet 1, 3 ms
	f.relayed(false, base+160, at(20*ms+2*ms))      // packet 1, 2 ms
	f.relayed(false, base+160, at(20*ms+9*ms))      // packet 1 again
	f.relayed(false, base+5*160+1, at(100*ms+1*ms)) // off the 20 ms grid
	f.relayed(false, base+4*160, at(80*ms+5*ms))    // packet 4, 5 ms; packet 5 never comes
	f.relayed(false, base+100*160, at(80*ms+5*ms))  // never sent
	var s relayStats
	s.add(&f, at(0), at(200*ms))
	got := struct{ Sent, Lost, Loose, Dups int }{s.sent, s.lost, s.loose, s.dups}
	if diff := cmp.Diff(struct{ Sent, Lost, Loose, Dups int }{5, 1, 2, 1}, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond}, s.lat); diff != "" {
		t.Errorf("latencies (-want +got):\n%s", diff)
	}
	// The window: packets written from 20 ms up to 80 ms only.
	var w relayStats
	w.add(&f, at(20*ms), at(80*ms))
	if w.sent != 2 || w.lost != 0 {
		t.Errorf("window [20, 80) ms: sent %d lost %d, want 2 and 0", w.sent, w.lost)
	}
	// No marked relay: nothing can be placed.
	var g flow
	g.wrote(0, at(0))
	g.wrote(1, at(20*ms))
	g.relayed(false, 1000, at(21*ms))
	var u relayStats
	u.add(&g, at(0), at(100*ms))
	if u.sent != 2 || u.lost != 2 || u.loose != 1 {
		t.Errorf("unanchored: %+v", u)
	}
}

// TestPostgresFromEnv: TONEPAY_BENCH_POSTGRES names the server when
// --postgres does not, and --help does not show it (it may hold a
// password).
func TestPostgresFromEnv(t *testing.T) {
	const secret = "postgres://u:hunter2@127.0.0.1/postgres"
	t.Setenv("TONEPAY_BENCH_POSTGRES", secret)
	o, err := parseOptions([]string{"--only", "postgres"}, io.Discard)
	if err != nil || o.postgres != secret {
		t.Fatalf("postgres %q, %v", o.postgres, err)
	}
	if o, err := parseOptions([]string{"--postgres", "postgres://other/db"}, io.Discard); err != nil || o.postgres != "postgres://other/db" {
		t.Errorf("--postgres over the environment: %q, %v", o.postgres, err)
	}
	var help strings.Builder
	parseOptions([]string{"-h"}, &help)
	if !strings.Contains(help.String(), "-postgres") || strings.Contains(help.String(), "hunter2") {
		t.Errorf("help lacks --postgres, or shows TONEPAY_BENCH_POSTGRES:\n%s", help.String())
	}
}

// TestUsageHidesFlags: --help shows the flags with their defaults, but not
// the hidden ones.
func TestUsageHidesFlags(t *testing.T) {
	var help strings.Builder
	parseOptions([]string{"-h"}, &help)
	if !strings.Contains(help.String(), "-requests int") || !strings.Contains(help.String(), `(default "100,300,1000,3000")`) {
		t.Errorf("help lacks flags or their defaults:\n%s", help.String())
	}
	for hidden := range hidden {
		if strings.Contains(help.String(), hidden) {
			t.Errorf("help shows the hidden flag %s", hidden)
		}
	}
}
