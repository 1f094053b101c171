// Package notrun has one test, which tells the person who ran
// `go test ./...` which suites did not run on this machine and how to run
// them (internal/suites). It holds no code.
package notrun
