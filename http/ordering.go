package http

import (
	"net/http"

	"github.com/relayhq/relay"
)

// blockedKeysPage is the answer of GET /api/v1/destinations/{id}/blocked-keys.
type blockedKeysPage struct {
	Items []*relay.BlockedKey `json:"items"`
}

// handleBlockedKeys lists the destination's ordered keys held back by a
// failing (or, with on_dead block, dead) head delivery, longest first;
// ?limit= caps them (default 100).
func (s *Server) handleBlockedKeys() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := queryLimit(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if limit == 0 {
			limit = 100
		}
		id := r.PathValue("id")
		if _, err := s.store.GetDestination(r.Context(), id); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		keys, err := s.store.BlockedKeys(r.Context(), id, limit)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, blockedKeysPage{Items: keys})
	})
}
