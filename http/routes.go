package http

import "net/http"

// routes lists Relay's whole HTTP surface.
func (s *Server) routes(mux *http.ServeMux) {
	mux.Handle("POST /webhooks/{provider}", s.handleWebhook())

	mux.Handle("GET /healthz", s.handleHealthz())
	mux.Handle("GET /readyz", s.handleReadyz())
	mux.Handle("GET /metrics", s.metrics.Handler())

	api := func(pattern string, h http.Handler) { mux.Handle(pattern, s.authenticate(h)) }
	api("GET /api/v1/events", s.handleListEvents())
	api("GET /api/v1/events/{id}", s.handleGetEvent())
	api("POST /api/v1/events/{id}/replay", s.handleReplayEvent())

	api("GET /api/v1/deliveries", s.handleListDeliveries())
	api("GET /api/v1/deliveries/{id}", s.handleGetDelivery())
	api("POST /api/v1/deliveries/{id}/replay", s.handleReplayDelivery())

	api("GET /api/v1/destinations", s.adminOnly(s.handleListDestinations()))
	api("POST /api/v1/destinations", s.adminOnly(s.handleCreateDestination()))
	api("GET /api/v1/destinations/{id}", s.adminOnly(s.handleGetDestination()))
	api("PATCH /api/v1/destinations/{id}", s.adminOnly(s.handleUpdateDestination()))
	api("DELETE /api/v1/destinations/{id}", s.adminOnly(s.handleDeleteDestination()))
	api("POST /api/v1/destinations/{id}/replay", s.adminOnly(s.handleReplayDead()))

	// Anything else under /api/ answers a JSON 404 rather than the mux's text one.
	mux.Handle("/api/", s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.logger, errNoRoute)
	})))
}
