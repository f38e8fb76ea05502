package http

import (
	"net/http"
	"time"

	"github.com/relayhq/relay"
)

// destinationControl returns the operations behind the destination verbs,
// shared with the dashboard.
func (s *Server) destinationControl() *relay.DestinationControl {
	return &relay.DestinationControl{Store: s.store, Engine: s.delivery, Overlap: s.cfg.RotationOverlap, Now: s.now,
		RefreshFailed: func(err error) { s.logger.Warn("reloading destinations failed", "err", err) }}
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
		n, err := s.destinationControl().Resume(r.Context(), id)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.logger.Info("destination resumed through the API", "destination_id", id, "made_due", n)
		writeJSON(w, http.StatusOK, resumeOutput{MadeDue: n})
	})
}

// rotateInput is the optional body of a rotation.
type rotateInput struct {
	// Overlap is how long the replaced secret keeps signing beside the
	// new one; default the server's (delivery.rotation_overlap).
	Overlap *relay.Duration `json:"overlap"`
	// Secret is the new secret; default a generated one.
	Secret string `json:"secret"`
}

// handleRotateSecret gives the destination a new signing secret, shown in
// the answer only, and keeps the replaced one signing for the overlap.
func (s *Server) handleRotateSecret() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in rotateInput
		if r.ContentLength != 0 {
			if err := readJSON(w, r, &in); err != nil {
				writeError(w, r, s.logger, err)
				return
			}
		}
		var overlap *time.Duration
		if in.Overlap != nil {
			o := time.Duration(*in.Overlap)
			overlap = &o
		}
		d, err := s.destinationControl().RotateSecret(r.Context(), r.PathValue("id"), in.Secret, overlap)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.logger.Info("destination secret rotated", "destination_id", d.ID, "previous_until", d.PreviousSecretUntil)
		secret := d.Secret
		out := withoutSecret(d)
		out.Secret = secret // shown here, once
		writeJSON(w, http.StatusOK, out)
	})
}

// TestResult is the answer to a destination test: the relay.test event
// sent, and its delivery with the attempt log (Attempts 0 when no attempt
// finished within the wait).
type TestResult struct {
	EventID  string          `json:"event_id"`
	Delivery *relay.Delivery `json:"delivery"`
}

// handleTestDestination sends a signed relay.test event to the destination
// through the normal pipeline (stored, claimed, signed, retried like any
// event) and answers once its first attempt is recorded: 200 with the
// outcome, or 202 with the pending delivery if the wait ran out first.
func (s *Server) handleTestDestination() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, done, err := s.destinationControl().Test(r.Context(), r.PathValue("id"))
		switch {
		case r.Context().Err() != nil:
			return // the client left
		case err != nil:
			writeError(w, r, s.logger, err)
		case done:
			writeJSON(w, http.StatusOK, TestResult{EventID: res.EventID, Delivery: res.Delivery})
		default:
			writeJSON(w, http.StatusAccepted, TestResult{EventID: res.EventID, Delivery: res.Delivery})
		}
	})
}
