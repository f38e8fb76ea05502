// Package http is Relay's HTTP adapter: webhook ingest at /webhooks/{provider},
// the JSON API under /api/v1, probes and metrics. Every route is listed in
// routes.go; handlers stay thin and share the JSON and error helpers in
// json.go.
package http

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
)

// Ingester stores verified events durably (the ingest pipeline).
type Ingester interface {
	Submit(ctx context.Context, e *relay.Event) (relay.IngestResult, error)
}

// Deliverer is the delivery engine, as the API needs it.
type Deliverer interface {
	// Route returns the destinations an event goes to now.
	Route(e *relay.Event) []*relay.Destination
	// Refresh reloads destinations after a change.
	Refresh(ctx context.Context) error
	// Wake makes due deliveries (replays) go out now.
	Wake()
}

// Config holds the server's settings.
type Config struct {
	MaxBodyBytes int64 // webhook bodies larger than this get 413
	// SecureCookies sets the Secure attribute on the cookies Relay gives
	// browsers (the connect flow's binding): true when its public URL is
	// https.
	SecureCookies bool
	// RotationOverlap is how long a rotated destination secret keeps
	// signing beside the new one when the request does not say.
	RotationOverlap time.Duration
}

// Server serves Relay's HTTP surface. Build it with NewServer.
type Server struct {
	store     relay.Store
	providers map[string]relay.Provider
	ingest    Ingester
	delivery  Deliverer
	metrics   *metrics.Metrics
	logger    *slog.Logger
	now       func() time.Time
	cfg       Config
	keys      keyCache
	handler   http.Handler

	conns   relay.ConnectionStore // nil without WithConnections
	connSvc Connections
	bfSvc   Backfills // nil without WithBackfills

	sessions ConnectSessions // nil without WithConnectSessions
}

// Option adds an optional part of the API to the server as it is built.
type Option func(*Server)

// NewServer returns the server's handler with every dependency explicit;
// opts add the optional parts of the API (WithConnections, WithBackfills).
func NewServer(store relay.Store, providers []relay.Provider, ingest Ingester, delivery Deliverer,
	m *metrics.Metrics, logger *slog.Logger, now func() time.Time, cfg Config, opts ...Option) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 10 << 20
	}
	s := &Server{
		store: store, ingest: ingest, delivery: delivery, metrics: m, logger: logger, now: now, cfg: cfg,
		providers: make(map[string]relay.Provider, len(providers)),
		keys:      keyCache{entries: map[string]keyCacheEntry{}, used: map[string]time.Time{}},
	}
	for _, p := range providers {
		s.providers[p.Name()] = p
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.recoverPanics(mux)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// recoverPanics turns a handler panic into a logged 500 with no stack shown.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, r, s.logger, relay.Errorf(relay.EINTERNAL, "Internal error."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// keyCache remembers API keys for a short while so that API calls do not
// read the database each time; a key revoked on another replica stops
// working here within keyTTL. used holds when this replica last recorded
// each key's use (by key id); gen counts revocations here, so that a
// lookup that overlapped one does not cache what it read.
type keyCache struct {
	mu      sync.Mutex
	entries map[string]keyCacheEntry
	used    map[string]time.Time
	gen     uint64
}

type keyCacheEntry struct {
	key     *relay.APIKey
	expires time.Time
}

// keyTTL bounds how long a key revoked on another replica keeps working
// here (the README promises at most 5 s).
const keyTTL = 5 * time.Second
