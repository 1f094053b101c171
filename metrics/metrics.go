// Package metrics is tonepay's Prometheus instrumentation (DESIGN §5), and
// the only package that imports client_golang. The other packages expose
// plain hook funcs (nil: off, costing nothing); cmd/tonepay sets them to the
// methods of a Metrics and mounts its Handler.
//
// No label carries an account, call, session or card value: routes are
// ServeMux patterns ("{AccountSid}", never the SID), results and outcomes
// are fixed words, connectors are the names in the operator's configuration.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tonepay/tonepay"
)

// Live counts what is under way, for the gauges. The stores implement it
// (store/sqlite and store/postgres CountLive) with partial indexes, so a
// count costs what is live, not what the store has ever held.
type Live interface {
	CountLive(ctx context.Context) (sessions, callbacks, calls int, err error)
}

// Options configure New.
type Options struct {
	// Live, if set, gives tonepay_sessions_open, tonepay_callbacks_pending
	// and tonepay_calls_active, counted at scrape time: right across
	// restarts and across processes sharing one database, where counters
	// kept in memory would drift.
	Live Live
	// LiveFor is how long a count is reused, so that scrapes in a burst
	// (several Prometheus servers) query the store once; default 2 s.
	LiveFor time.Duration
	// Connectors are the configured connectors' names: their series start
	// at zero, so that rate() sees the first call.
	Connectors []string
	Logger     *slog.Logger // where a failing count is logged; default discard
}

// CallSourceAPI is the source of calls created through the Calls API, the
// only kind tonepay has today (SIP and media streams will add theirs).
const CallSourceAPI = "api"

// RouteUnmatched is the route label of requests that matched no pattern (or
// only a catch-all "/"): never the raw path, which holds SIDs.
const RouteUnmatched = "unmatched"

// Metrics holds the collectors. Its methods are the hooks of the other
// packages; all are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	ended        *prometheus.CounterVec
	keys         *prometheus.CounterVec
	attempts     *prometheus.CounterVec
	delivery     prometheus.Histogram
	attemptTime  prometheus.Histogram
	connCalls    *prometheus.CounterVec
	connTime     *prometheus.HistogramVec
	commit       prometheus.Histogram
}

// New builds the collectors on a registry of their own (with the Go runtime
// and process collectors), not the global one.
func New(o Options) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tonepay_http_requests_total",
			Help: "HTTP requests answered, by route (the ServeMux pattern) and status code."}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tonepay_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route (event streams count when they end).",
			Buckets: prometheus.DefBuckets}, []string{"route"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tonepay_sessions_ended_total",
			Help: "Payment sessions ended, by Result."}, []string{"result"}),
		keys: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tonepay_keys_total",
			Help: "Keys delivered to calls (taken or dropped), by source."}, []string{"source"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tonepay_callback_attempts_total",
			Help: "Status callback delivery attempts, by outcome."}, []string{"outcome"}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tonepay_callback_delivery_seconds",
			Help:    "Time from a status callback's commit to its delivery (a 2xx), retries included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600}}),
		attemptTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tonepay_callback_attempt_seconds",
			Help:    "Time a receiver took to answer one status callback attempt.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15}}),
		connCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tonepay_connector_requests_total",
			Help: "Connector calls, by connector and outcome (ok, declined, error: outcome unknown, retried)."}, []string{"connector", "outcome"}),
		connTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tonepay_connector_duration_seconds",
			Help:    "Time a connector call took, by connector.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"connector"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tonepay_store_commit_seconds",
			Help:    "Time of one store COMMIT (the durable write; SQLite commits a group of transactions at once).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
	}
	reg.MustRegister(m.httpRequests, m.httpDuration, m.ended, m.keys, m.attempts, m.delivery, m.attemptTime,
		m.connCalls, m.connTime, m.commit,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if o.Live != nil {
		reg.MustRegister(newLiveCollector(o))
	}
	// Series that exist before their first event, so that increase() and
	// rate() see that event.
	for _, r := range []string{tonepay.ResultSuccess, tonepay.ResultConnectorError, tonepay.ResultStar, tonepay.ResultHungUp,
		tonepay.ResultValidationError, tonepay.ResultInternalError, tonepay.ResultCancelled, tonepay.ResultTooManyAttempts} {
		m.ended.WithLabelValues(r)
	}
	m.keys.WithLabelValues(tonepay.KeySourceKeypad)
	for _, oc := range []string{"delivered", "http_error", "no_answer", "refused", "backed_off"} {
		m.attempts.WithLabelValues(oc)
	}
	for _, c := range o.Connectors {
		for _, oc := range []string{"ok", "declined", "error"} {
			m.connCalls.WithLabelValues(c, oc)
		}
	}
	return m
}

// Handler serves the metrics in Prometheus's text format (or OpenMetrics,
// when the scraper asks for it).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry is where the collectors are, for tests and for adding more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SessionEnded is payments.Hooks.Ended.
func (m *Metrics) SessionEnded(result string) { m.ended.WithLabelValues(result).Inc() }

// Keys is calls.Hooks.Keys: the source is a tonepay.KeySource value.
func (m *Metrics) Keys(source string, n int) { m.keys.WithLabelValues(source).Add(float64(n)) }

// ConnectorCall is payments.Hooks.Connector.
func (m *Metrics) ConnectorCall(connector, outcome string, d time.Duration) {
	m.connCalls.WithLabelValues(connector, outcome).Inc()
	m.connTime.WithLabelValues(connector).Observe(d.Seconds())
}

// CallbackAttempt is webhook.Dispatcher.Observe.
func (m *Metrics) CallbackAttempt(outcome string, took, age time.Duration) {
	m.attempts.WithLabelValues(outcome).Inc()
	if outcome == "backed_off" {
		return // nothing was sent
	}
	m.attemptTime.Observe(took.Seconds())
	if outcome == "delivered" {
		m.delivery.Observe(age.Seconds())
	}
}

// Commit is the stores' ObserveCommit.
func (m *Metrics) Commit(d time.Duration) { m.commit.Observe(d.Seconds()) }

// Wrap counts and times every request next answers. Put it outside every
// ServeMux (and outside anything that copies the request, as StripPrefix
// does below its own pattern): the innermost mux sets r.Pattern on the
// request it was handed, and Wrap reads it once next returns.
func (m *Metrics) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = RouteUnmatched
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		m.httpRequests.WithLabelValues(route, codeText(status)).Inc()
		m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// codes holds the status texts, so that a request formats none.
var codes = func() (c [600]string) {
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}()

func codeText(status int) string {
	if status >= 0 && status < len(codes) {
		return codes[status]
	}
	return strconv.Itoa(status)
}

// recorder notes the status written.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 && status >= 200 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush keeps event streams streaming for handlers that assert
// http.Flusher; Unwrap serves http.ResponseController (deadlines, Hijack).
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// liveCollector asks the store at scrape time, reusing a count for LiveFor.
type liveCollector struct {
	live     Live
	ttl      time.Duration
	log      *slog.Logger
	sessions *prometheus.Desc
	pending  *prometheus.Desc
	calls    *prometheus.Desc

	mu     sync.Mutex
	at     time.Time // of the last count, kept or not
	ok     bool
	counts [3]int
}

func newLiveCollector(o Options) *liveCollector {
	c := &liveCollector{live: o.Live, ttl: o.LiveFor, log: o.Logger,
		sessions: prometheus.NewDesc("tonepay_sessions_open", "Payment sessions not ended (in the store: all processes).", nil, nil),
		pending:  prometheus.NewDesc("tonepay_callbacks_pending", "Status callbacks waiting for delivery (in the store: all processes).", nil, nil),
		calls:    prometheus.NewDesc("tonepay_calls_active", "Calls in progress (in the store: all processes), by source.", []string{"source"}, nil),
	}
	if c.ttl <= 0 {
		c.ttl = 2 * time.Second
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c *liveCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessions
	ch <- c.pending
	ch <- c.calls
}

func (c *liveCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.at) >= c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, p, k, err := c.live.CountLive(ctx)
		cancel()
		c.at, c.ok = time.Now(), err == nil
		if err != nil {
			// The gauges are left out rather than reported as 0: an alert
			// on absent() tells a broken count from an idle server.
			c.log.Warn("metrics: counting live sessions, callbacks and calls", "err", err)
		} else {
			c.counts = [3]int{s, p, k}
		}
	}
	ok, n := c.ok, c.counts
	c.mu.Unlock()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(n[0]))
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n[1]))
	ch <- prometheus.MustNewConstMetric(c.calls, prometheus.GaugeValue, float64(n[2]), CallSourceAPI)
}
