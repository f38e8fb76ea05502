package http

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/relayhq/relay"
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
		overlap := s.cfg.RotationOverlap
		if in.Overlap != nil {
			overlap = time.Duration(*in.Overlap)
		}
		if err := relay.ValidateRotationOverlap(overlap); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		secret := in.Secret
		if secret == "" {
			secret = relay.NewSecret()
		} else if err := relay.ValidateSecret(secret); err != nil {
			writeError(w, r, s.logger, relay.Errorf(relay.EINVALID, "secret: %s", relay.ErrorMessage(err)))
			return
		}
		id := r.PathValue("id")
		if err := s.store.RotateDestinationSecret(r.Context(), id, secret, s.now().Add(overlap)); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.refreshDestinations(r)
		d, err := s.store.GetDestination(r.Context(), id)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.logger.Info("destination secret rotated", "destination_id", id, "previous_until", d.PreviousSecretUntil)
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

// testEventType is the event type of a destination test.
const testEventType = "relay.test"

// testWaitExtra is how much longer than the destination's timeout a test
// waits for the attempt: the claim and the recording of the outcome.
const testWaitExtra = 10 * time.Second

// testPollInterval is how often a test looks whether its attempt is done.
const testPollInterval = 20 * time.Millisecond

// handleTestDestination sends a signed relay.test event to the destination
// through the normal pipeline (stored, claimed, signed, retried like any
// event) and answers once its first attempt is recorded: 200 with the
// outcome, or 202 with the pending delivery if the wait ran out first.
func (s *Server) handleTestDestination() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.store.GetDestination(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if d.Disabled {
			writeError(w, r, s.logger, relay.Errorf(relay.ECONFLICT, "destination %s is disabled: enable it to test it", d.ID))
			return
		}
		now := s.now()
		// Shaped like Relay's operational events (package ops): provider
		// "relay", event type "relay.…", payload {type, created_at, data}.
		ev := &relay.Event{ID: relay.NewID("evt", now), Provider: "relay", DeliveryID: relay.NewID("test", now),
			EventType: testEventType, Source: relay.SourceLive, ReceivedAt: relay.EventTime(now)}
		ev.Payload, _ = json.Marshal(map[string]any{"type": testEventType, "created_at": now.UTC(),
			"data": map[string]string{"destination_id": d.ID, "destination_name": d.Name,
				"message": "A test event sent by Relay; it needs no action."}})
		item := relay.PlanEvent(ev, []*relay.Destination{d}, now)
		if err := s.store.InsertEvents(r.Context(), []*relay.IngestItem{item}); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		s.delivery.Wake()
		dlv := item.Deliveries[0]
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(d.Timeout)+testWaitExtra)
		defer cancel()
		tick := time.NewTicker(testPollInterval)
		defer tick.Stop()
		for {
			got, err := s.store.GetDelivery(ctx, dlv.ID, "")
			switch {
			case err == nil && got.Attempts > 0:
				writeJSON(w, http.StatusOK, TestResult{EventID: ev.ID, Delivery: got})
				return
			case err == nil:
				dlv = got
			case ctx.Err() == nil:
				writeError(w, r, s.logger, err)
				return
			}
			select {
			case <-ctx.Done():
				if r.Context().Err() != nil {
					return // the client left
				}
				writeJSON(w, http.StatusAccepted, TestResult{EventID: ev.ID, Delivery: dlv})
				return
			case <-tick.C:
			}
		}
	})
}
