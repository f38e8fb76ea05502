package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/relayhq/relay/config"
)

// The server's logger does not repeat one failure line by line: a full
// disk failing every commit must not flood the log.
func TestLoggerHoldsBackRepeatedFailures(t *testing.T) {
	var buf bytes.Buffer
	logger := newLogger(config.Default(), &buf).With("component", "ingest")
	full := errors.New("sqlite: insert events: commit: database or disk is full (13)")
	for i := range 1000 {
		logger.Error("ingest commit failed", "events", i%5+1, "err", full)
	}
	// One line, or two should the loop straddle the interval on a stalled machine.
	if n := strings.Count(buf.String(), "ingest commit failed"); n > 2 {
		t.Fatalf("%d identical failure lines logged", n)
	}
	logger.Error("ingest commit failed", "err", errors.New("another failure"))
	if !strings.Contains(buf.String(), "another failure") {
		t.Fatalf("a different failure was held back:\n%s", buf.String())
	}
}
