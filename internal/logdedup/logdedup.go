// Package logdedup keeps one failure that repeats from flooding the log. A
// full disk fails every commit the same way, thousands of times a second;
// one line per interval, with how many were held back, says as much.
package logdedup

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// maxKeys bounds the failures remembered at once; past it, those not seen
// within the interval are forgotten.
const maxKeys = 1024

// Handler is a slog.Handler that passes a warning or error carrying an
// "err" attribute at most once per interval for the same logger attributes,
// level, message and error text. The first occurrence passes at once; the
// next one to pass after the interval carries "repeated": how many
// identical records were held back since. Other records pass unchanged.
type Handler struct {
	next  slog.Handler
	state *state
	scope string // the attributes and groups of the derived logger
}

type state struct {
	mu       sync.Mutex
	interval time.Duration
	now      func() time.Time
	seen     map[string]*entry
}

type entry struct {
	passed time.Time // when one last passed
	held   int       // identical records dropped since
}

// New returns a Handler in front of next. now is the clock the interval is
// measured with.
func New(next slog.Handler, interval time.Duration, now func() time.Time) *Handler {
	return &Handler{next: next, state: &state{interval: interval, now: now, seen: map[string]*entry{}}}
}

// Enabled reports whether next handles records at level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle passes r to next unless it repeats a failure passed less than an
// interval ago. It returns next's error.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	var errText string
	var found bool
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			errText, found = a.Value.String(), true
			return false
		}
		return true
	})
	if !found {
		return h.next.Handle(ctx, r)
	}
	key := h.scope + "\x00" + r.Level.String() + "\x00" + r.Message + "\x00" + errText

	s := h.state
	now := s.now()
	s.mu.Lock()
	e := s.seen[key]
	if e != nil && now.Sub(e.passed) < s.interval {
		e.held++
		s.mu.Unlock()
		return nil
	}
	held := 0
	if e != nil {
		held = e.held
	} else if len(s.seen) >= maxKeys {
		for k, old := range s.seen {
			if now.Sub(old.passed) >= s.interval {
				delete(s.seen, k)
			}
		}
	}
	s.seen[key] = &entry{passed: now}
	s.mu.Unlock()

	if held > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", held))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a Handler for a logger with attrs added; it shares the
// interval's bookkeeping with h.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.scope)
	for _, a := range attrs {
		fmt.Fprintf(&b, "\x01%s=%s", a.Key, a.Value)
	}
	return &Handler{next: h.next.WithAttrs(attrs), state: h.state, scope: b.String()}
}

// WithGroup returns a Handler for a logger whose later attributes are in
// group name; it shares the interval's bookkeeping with h.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), state: h.state, scope: h.scope + "\x02" + name}
}
