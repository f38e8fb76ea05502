package http

import (
	"net/http"
	"strconv"

	"github.com/relayhq/relay"
)

// handleListResolutions lists the latest resolution of each provider
// account identity repair tried (admin only: accounts of no org yet).
func (s *Server) handleListResolutions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs, ok := s.store.(relay.ResolutionStore)
		if !ok {
			writeError(w, r, s.logger, errNoRoute)
			return
		}
		limit := 100
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				writeError(w, r, s.logger, relay.Errorf(relay.EINVALID, "limit must be between 1 and 1000"))
				return
			}
			limit = n
		}
		list, err := rs.ListResolutions(r.Context(), r.URL.Query().Get("provider"), limit)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, relay.Page[*relay.Resolution]{Items: list})
	})
}

// handleGetResolution returns one account's latest resolution.
func (s *Server) handleGetResolution() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs, ok := s.store.(relay.ResolutionStore)
		if !ok {
			writeError(w, r, s.logger, errNoRoute)
			return
		}
		res, err := rs.GetResolution(r.Context(), r.PathValue("provider"), r.PathValue("account"))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}
