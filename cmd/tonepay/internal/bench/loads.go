package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The three key-latency measures, each run at every load of --loads: how
// long a caller's key takes to reach the app, against how many calls are
// live and pressing at once.
const (
	measureDigit  = "digit_callback" // agent-assisted: a key -> its partial-result callback
	measureGather = "gather_action"  // a key -> the Gather's action request
	measurePay    = "pay_status"     // <Pay>: the card number's keys -> the next statusCallback
)

// loadPoint is one latency measure at one load.
type loadPoint struct {
	Measure string  `json:"measure"`
	Calls   int     `json:"calls"`
	Keys    int     `json:"keys"`
	P50MS   float64 `json:"p50_ms"`
	P99MS   float64 `json:"p99_ms"`
	// The CPU the server and the bench (callers, app, receiver) used while
	// the keys were pressed, in % of one core: the two share the machine.
	ServerCPU float64 `json:"server_cpu_percent"`
	BenchCPU  float64 `json:"bench_cpu_percent"`
}

// pressing runs press for every caller at once (parallel), noting the CPU
// the server and the bench used meanwhile in b.cpu.
func (b *bench) pressing(calls int, press func(i int) error) error {
	s0, _ := cpuTicks(b.cmd.Process.Pid)
	o0, _ := cpuTicks(os.Getpid())
	t0 := time.Now()
	err := parallel(calls, calls, press)
	el := time.Since(t0).Seconds()
	s1, _ := cpuTicks(b.cmd.Process.Pid)
	o1, _ := cpuTicks(os.Getpid())
	// a clock tick is 10 ms: ticks per second are % of one core
	b.cpu = [2]float64{float64(s1-s0) / el, float64(o1-o0) / el}
	return err
}

// parseLoads reads --loads: call counts, comma-separated.
func parseLoads(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--loads %q: want call counts separated by commas, each at least 1", s)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// sweep runs measure at every load (and at headline, the --calls figure,
// whether or not it is one of them) and records each point in res. It
// returns the headline point.
func (b *bench) sweep(res *benchResult, say func(string, ...any), name string, loads []int, headline int, run func(calls int) ([]time.Duration, error)) (loadPoint, error) {
	all := slices.Clone(loads)
	if !slices.Contains(all, headline) {
		all = append(all, headline)
		slices.Sort(all)
	}
	var head loadPoint
	for _, n := range all {
		say("  %s at %d concurrent calls…", name, n)
		lat, err := run(n)
		if err != nil {
			return head, err
		}
		p := loadPoint{Measure: name, Calls: n, Keys: len(lat), P50MS: Percentile(lat, 50), P99MS: Percentile(lat, 99), ServerCPU: b.cpu[0], BenchCPU: b.cpu[1]}
		res.Latency = append(res.Latency, p)
		if n == headline {
			head = p
		}
	}
	return head, nil
}

// p99At is measure's p99 at calls, or 0 when it was not run there.
func (r benchResult) p99At(measure string, calls int) float64 {
	for _, p := range r.Latency {
		if p.Measure == measure && p.Calls == calls {
			return p.P99MS
		}
	}
	return 0
}

// target is one of issue 25's goals, next to what the run measured.
type target struct {
	figure string
	value  float64
	unit   string
	want   float64
	atMost bool // the value must stay at or under want (latency, memory)
}

func (t target) met() bool {
	if t.atMost {
		return t.value <= t.want
	}
	return t.value >= t.want
}

// targets lists the goals the run has a figure for (a measure not run is
// left out).
func (r benchResult) targets() []target {
	var ts []target
	add := func(ran bool, figure string, value float64, unit string, want float64, atMost bool) {
		if ran {
			ts = append(ts, target{figure, value, unit, want, atMost})
		}
	}
	for _, m := range []struct{ name, words string }{
		{measureDigit, "digit -> partial-result callback p99"},
		{measureGather, "key -> Gather action p99"},
		{measurePay, "<Pay> keys -> statusCallback p99"},
	} {
		for _, at := range []struct {
			calls int
			ms    float64
		}{{1000, 10}, {3000, 25}} {
			v := r.p99At(m.name, at.calls)
			add(v > 0, fmt.Sprintf("%s, %d calls", m.words, at.calls), v, "ms", at.ms, true)
		}
	}
	add(r.Ratio > 0, "Payments create / bare net/http", r.Ratio, "×", 0.25, false)
	add(r.FlowsPerS > 0, "complete agent-assisted payments", r.FlowsPerS, "/s", 400, false)
	add(r.PayFlowsPerS > 0, "<Pay> IVR payments", r.PayFlowsPerS, "/s", 500, false)
	add(r.VoiceCallsPerS > 0, "simulated IVR calls", r.VoiceCallsPerS, "/s", 2000, false)
	add(r.Sessions > 0, "Go heap per open session", r.BytesPerSession/1024, "KB", 20, true)
	add(r.BytesPerCall > 0, "Go heap per call waiting in a Gather", r.BytesPerCall/1024, "KB", 50, true)
	// flat as the store grows: within 20% of an empty store
	add(r.CreateRPSEmpty > 0, fmt.Sprintf("Payments create, %d ended sessions / empty store", r.GrowRows), r.CreateRPS1M/r.CreateRPSEmpty, "×", 0.8, false)
	add(r.KeyP99Empty > 0, fmt.Sprintf("digit -> callback p99, %d ended sessions / empty store", r.GrowRows), r.KeyP991M/r.KeyP99Empty, "×", 1.2, true)
	add(r.PGCreateRatio3 > 0, "PostgreSQL: creates with 3 processes / its commit rate", r.PGCreateRatio3, "×", 0.5, false)
	return ts
}

// printTargets writes the goals table: each figure, its goal, and whether
// the run met it.
func printTargets(w io.Writer, r benchResult) {
	ts := r.targets()
	if len(ts) == 0 {
		return
	}
	fmt.Fprintf(w, "\nissue 25's goals:\n")
	for _, t := range ts {
		op, mark := "≥", "✗"
		if t.atMost {
			op = "≤"
		}
		if t.met() {
			mark = "✓"
		}
		fmt.Fprintf(w, "  %s %s: %s %s (goal %s %s %s)\n", mark, t.figure, trim(t.value), t.unit, op, trim(t.want), t.unit)
	}
}

// trim prints v with as many decimals as its size needs.
func trim(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// writeChart draws latency against load as an SVG file: for each measure
// its p99 (solid) and p50 (dashed) over the loads, both axes logarithmic,
// with the goals (10 ms at 1,000 calls, 25 ms at 3,000) as marks.
func writeChart(path string, r benchResult) error {
	if len(r.Latency) == 0 {
		return fmt.Errorf("--svg %s: no latency measure ran", path)
	}
	const (
		width, height          = 720, 440
		left, right, top, bott = 70, 200, 40, 60
	)
	minX, maxX := math.Inf(1), math.Inf(-1)
	minY, maxY := 1.0, 10.0
	for _, p := range r.Latency {
		minX, maxX = math.Min(minX, float64(p.Calls)), math.Max(maxX, float64(p.Calls))
		maxY = math.Max(maxY, p.P99MS)
		if p.P50MS > 0 {
			minY = math.Min(minY, p.P50MS)
		}
	}
	if minX == maxX {
		minX, maxX = minX/2, maxX*2
	}
	// decades around the data, so the grid lines fall on 1, 10, 100 ms…
	lx0, lx1 := math.Log10(minX)-0.1, math.Log10(maxX)+0.1
	ly0, ly1 := math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
	x := func(v float64) float64 { return left + (math.Log10(v)-lx0)/(lx1-lx0)*(width-left-right) }
	y := func(v float64) float64 {
		v = math.Max(v, math.Pow(10, ly0))
		return height - bott - (math.Log10(v)-ly0)/(ly1-ly0)*(height-top-bott)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14">Key latency against load (tonepay bench, %s)</text>`+"\n", left, escapeXML(r.Machine["cpu"]))
	for d := ly0; d <= ly1; d++ {
		v := math.Pow(10, d)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s ms</text>`+"\n",
			left, width-right, y(v), y(v), left-6, y(v)+4, strconv.FormatFloat(v, 'g', -1, 64))
	}
	var xs []int
	for _, p := range r.Latency {
		if !slices.Contains(xs, p.Calls) {
			xs = append(xs, p.Calls)
		}
	}
	for _, c := range xs {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/><text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n",
			x(float64(c)), x(float64(c)), top, height-bott, x(float64(c)), height-bott+16, c)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">concurrent calls, each pressing keys</text>`+"\n", (left+width-right)/2, height-bott+36)
	for _, g := range []struct{ calls, ms float64 }{{1000, 10}, {3000, 25}} {
		if g.calls >= minX/1.5 && g.calls <= maxX*1.5 {
			fmt.Fprintf(&b, `<path d="M%.1f %.1fl-6 -6h12z" fill="#000"/>`+"\n", x(g.calls), y(g.ms))
		}
	}
	colours := map[string]string{measureDigit: "#1f77b4", measureGather: "#2ca02c", measurePay: "#d62728"}
	names := map[string]string{measureDigit: "digit → partial callback", measureGather: "key → Gather action", measurePay: "<Pay> keys → statusCallback"}
	row := 0
	for _, m := range []string{measureDigit, measureGather, measurePay} {
		var p50, p99 []string
		for _, p := range r.Latency {
			if p.Measure == m {
				p50 = append(p50, fmt.Sprintf("%.1f,%.1f", x(float64(p.Calls)), y(p.P50MS)))
				p99 = append(p99, fmt.Sprintf("%.1f,%.1f", x(float64(p.Calls)), y(p.P99MS)))
			}
		}
		if len(p99) == 0 {
			continue
		}
		c := colours[m]
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(p99, " "), c)
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-dasharray="5 4"/>`+"\n", strings.Join(p50, " "), c)
		ly := top + 10 + row*20
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/><text x="%d" y="%d">%s</text>`+"\n",
			width-right+12, width-right+32, ly, ly, c, width-right+38, ly+4, escapeXML(names[m]))
		row++
	}
	ly := top + 10 + row*20 + 10
	fmt.Fprintf(&b, `<text x="%d" y="%d">solid: p99; dashed: p50</text>`+"\n", width-right+12, ly)
	fmt.Fprintf(&b, `<path d="M%d %dl-6 -6h12z" fill="#000"/><text x="%d" y="%d">goal (p99)</text>`+"\n", width-right+22, ly+20, width-right+38, ly+18)
	b.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func escapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
