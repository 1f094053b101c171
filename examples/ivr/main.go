// Command ivr serves Acme Pizza's phone menu (package ivrapp), for trying
// tonepay's voice runtime: see README.md beside it.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/tonepay/tonepay/examples/ivr/ivrapp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	public := flag.String("public-url", "", "the app's base URL as tonepay (or Twilio) requests it, for signatures (default http://ADDR)")
	flag.Parse()
	token := os.Getenv("TONEPAY_AUTH_TOKEN")
	if token == "" {
		log.Fatal("set TONEPAY_AUTH_TOKEN to the account's auth token (tonepay serve prints it at first start)")
	}
	if *public == "" {
		*public = "http://" + *addr
	}
	app := ivrapp.New(token, *public)
	fmt.Printf("Acme Pizza answers on %s/voice\n", *public)
	// Each request, one line: what the app was asked, never a signature.
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &status{ResponseWriter: w, code: 200}
		app.ServeHTTP(rec, r)
		log.Printf("%s %s CallStatus=%s Digits=%s -> %d", r.Method, r.URL.RequestURI(), r.PostForm.Get("CallStatus"), r.PostForm.Get("Digits"), rec.code)
	})
	log.Fatal(http.ListenAndServe(*addr, logged))
}

type status struct {
	http.ResponseWriter
	code int
}

func (s *status) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }
