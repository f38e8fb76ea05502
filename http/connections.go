package http

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/relayhq/relay"
)

// Connections is the connections service, as the API needs it.
type Connections interface {
	// Authorize starts a connect flow and returns the start link to send
	// the user's browser to.
	Authorize(ctx context.Context, orgID, provider, returnURL string) (startURL string, expiresAt time.Time, err error)
	// Start opens a flow's start link for the browser asking, binding the
	// flow to it.
	Start(ctx context.Context, provider, flow string) (*relay.FlowStart, error)
	// Callback completes a flow, for the browser holding the flow's
	// binding, and returns where to redirect the browser.
	Callback(ctx context.Context, provider string, query url.Values, binding string) (string, error)
	// Token returns a usable access token (refreshed if needed).
	Token(ctx context.Context, connectionID, orgID string) (*relay.Token, error)
	// Teardown starts tearing the connection down.
	Teardown(ctx context.Context, connectionID, orgID string) (*relay.Connection, error)
	// ApplyLifecycle applies a provider's lifecycle webhook.
	ApplyLifecycle(ctx context.Context, provider string, ch *relay.LifecycleChange) error
	// WebhookSecrets looks up the per-connection webhook secrets that
	// providers implementing relay.ConnectionVerifier verify with.
	relay.WebhookSecrets
}

// WithConnections serves the orgs, org API keys and connections
// endpoints, backed by store and svc. Without it they answer 404.
func WithConnections(store relay.ConnectionStore, svc Connections) Option {
	return func(s *Server) { s.conns, s.connSvc = store, svc }
}

// requireConnections answers 404 when the server was built without connections.
func (s *Server) requireConnections(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.conns == nil || s.connSvc == nil {
			writeError(w, r, s.logger, errNoRoute)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownOrg lets admin keys and keys of the path's {org} through; other org
// keys get 404, as if the org did not exist.
func (s *Server) ownOrg(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if org := callerOrg(r); org != "" && org != r.PathValue("org") {
			writeError(w, r, s.logger, relay.Errorf(relay.ENOTFOUND, "org %s not found", r.PathValue("org")))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleCreateOrg() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o relay.Org
		if err := readJSON(w, r, &o); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if err := o.Validate(); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		o.CreatedAt = s.now().UTC()
		if err := s.conns.CreateOrg(r.Context(), &o); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusCreated, &o)
	})
}

func (s *Server) handleListOrgs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orgs, err := s.conns.ListOrgs(r.Context())
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if orgs == nil {
			orgs = []*relay.Org{}
		}
		writeJSON(w, http.StatusOK, relay.Page[*relay.Org]{Items: orgs})
	})
}

func (s *Server) handleGetOrg() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := s.conns.GetOrg(r.Context(), r.PathValue("org"))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusOK, o)
	})
}

// handleCreateOrgKey creates an API key scoped to the org; the key is in
// this answer only.
func (s *Server) handleCreateOrgKey() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name string `json:"name"`
		}
		if r.ContentLength != 0 {
			if err := readJSON(w, r, &in); err != nil {
				writeError(w, r, s.logger, err)
				return
			}
		}
		org, err := s.conns.GetOrg(r.Context(), r.PathValue("org"))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if in.Name == "" {
			in.Name = "org " + org.ID
		}
		secret := relay.NewAPIKeySecret()
		k := &relay.APIKey{ID: relay.NewID("key", s.now()), OrgID: org.ID, Name: in.Name,
			Prefix: relay.APIKeyPrefix(secret), Hash: relay.HashAPIKey(secret), CreatedAt: s.now().UTC()}
		if err := s.store.CreateAPIKey(r.Context(), k); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusCreated, struct {
			*relay.APIKey
			Key string `json:"key"`
		}{k, secret})
	})
}

func (s *Server) handleAuthorize() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ReturnURL string `json:"return_url"`
		}
		if err := readJSON(w, r, &in); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		u, exp, err := s.connSvc.Authorize(r.Context(), r.PathValue("org"), r.PathValue("provider"), in.ReturnURL)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		// authorize_url keeps its name for existing clients; it is now
		// Relay's start link, which binds the flow to the first browser
		// that opens it and sends that browser on to the provider.
		writeJSON(w, http.StatusOK, map[string]any{"authorize_url": u, "expires_at": exp.UTC()})
	})
}

var callbackPage = template.Must(template.New("callback").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Connection failed</title></head>
<body><h1>Connection failed</h1><p>{{.}}</p></body></html>
`))

// handleOAuthCallback is where providers send the browser back. It never
// shows a stack: failures with a return URL redirect there with error=…;
// the others get a short 4xx page.
func (s *Server) handleOAuthCallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.connSvc == nil {
			http.NotFound(w, r)
			return
		}
		state := r.URL.Query().Get("state")
		binding := ""
		if c, err := r.Cookie(flowCookieName(state)); err == nil {
			binding = c.Value
		}
		to, err := s.connSvc.Callback(r.Context(), r.PathValue("provider"), r.URL.Query(), binding)
		if err != nil {
			s.flowErrorPage(w, r, "oauth callback failed", err)
			return
		}
		// The flow is over: its binding is of no further use.
		s.setFlowCookie(w, state, "", -1)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, to, http.StatusFound)
	})
}

func (s *Server) handleListConnections() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := relay.ConnectionFilter{OrgID: callerOrg(r), Provider: r.URL.Query().Get("provider"),
			IncludeDeleted: r.URL.Query().Get("include_deleted") == "true"}
		if org := r.URL.Query().Get("org_id"); org != "" {
			if f.OrgID != "" && f.OrgID != org {
				writeJSON(w, http.StatusOK, relay.Page[*relay.Connection]{Items: []*relay.Connection{}})
				return
			}
			f.OrgID = org // an admin narrowing the list; never widens an org key's view
		}
		cs, err := s.conns.ListConnections(r.Context(), f)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if cs == nil {
			cs = []*relay.Connection{}
		}
		writeJSON(w, http.StatusOK, relay.Page[*relay.Connection]{Items: cs})
	})
}

// connectionView is a connection with its resources.
type connectionView struct {
	*relay.Connection
	Resources []*relay.Resource `json:"resources"`
}

func (s *Server) handleGetConnection() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.conns.GetConnection(r.Context(), r.PathValue("id"), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		rs, err := s.conns.ListResources(r.Context(), c.ID)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		if rs == nil {
			rs = []*relay.Resource{}
		}
		writeJSON(w, http.StatusOK, connectionView{c, rs})
	})
}

func (s *Server) handleDeleteConnection() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.connSvc.Teardown(r.Context(), r.PathValue("id"), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusAccepted, c)
	})
}

func (s *Server) handleConnectionToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, err := s.connSvc.Token(r.Context(), r.PathValue("id"), callerOrg(r))
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": t.AccessToken, "token_type": t.TokenType, "expires_at": t.ExpiresAt,
		})
	})
}
