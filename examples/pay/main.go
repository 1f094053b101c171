// Command pay serves Acme Utilities' bill payment line (package payapp), for
// trying <Pay> on tonepay: see README.md beside it.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/tonepay/tonepay/examples/pay/payapp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "listen address")
	public := flag.String("public-url", "", "the app's base URL as tonepay (or Twilio) requests it, for signatures (default http://ADDR)")
	flag.Parse()
	token := os.Getenv("TONEPAY_AUTH_TOKEN")
	if token == "" {
		log.Fatal("set TONEPAY_AUTH_TOKEN to the account's auth token (tonepay serve prints it at first start)")
	}
	if *public == "" {
		*public = "http://" + *addr
	}
	app := payapp.New(token, *public)
	app.Logf = log.Printf
	fmt.Printf("Acme Utilities answers on %s/voice\n", *public)
	// Each request, one line: the route and, for the action, its Result.
	// <Pay> sends card fields only masked, and none of them is logged here.
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &status{ResponseWriter: w, code: 200}
		app.ServeHTTP(rec, r)
		log.Printf("%s %s CallStatus=%s Result=%s -> %d", r.Method, r.URL.RequestURI(), r.PostForm.Get("CallStatus"), r.PostForm.Get("Result"), rec.code)
	})
	log.Fatal(http.ListenAndServe(*addr, logged))
}

type status struct {
	http.ResponseWriter
	code int
}

func (s *status) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }
