package logdedup

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

// A failure repeated thousands of times within an interval is one line;
// the next after the interval says how many were held back.
func TestRepeatedFailureOncePerInterval(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	log := slog.New(New(slog.NewJSONHandler(&buf, nil), 10*time.Second, c.now)).With("component", "ingest")
	full := errors.New("database or disk is full (13)")
	for i := range 8120 {
		log.Error("ingest commit failed", "events", i%7+1, "err", full)
		c.t = c.t.Add(time.Millisecond / 2)
	}
	got := lines(t, &buf)
	if len(got) != 1 || got[0]["repeated"] != nil || got[0]["component"] != "ingest" {
		t.Fatalf("%d lines: %v", len(got), got)
	}

	c.t = c.t.Add(10 * time.Second)
	log.Error("ingest commit failed", "events", 1, "err", full)
	got = lines(t, &buf)
	if len(got) != 1 || got[0]["repeated"] != float64(8119) {
		t.Fatalf("after the interval: %v", got)
	}
	// The count starts again from there.
	log.Error("ingest commit failed", "events", 1, "err", full)
	c.t = c.t.Add(11 * time.Second)
	log.Error("ingest commit failed", "events", 1, "err", full)
	if got = lines(t, &buf); len(got) != 1 || got[0]["repeated"] != float64(1) {
		t.Fatalf("second interval: %v", got)
	}
}

// Different errors, messages, levels or loggers are not the same failure;
// records without an error, and below warning, always pass.
func TestDistinctRecordsPass(t *testing.T) {
	var buf bytes.Buffer
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	log := slog.New(New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), time.Minute, c.now))
	log.Error("commit failed", "err", errors.New("a"))
	log.Error("commit failed", "err", errors.New("b"))
	log.Error("claim failed", "err", errors.New("a"))
	log.Warn("commit failed", "err", errors.New("a"))
	log.With("component", "delivery").Error("commit failed", "err", errors.New("a"))
	log.WithGroup("g").Error("commit failed", "err", errors.New("a"))
	if got := lines(t, &buf); len(got) != 6 {
		t.Fatalf("%d distinct failures logged, want 6: %v", len(got), got)
	}
	for range 3 {
		log.Error("no error attribute", "n", 1)
		log.Info("info", "err", errors.New("a"))
		log.Debug("debug", "err", errors.New("a"))
	}
	if got := lines(t, &buf); len(got) != 9 {
		t.Fatalf("%d lines, want 9 passed unchanged: %v", len(got), got)
	}
}
