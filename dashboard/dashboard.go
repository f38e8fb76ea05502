// Package dashboard is Relay's web dashboard: server-rendered html/template
// pages and a small script for live updates, embedded in the binary, so
// that `go build` needs no Node and serving needs no CDN.
//
// Its pages are HTML for people, not part of the JSON API: they are served
// by their own mux (Handler), which hands every other path to the API
// handler, so that http/routes.go and openapi.yaml keep describing exactly
// the API. People sign in with an API key; what a page shows is what that
// key may read through the API (an org key sees only its org).
package dashboard

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/metrics"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deliverer is the delivery engine, as the dashboard needs it.
type Deliverer interface {
	// Route returns the destinations an event goes to now.
	Route(e *relay.Event) []*relay.Destination
	// Refresh reloads destinations after a change.
	Refresh(ctx context.Context) error
	// Wake makes due deliveries (replays) go out now.
	Wake()
}

// Connections is the connect service, as the dashboard drives it.
type Connections interface {
	// Providers lists the providers with a connect flow configured.
	Providers() []string
	// Authorize starts a connect flow and returns the start link to send
	// the browser to.
	Authorize(ctx context.Context, orgID, provider, returnURL string) (startURL string, expiresAt time.Time, err error)
	// Teardown starts tearing the connection down, as the API's DELETE does.
	Teardown(ctx context.Context, connectionID, orgID string) (*relay.Connection, error)
}

// Backfills is the backfill service, as the dashboard drives it.
type Backfills interface {
	// Start starts a backfill of the connection (0 days and no entity
	// types mean the configured defaults); created is false when an
	// active one with the same parameters is returned instead.
	Start(ctx context.Context, connectionID, orgID string, depthDays int, entityTypes []string) (b *relay.Backfill, created bool, err error)
	// Cancel cancels an active backfill of the connection.
	Cancel(ctx context.Context, connectionID, backfillID, orgID string) (*relay.Backfill, error)
}

// Deps are what the dashboard reads and acts on. Conns, ConnSvc,
// Backfills, Resolutions and Metrics may be nil: their pages then say the
// feature is not enabled.
type Deps struct {
	Store       relay.Store
	Delivery    Deliverer
	Conns       relay.ConnectionStore
	ConnSvc     Connections
	Backfills   relay.BackfillStore
	BackfillSvc Backfills
	Resolutions relay.ResolutionStore
	Metrics     *metrics.Metrics
	// Providers names the configured providers and sources (for held accounts).
	Providers []string
}

// Config holds the dashboard's settings.
type Config struct {
	// SecureCookies sets Secure on the session cookie: true when Relay's
	// public URL is https.
	SecureCookies bool
	// PublicURL is Relay's public base URL: connect flows started from
	// the dashboard return to its Connections page there.
	PublicURL string
	// SessionTTL is how long a sign-in lasts; 0 means 12 hours.
	SessionTTL time.Duration
	// RotationOverlap is how long a secret replaced from the Destinations
	// page keeps signing (delivery.rotation_overlap); 0 means none.
	RotationOverlap time.Duration
}

// Dashboard serves the dashboard pages. Build it with New.
type Dashboard struct {
	deps   Deps
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
	pages  map[string]*template.Template
}

// New returns the dashboard with every dependency explicit. It returns an
// error only when an embedded template does not parse (a build defect).
func New(deps Deps, cfg Config, logger *slog.Logger, now func() time.Time) (*Dashboard, error) {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	d := &Dashboard{deps: deps, cfg: cfg, logger: logger, now: now, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		d.pages[n[len("templates/"):]] = t
	}
	return d, nil
}

// Handler returns the dashboard's pages in front of api: requests for a
// dashboard path are answered here, every other one by api. Errors are
// pages: 303 to sign-in without a session, 403 for a POST without the
// session's CSRF token or for what the key may not do, 404 for what it
// may not see.
func (d *Dashboard) Handler(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/{file}", files) // files only: no directory listing
	mux.HandleFunc("GET /signin", d.handleSignInPage)
	mux.HandleFunc("POST /signin", d.handleSignIn)
	page := func(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
		mux.Handle(pattern, d.signedIn(h))
	}
	page("POST /signout", d.handleSignOut)
	page("GET /{$}", d.handleOverview)
	page("GET /events", d.handleEvents)
	page("GET /events/rows", d.handleEventRows)
	page("GET /events/{id}", d.handleEvent)
	page("POST /events/{id}/replay", d.handleReplayEvent)
	page("GET /deliveries", d.handleDeliveries)
	page("POST /deliveries/{id}/replay", d.handleReplayDelivery)
	page("POST /deliveries/replay-dead", d.handleReplayDead)
	page("GET /destinations", d.handleDestinations)
	page("POST /destinations", d.handleCreateDestination)
	page("POST /destinations/{id}/disabled", d.handleSetDisabled)
	page("POST /destinations/{id}/test", d.handleTestDestination)
	page("POST /destinations/{id}/resume", d.handleResumeDestination)
	page("POST /destinations/{id}/rotate-secret", d.handleRotateSecret)
	page("GET /connections", d.handleConnections)
	page("POST /connections/{id}/disconnect", d.handleDisconnect)
	page("POST /connections/connect", d.handleConnect)
	page("POST /connections/{id}/backfills", d.handleStartBackfill)
	page("POST /connections/{id}/backfills/{bid}/cancel", d.handleCancelBackfill)
	page("POST /destinations/{id}", d.handleUpdateDestination)
	page("POST /orgs", d.handleCreateOrg)
	page("POST /orgs/{org}/api-keys", d.handleCreateOrgKey)
	page("POST /keys/{id}/revoke", d.handleRevokeKey)
	page("GET /identity", d.handleIdentity)
	page("GET /keys", d.handleKeys)
	mux.Handle("/", api)
	return d.secure(mux)
}

// secure sets the headers every answer carries: a strict
// Content-Security-Policy (scripts and styles only from Relay's own files,
// never inline), and no framing, sniffing or referrer leaks. API answers
// are JSON, which the policy does not restrict.
func (d *Dashboard) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// signedIn runs h for a request with a valid session, and checks the CSRF
// token of every POST; without a session a page redirects to sign-in.
func (d *Dashboard) signedIn(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := d.readSession(r.Context(), r)
		if err != nil {
			d.fail(w, r, nil, err)
			return
		}
		if s == nil {
			if r.Method != http.MethodGet {
				http.Error(w, "Sign in first.", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost && !s.validCSRF(r.PostFormValue("csrf")) {
			http.Error(w, "Missing or invalid CSRF token; reload the page and try again.", http.StatusForbidden)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, s)
	})
}
