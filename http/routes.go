package http

import "net/http"

// muxer is what routes registers on: an *http.ServeMux, or a recorder in
// the test that holds the routes to the OpenAPI document.
type muxer interface {
	Handle(pattern string, h http.Handler)
}

// routes lists Relay's whole HTTP surface. Every route is described in the
// repository's openapi.yaml (a test fails otherwise).
func (s *Server) routes(mux muxer) {
	mux.Handle("POST /webhooks/{provider}", s.handleWebhook())
	mux.Handle("GET /api/v1/openapi.yaml", s.handleOpenAPI())

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
	api("POST /api/v1/destinations/{id}/resume", s.adminOnly(s.handleResumeDestination()))
	api("POST /api/v1/destinations/{id}/rotate-secret", s.adminOnly(s.handleRotateSecret()))
	api("POST /api/v1/destinations/{id}/test", s.adminOnly(s.handleTestDestination()))
	api("GET /api/v1/destinations/{id}/blocked-keys", s.adminOnly(s.handleBlockedKeys()))

	conn := func(pattern string, h http.Handler) { api(pattern, s.requireConnections(h)) }
	conn("POST /api/v1/orgs", s.adminOnly(s.handleCreateOrg()))
	conn("GET /api/v1/orgs", s.adminOnly(s.handleListOrgs()))
	conn("GET /api/v1/orgs/{org}", s.ownOrg(s.handleGetOrg()))
	conn("POST /api/v1/orgs/{org}/api-keys", s.adminOnly(s.handleCreateOrgKey()))
	conn("POST /api/v1/orgs/{org}/connections/{provider}/authorize", s.ownOrg(s.handleAuthorize()))
	conn("GET /api/v1/connections", s.handleListConnections())
	conn("GET /api/v1/connections/{id}", s.handleGetConnection())
	conn("DELETE /api/v1/connections/{id}", s.handleDeleteConnection())
	conn("GET /api/v1/connections/{id}/token", s.handleConnectionToken())
	conn("POST /api/v1/connections/{id}/backfills", s.requireBackfills(s.handleStartBackfill()))
	conn("GET /api/v1/connections/{id}/backfills", s.requireBackfills(s.handleListBackfills()))
	conn("GET /api/v1/connections/{id}/backfills/{bid}", s.requireBackfills(s.handleGetBackfill()))
	conn("DELETE /api/v1/connections/{id}/backfills/{bid}", s.requireBackfills(s.handleCancelBackfill()))
	mux.Handle("GET /oauth/{provider}/start", s.handleOAuthStart())
	mux.Handle("GET /oauth/{provider}/callback", s.handleOAuthCallback())
	conn("POST /api/v1/orgs/{org}/connect-sessions", s.ownOrg(s.requireSessions(s.handleCreateConnectSession())))
	mux.Handle("GET /connect/{token}", s.pageOnly(s.handleConnectPage()))
	mux.Handle("POST /connect/{token}/{provider}", s.pageOnly(s.handleConnectPageStart()))
	mux.Handle("GET /connect/sessions/{id}/return", s.pageOnly(s.handleConnectSessionReturn()))

	api("GET /api/v1/api-keys", s.handleListAPIKeys())
	api("POST /api/v1/api-keys", s.adminOnly(s.handleCreateAdminKey()))
	api("DELETE /api/v1/api-keys/{id}", s.handleRevokeAPIKey())

	api("GET /api/v1/resolutions", s.adminOnly(s.handleListResolutions()))
	api("GET /api/v1/resolutions/{provider}/{account}", s.adminOnly(s.handleGetResolution()))

	// Anything else under /api/ answers a JSON 404 rather than the mux's text one.
	mux.Handle("/api/", s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.logger, errNoRoute)
	})))
}
