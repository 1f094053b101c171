package callerscript

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/tonepay/tonepay"
)

// recorder sees what an app receives, for expect_request: tonepay calls the
// app through it, one loopback listener per app origin. It forwards each
// request unchanged but for its X-Twilio-Signature, made again over the
// app's own URL with the account's auth token (tonepay signed the
// recorder's URL), and writes the app's origin in the answers' TwiML and
// Location as its own, so that the absolute URLs an app writes come back
// through it too. Relative ones resolve against its URL by themselves.
type recorder struct {
	token tonepay.Secret
	mu    sync.Mutex
	byApp map[string]*proxy // app origin -> its proxy
	got   map[string][]Received
	wake  chan struct{} // closed and replaced on each request
}

// Received is one request an app got during a call, as tonepay sent it.
type Received struct {
	Method string
	Path   string
	Params url.Values // the form and the query
	Status int        // the app's answer
}

type proxy struct {
	app, self string // origins: the app's, the recorder's listener's
	srv       *http.Server
	ln        net.Listener
}

func newRecorder(token tonepay.Secret) *recorder {
	return &recorder{token: token, byApp: map[string]*proxy{}, got: map[string][]Received{}, wake: make(chan struct{})}
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// route returns the URL through which tonepay reaches rawURL (an http(s)
// URL), starting a listener for its origin the first time.
func (r *recorder) route(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	app := origin(u)
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.byApp[app]
	if p == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		p = &proxy{app: app, self: "http://" + ln.Addr().String(), ln: ln}
		p.srv = &http.Server{Handler: r.handler(p)}
		go p.srv.Serve(ln)
		r.byApp[app] = p
	}
	return p.self + strings.TrimPrefix(rawURL, app), nil
}

// appURLs writes each recorder origin in s as the app's it stands for, so
// that a timeline shows the URLs the script's author knows (tonepay
// fetched the recorder's).
func (r *recorder) appURLs(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.byApp {
		var b strings.Builder
		rest := s
		for {
			i := strings.Index(rest, p.self)
			if i < 0 {
				break
			}
			end := i + len(p.self)
			b.WriteString(rest[:i])
			if end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
				b.WriteString(p.self) // another port that begins the same
			} else {
				b.WriteString(p.app)
			}
			rest = rest[end:]
		}
		b.WriteString(rest)
		s = b.String()
	}
	return s
}

func (r *recorder) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.byApp {
		p.srv.Close()
	}
}

// forwardClient does not follow redirects: tonepay does, through the
// recorder again (Location rewritten).
var forwardClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (r *recorder) handler(p *proxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, in *http.Request) {
		body, err := io.ReadAll(io.LimitReader(in.Body, 1<<20))
		if err != nil {
			http.Error(w, "recorder: "+err.Error(), http.StatusBadGateway)
			return
		}
		params := in.URL.Query()
		var form url.Values
		if in.Method == http.MethodPost {
			form, _ = url.ParseQuery(string(body))
			for k, vs := range form {
				params[k] = append(params[k], vs...)
			}
		}
		target := p.app + in.URL.RequestURI()
		out, err := http.NewRequestWithContext(in.Context(), in.Method, target, bytes.NewReader(body))
		if err != nil {
			http.Error(w, "recorder: "+err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = in.Header.Clone()
		out.Header.Del("Accept-Encoding") // the transport then unzips what the app zips, to rewrite it
		if in.Header.Get("X-Twilio-Signature") != "" {
			out.Header.Set("X-Twilio-Signature", tonepay.Signature(r.token, target, form))
		}
		res, err := forwardClient.Do(out)
		status := http.StatusBadGateway
		if err == nil {
			status = res.StatusCode
		}
		r.record(params.Get("CallSid"), Received{Method: in.Method, Path: in.URL.Path, Params: params, Status: status})
		if err != nil {
			http.Error(w, "recorder: the app did not answer: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		answer, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		answer = bytes.ReplaceAll(answer, []byte(p.app), []byte(p.self))
		for k, vs := range res.Header {
			w.Header()[k] = vs
		}
		if loc := res.Header.Get("Location"); loc != "" {
			w.Header().Set("Location", strings.Replace(loc, p.app, p.self, 1))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		w.WriteHeader(res.StatusCode)
		w.Write(answer)
	})
}

func (r *recorder) record(callSid string, rq Received) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[callSid] = append(r.got[callSid], rq)
	close(r.wake)
	r.wake = make(chan struct{})
}

// requests returns the call's requests from index from on, and a channel
// closed at the next request.
func (r *recorder) requests(callSid string, from int) ([]Received, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := r.got[callSid]
	if from > len(all) {
		from = len(all)
	}
	return append([]Received(nil), all[from:]...), r.wake
}
