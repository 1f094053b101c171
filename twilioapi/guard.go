package twilioapi

import (
	"bufio"
	"mime"
	"net"
	"net/http"
)

// MaxHeaderBytes is the most request-header bytes (request line, Host and
// header fields) that Errors lets through; a larger request gets 431 with
// code 20431 in Twilio's error JSON. http.Server.MaxHeaderBytes must stay
// above it (Go's default, 1 MiB, is): past that limit Go answers itself, in
// plain text, before any handler runs.
const MaxHeaderBytes = 32 << 10

// Errors makes every error answer of next Twilio's error JSON, as clients of
// a Twilio API expect on every 4xx and 5xx: wrap the whole server with it,
// so that it covers handlers outside this package (the console's file
// server, timeouts, the standard library's own answers). A 4xx or 5xx whose
// Content-Type is not JSON has its body replaced; every other answer passes
// through unbuffered, with flushing (event streams) and hijacking intact.
// It also refuses headers over MaxHeaderBytes.
func Errors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headerBytes(r) > MaxHeaderBytes {
			w.Header().Set("Connection", "close") // the rest of such a client's stream is not worth reading
			writeStatus(w, r, http.StatusRequestHeaderFieldsTooLarge)
			return
		}
		next.ServeHTTP(&errorWriter{ResponseWriter: w, r: r}, r)
	})
}

// headerBytes counts a request's header as it came on the wire, near
// enough: what Go's MaxHeaderBytes counts.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 + len("Host: \r\n") + len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

// errorWriter replaces a plain-text error answer with Twilio's error JSON at
// WriteHeader time, when the status and Content-Type are known, and then
// discards the plain body: nothing is buffered.
type errorWriter struct {
	http.ResponseWriter
	r       *http.Request
	wrote   bool // the final header is written
	replace bool // it was an error we rewrote: drop the handler's body
}

func (e *errorWriter) WriteHeader(status int) {
	if e.wrote || status < 200 { // informational answers, and superfluous calls Go reports itself
		e.ResponseWriter.WriteHeader(status)
		return
	}
	e.wrote = true
	if status < 400 || status == statusClientClosed || isJSON(e.Header().Get("Content-Type")) {
		e.ResponseWriter.WriteHeader(status)
		return
	}
	e.replace = true
	h := e.Header()
	for _, k := range []string{"Content-Length", "Content-Encoding", "Content-Range", "Content-Disposition", "Etag", "Last-Modified"} {
		h.Del(k)
	}
	writeStatus(e.ResponseWriter, e.r, status)
}

func (e *errorWriter) Write(b []byte) (int, error) {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	if e.replace {
		return len(b), nil
	}
	return e.ResponseWriter.Write(b)
}

// Flush and FlushError keep event streams streaming through the wrapper,
// whether the handler uses http.Flusher or http.ResponseController.
func (e *errorWriter) Flush() { e.FlushError() }

func (e *errorWriter) FlushError() error {
	if !e.wrote {
		e.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(e.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSocket upgrades).
func (e *errorWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(e.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (e *errorWriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }

func isJSON(contentType string) bool {
	t, _, _ := mime.ParseMediaType(contentType)
	return t == "application/json"
}
