// Package bench measures Relay as its users run it: the real `relay serve`
// binary as a child process, a load generator sending signed GitHub webhooks
// over loopback, and a sink destination counting what arrives. It also
// measures a reference ceiling (a bare net/http server that only reads the
// body and checks the HMAC, loaded the same way), so results can be read as a
// ratio that survives the drift of shared machines.
package bench

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Sink is a destination that counts deliveries by webhook-id, to find
// duplicates and losses, and can be switched down (503) and up.
type Sink struct {
	srv  *http.Server
	ln   net.Listener
	down atomic.Bool

	mu        sync.Mutex
	seen      map[string]int // delivery_id → successful deliveries
	first     time.Time
	last      time.Time
	delivered atomic.Int64
	unique    atomic.Int64 // distinct ids delivered
	refused   atomic.Int64
}

// NewSink starts a sink on a loopback port.
func NewSink() (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{ln: ln, seen: make(map[string]int, 1<<16)}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is where the sink listens.
func (s *Sink) URL() string { return "http://" + s.ln.Addr().String() + "/events" }

// SetDown makes the sink answer 503 (down) or 200 (up).
func (s *Sink) SetDown(down bool) { s.down.Store(down) }

var deliveryIDKey = []byte(`"delivery_id":"`)

// ServeHTTP counts one delivery. The provider delivery id is read from the
// envelope without a full JSON decode, to keep the sink cheap.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if s.down.Load() {
		s.refused.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := ""
	if i := bytes.Index(body, deliveryIDKey); i >= 0 {
		rest := body[i+len(deliveryIDKey):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			id = string(rest[:j])
		}
	}
	now := time.Now()
	s.mu.Lock()
	s.seen[id]++
	if s.seen[id] == 1 {
		s.unique.Add(1)
	}
	if s.first.IsZero() {
		s.first = now
	}
	s.last = now
	s.mu.Unlock()
	s.delivered.Add(1)
	w.WriteHeader(http.StatusOK)
}

// First returns when the first successful delivery since the last Reset arrived.
func (s *Sink) First() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// Unique returns how many distinct ids were delivered so far.
func (s *Sink) Unique() int64 { return s.unique.Load() }

// Count returns the successful deliveries so far.
func (s *Sink) Count() int64 { return s.delivered.Load() }

// Tally compares what arrived with what was acknowledged: how many
// acknowledged ids never arrived (lost) and how many deliveries were extra
// copies (duplicates).
func (s *Sink) Tally(acked []string) (lost, duplicates int, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range acked {
		if s.seen[id] == 0 {
			lost++
		}
	}
	for _, n := range s.seen {
		if n > 1 {
			duplicates += n - 1
		}
	}
	return lost, duplicates, s.last
}

// Reset forgets everything counted.
func (s *Sink) Reset() {
	s.mu.Lock()
	s.seen = make(map[string]int, 1<<16)
	s.first, s.last = time.Time{}, time.Time{}
	s.mu.Unlock()
	s.delivered.Store(0)
	s.unique.Store(0)
	s.refused.Store(0)
}

// Close stops the sink.
func (s *Sink) Close() error { return s.srv.Close() }
