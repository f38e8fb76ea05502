package dashboard

import (
	"net/http"
	"strconv"

	"github.com/relayhq/relay"
)

// destinationControl returns the operations behind the destination
// buttons: the same ones the API's destination verbs run.
func (d *Dashboard) destinationControl() *relay.DestinationControl {
	return &relay.DestinationControl{Store: d.deps.Store, Engine: d.deps.Delivery, Overlap: d.cfg.RotationOverlap, Now: d.now,
		RefreshFailed: func(err error) { d.logger.Warn("refreshing destinations failed", "err", err) }}
}

// testView is the page showing a destination test's outcome.
type testView struct {
	Destination string
	relay.DestinationTest
	Done bool
}

// handleTestDestination sends a relay.test event to the destination and
// shows its attempt's outcome (or that it is still pending when the wait
// ran out).
func (d *Dashboard) handleTestDestination(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Destinations are managed with an admin key."))
		return
	}
	res, done, err := d.destinationControl().Test(r.Context(), r.PathValue("id"))
	if r.Context().Err() != nil {
		return // the browser left
	}
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	v := testView{Destination: r.PathValue("id"), DestinationTest: res, Done: done}
	if dst, err := d.deps.Store.GetDestination(r.Context(), v.Destination); err == nil {
		v.Destination = dst.Name
	}
	d.render(w, r, s, http.StatusOK, "testresult", "Test event", v)
}

// handleResumeDestination ends the destination's pause and makes its
// retrying deliveries due.
func (d *Dashboard) handleResumeDestination(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Destinations are managed with an admin key."))
		return
	}
	n, err := d.destinationControl().Resume(r.Context(), r.PathValue("id"))
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	back(w, r, "/destinations", "Destination resumed; "+strconv.Itoa(n)+" retrying deliveries made due.")
}

// handleRotateSecret gives the destination a new generated secret, shown
// once on the page it leads to with the time the replaced one stops
// signing.
func (d *Dashboard) handleRotateSecret(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.key.IsAdmin() {
		d.fail(w, r, s, relay.Errorf(relay.EFORBIDDEN, "Destinations are managed with an admin key."))
		return
	}
	dst, err := d.destinationControl().RotateSecret(r.Context(), r.PathValue("id"), "", nil)
	if err != nil {
		d.fail(w, r, s, err)
		return
	}
	d.logger.Info("destination secret rotated from the dashboard", "destination_id", dst.ID, "previous_until", dst.PreviousSecretUntil)
	d.render(w, r, s, http.StatusOK, "rotated", "Secret rotated", dst)
}
