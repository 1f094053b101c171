package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseServePruneFlag(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		want    time.Duration
		wantErr string
	}{
		{"default a day", nil, env(), 24 * time.Hour, ""},
		{"flag", []string{"--timeline-retention", "90m"}, env(), 90 * time.Minute, ""},
		{"environment", nil, env("TONEPAY_TIMELINE_RETENTION", "168h"), 168 * time.Hour, ""},
		{"flag beats environment", []string{"--timeline-retention", "2h"}, env("TONEPAY_TIMELINE_RETENTION", "3h"), 2 * time.Hour, ""},
		{"the minimum", []string{"--timeline-retention", "1m"}, env(), time.Minute, ""},
		{"below the minimum", []string{"--timeline-retention", "59s"}, env(), 0, "--timeline-retention must be at least 1m"},
		{"zero", nil, env("TONEPAY_TIMELINE_RETENTION", "0s"), 0, "--timeline-retention must be at least 1m"},
		{"not a duration", nil, env("TONEPAY_TIMELINE_RETENTION", "a day"), 0, "TONEPAY_TIMELINE_RETENTION"},
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
			if c.TimelineRetention != tt.want {
				t.Errorf("TimelineRetention = %v, want %v", c.TimelineRetention, tt.want)
			}
		})
	}
}
