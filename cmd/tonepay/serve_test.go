package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseServe(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	const sid = "AC0123456789abcdef0123456789abcdef"
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		want    func(c serveConfig) bool
		wantErr string
	}{
		{"defaults", nil, env(), func(c serveConfig) bool {
			return c.Addr == "127.0.0.1:8080" && c.DB == "tonepay.db" && c.LogLevel == "info"
		}, ""},
		{"environment", nil, env("TONEPAY_ADDR", ":0", "TONEPAY_DB", "/tmp/x.db", "TONEPAY_RATE_LIMIT", "5"),
			func(c serveConfig) bool { return c.Addr == ":0" && c.DB == "/tmp/x.db" && c.RateLimit == 5 }, ""},
		{"flag beats environment", []string{"--addr", "127.0.0.1:9"}, env("TONEPAY_ADDR", ":0"), func(c serveConfig) bool { return c.Addr == "127.0.0.1:9" }, ""},
		{"account pair", nil, env("TONEPAY_ACCOUNT_SID", sid, "TONEPAY_AUTH_TOKEN", "abc123"), func(c serveConfig) bool { return c.AccountSid == sid }, ""},
		{"sid without token", nil, env("TONEPAY_ACCOUNT_SID", sid), nil, "go together"},
		{"bad sid", nil, env("TONEPAY_ACCOUNT_SID", "AC1", "TONEPAY_AUTH_TOKEN", "x"), nil, "32 hex"},
		{"token not alphanumeric", nil, env("TONEPAY_ACCOUNT_SID", sid, "TONEPAY_AUTH_TOKEN", "a-b"), nil, "letters and digits"},
		{"bad data key", nil, env("TONEPAY_DATA_KEY", "c2hvcnQ="), nil, "32 bytes"},
		{"bad log level", []string{"--log-level", "loud"}, env(), nil, "log-level"},
		{"bad rate", nil, env("TONEPAY_RATE_LIMIT", "fast"), nil, "TONEPAY_RATE_LIMIT"},
		{"negative rate", []string{"--rate-limit", "-1"}, env(), nil, "negative"},
		{"first digit timeout", []string{"--first-digit-timeout", "2s"}, env(), func(c serveConfig) bool { return c.FirstDigit == 2*time.Second }, ""},
		{"first digit timeout from env", nil, env("TONEPAY_FIRST_DIGIT_TIMEOUT", "1500ms"), func(c serveConfig) bool { return c.FirstDigit == 1500*time.Millisecond }, ""},
		{"bad first digit timeout", nil, env("TONEPAY_FIRST_DIGIT_TIMEOUT", "soon"), nil, "duration"},
		{"postgres needs the data key", []string{"--db", "postgres://x"}, env(), nil, "TONEPAY_DATA_KEY is required"},
		{"postgres", []string{"--db", "postgres://x"}, env("TONEPAY_DATA_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="), func(c serveConfig) bool { return isPostgres(c.DB) }, ""},
		{"connector lease", nil, env("TONEPAY_CONNECTOR_LEASE", "10s"), func(c serveConfig) bool { return c.ConnectorLease == 10*time.Second }, ""},
		{"connector lease too short", []string{"--connector-lease", "1s"}, env(), nil, "at least 5s"},
		{"stray argument", []string{"extra"}, env(), nil, "unexpected"},
		{"safety defaults", nil, env(), func(c serveConfig) bool {
			return c.SessionIdle == 15*time.Minute && c.EraseWithin == 30*time.Second && c.ReadTimeout == time.Minute &&
				c.IdleTimeout == 2*time.Minute && c.AuthFailLimit > 0 && c.CallbackNetworks == ""
		}, ""},
		{"safety from env", nil, env("TONEPAY_SESSION_IDLE", "2s", "TONEPAY_ERASE_WITHIN", "3s", "TONEPAY_READ_TIMEOUT", "4s",
			"TONEPAY_WRITE_TIMEOUT", "5s", "TONEPAY_IDLE_TIMEOUT", "6s", "TONEPAY_AUTH_FAIL_LIMIT", "7", "TONEPAY_CALLBACK_NETWORKS", "public"),
			func(c serveConfig) bool {
				return c.SessionIdle == 2*time.Second && c.EraseWithin == 3*time.Second && c.ReadTimeout == 4*time.Second &&
					c.WriteTimeout == 5*time.Second && c.IdleTimeout == 6*time.Second && c.AuthFailLimit == 7 && c.CallbackNetworks == "public"
			}, ""},
		{"erase within at most 60s", []string{"--erase-within", "2m"}, env(), nil, "1s to 60s"},
		{"idle timeout at most 120s", nil, env("TONEPAY_IDLE_TIMEOUT", "1h"), nil, "1s to 120s"},
		{"read timeout at most 60s", []string{"--read-timeout", "61s"}, env(), nil, "1s to 60s"},
		{"session idle too short", []string{"--session-idle", "10ms"}, env(), nil, "at least 1s"},
		{"auth fail limit", nil, env("TONEPAY_AUTH_FAIL_LIMIT", "many"), nil, "whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServe(tt.args, tt.env, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}
