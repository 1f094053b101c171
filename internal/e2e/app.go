package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	twclient "github.com/twilio/twilio-go/client"
)

// App is a real TwiML application over HTTP: it serves a document per path
// and checks every request's X-Twilio-Signature with twilio-go's
// RequestValidator, as a real app does. A page that starts with "json:" is
// served as application/json (not TwiML), the rest as text/xml; a path
// without a page is 404.
type App struct {
	*httptest.Server
	t     testing.TB
	token string

	mu    sync.Mutex
	pages map[string]string // path -> TwiML
	got   []AppRequest
}

// AppRequest is one request an App got.
type AppRequest struct {
	Method, Path string
	Params       url.Values // the form of a POST, the query of a GET
	Valid        bool       // signed with the account's auth token
}

// NewApp starts an app serving pages, checking signatures with authToken;
// it closes when the test ends.
func NewApp(t testing.TB, authToken string, pages map[string]string) *App {
	a := &App{t: t, token: authToken, pages: pages}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *App) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	full := "http://" + r.Host + r.URL.RequestURI()
	v := twclient.NewRequestValidator(a.token)
	req := AppRequest{Method: r.Method, Path: r.URL.Path}
	sig := r.Header.Get("X-Twilio-Signature")
	if r.Method == "POST" {
		params := map[string]string{}
		for k := range r.PostForm {
			params[k] = r.PostForm.Get(k)
		}
		req.Params, req.Valid = r.PostForm, v.Validate(full, params, sig)
	} else {
		req.Params, req.Valid = r.URL.Query(), v.Validate(full, map[string]string{}, sig)
	}
	a.mu.Lock()
	a.got = append(a.got, req)
	page, ok := a.pages[r.URL.Path]
	a.mu.Unlock()
	switch {
	case !ok:
		http.NotFound(w, r)
	case strings.HasPrefix(page, "json:"):
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(page[5:]))
	default:
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(page))
	}
}

// Page is the app's URL for path.
func (a *App) Page(path string) string { return a.URL + path }

// SetPages replaces the app's documents.
func (a *App) SetPages(pages map[string]string) {
	a.mu.Lock()
	a.pages = pages
	a.mu.Unlock()
}

// Requests lists every request received, in arrival order.
func (a *App) Requests() []AppRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

// CheckSigned fails the test for any request whose signature did not hold.
func (a *App) CheckSigned() {
	a.t.Helper()
	for _, r := range a.Requests() {
		if !r.Valid {
			a.t.Errorf("request %s %s: X-Twilio-Signature does not validate", r.Method, r.Path)
		}
	}
}
