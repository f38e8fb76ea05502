package http

import (
	"net/http"
)

// resumer is the optional part of a Deliverer that ends a circuit-breaker
// pause in memory (the delivery engine has it). Without it the pause ends
// in the store only, which claims already honour.
type resumer interface {
	Resume(destinationID string)
}

// resumeOutput is the answer to a resume.
type resumeOutput struct {
	MadeDue int `json:"made_due"`
}

// handleResumeDestination ends the destination's circuit-breaker pause now
// and makes its retrying deliveries due.
func (s *Server) handleResumeDestination() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		n, err := s.store.ResumeDestination(r.Context(), id, s.now())
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if rs, ok := s.delivery.(resumer); ok {
			rs.Resume(id)
		} else {
			s.delivery.Wake()
		}
		s.logger.Info("destination resumed through the API", "destination_id", id, "made_due", n)
		writeJSON(w, http.StatusOK, resumeOutput{MadeDue: n})
	})
}
