package http

import (
	"context"
	"net/http"

	"github.com/relayhq/relay"
)

// Backfills is the backfill service the API drives (package backfill).
type Backfills interface {
	Start(ctx context.Context, connectionID, orgID string, depthDays int, entityTypes []string) (*relay.Backfill, bool, error)
	Get(ctx context.Context, connectionID, backfillID, orgID string) (*relay.Backfill, error)
	List(ctx context.Context, connectionID, orgID string) ([]*relay.Backfill, error)
	Cancel(ctx context.Context, connectionID, backfillID, orgID string) (*relay.Backfill, error)
}

// WithBackfills serves the backfill endpoints, backed by svc. Without it
// they answer 404.
func WithBackfills(svc Backfills) Option {
	return func(s *Server) { s.bfSvc = svc }
}

// requireBackfills answers 404 when the server was built without backfills.
func (s *Server) requireBackfills(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.bfSvc == nil {
			writeError(w, r, s.logger, errNoRoute)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handleStartBackfill starts a backfill: 201 with a new run, 200 with the
// active run of the same parameters.
func (s *Server) handleStartBackfill() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			DepthDays   int      `json:"depth_days"`
			EntityTypes []string `json:"entity_types"`
		}
		if err := readOptionalJSON(w, r, &req); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if req.DepthDays < 0 {
			writeError(w, r, s.logger, relay.Errorf(relay.EINVALID, "depth_days must be between 1 and 365"))
			return
		}
		b, created, err := s.bfSvc.Start(r.Context(), r.PathValue("id"), callerOrg(r), req.DepthDays, req.EntityTypes)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		writeJSON(w, status, b)
	})
}

func (s *Server) handleListBackfills() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := s.bfSvc.List(r.Context(), r.PathValue("id"), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": list})
	})
}

func (s *Server) handleGetBackfill() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := s.bfSvc.Get(r.Context(), r.PathValue("id"), r.PathValue("bid"), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, b)
	})
}

func (s *Server) handleCancelBackfill() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := s.bfSvc.Cancel(r.Context(), r.PathValue("id"), r.PathValue("bid"), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, b)
	})
}
