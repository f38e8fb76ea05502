package http

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/relayhq/relay"
)

// ConnectSessions is the connect sessions service, as the server needs it:
// the API creates sessions, and the session's page (/connect/{token})
// starts each offered provider's flow and sends the browser on to the
// session's return URL when it ends.
type ConnectSessions interface {
	// CreateSession stores a session and returns it, its token and its
	// page's URL.
	CreateSession(ctx context.Context, orgID string, providers []string, returnURL string) (*relay.ConnectSession, string, string, error)
	// Session returns the unexpired session with token.
	Session(ctx context.Context, token string) (*relay.ConnectSession, error)
	// StartFromSession starts provider's flow from the session's page and
	// returns its start link.
	StartFromSession(ctx context.Context, token, provider string) (string, error)
	// FinishSession records a flow's end and returns where to send the
	// browser.
	FinishSession(ctx context.Context, sessionID string, query url.Values) (string, error)
}

// WithConnectSessions serves connect sessions: the API route and the
// pages. Without it they answer 404. It needs WithConnections.
func WithConnectSessions(svc ConnectSessions) Option {
	return func(s *Server) { s.sessions = svc }
}

//go:embed pages/connect.html pages/connect.css
var pageFiles embed.FS

// connectPage is the session's page. Its only style is the embedded
// stylesheet, allowed by its hash; it has no script.
var (
	connectPage  = template.Must(template.ParseFS(pageFiles, "pages/connect.html"))
	connectStyle = mustRead(pageFiles, "pages/connect.css")
	connectCSP   = func() string {
		sum := sha256.Sum256([]byte(connectStyle))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; base-uri 'none'; frame-ancestors 'none'"
	}()
)

func mustRead(fs embed.FS, name string) string {
	b, err := fs.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// providerTitles are how the page names the built-in providers; others
// show their name.
var providerTitles = map[string]string{"github": "GitHub", "linear": "Linear", "sentry": "Sentry", "vercel": "Vercel",
	"bridge": "Bridge", "persona": "Persona"}

type pageProvider struct {
	Title, Action string
	Connected     bool
}

type pageData struct {
	Style     template.CSS
	Error     string
	Org       string
	Providers []pageProvider
	Expires   string
}

// requireSessions answers 404 when the server was built without connect
// sessions or connections.
func (s *Server) requireSessions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.sessions == nil || s.conns == nil {
			writeError(w, r, s.logger, errNoRoute)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleCreateConnectSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Providers []string `json:"providers"`
			ReturnURL string   `json:"return_url"`
		}
		if err := readJSON(w, r, &in); err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		cs, token, page, err := s.sessions.CreateSession(r.Context(), r.PathValue("org"), in.Providers, in.ReturnURL)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, http.StatusCreated, struct {
			*relay.ConnectSession
			Token string `json:"token"`
			URL   string `json:"url"`
		}{cs, token, page})
	})
}

// pageHeaders are the headers of every answer of the session's pages: the
// token is in the URL, so no referrer leaves them and nothing is cached.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", connectCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
}

// renderPage writes the page (or its error form) with status.
func (s *Server) renderPage(w http.ResponseWriter, status int, d pageData) {
	d.Style = template.CSS(connectStyle)
	pageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := connectPage.ExecuteTemplate(w, "connect", d); err != nil {
		s.logger.Warn("connect page", "err", err)
	}
}

// pageError shows err's safe message on the page; only server errors are
// logged.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	status := ErrorStatus(relay.ErrorCode(err))
	if status >= 500 {
		s.logger.Error("connect page failed", "path", r.URL.Path, "err", err)
	}
	s.renderPage(w, status, pageData{Error: relay.ErrorMessage(err)})
}

// handleConnectPage shows the session's page: a button per offered
// provider not yet connected through it.
func (s *Server) handleConnectPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		cs, err := s.sessions.Session(r.Context(), token)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		org := cs.OrgID
		if o, err := s.conns.GetOrg(r.Context(), cs.OrgID); err == nil && o.Name != "" {
			org = o.Name
		}
		d := pageData{Org: org, Expires: cs.ExpiresAt.UTC().Format(time.RFC1123)}
		for _, p := range cs.Providers {
			title := providerTitles[p]
			if title == "" {
				title = p
			}
			_, done := cs.Connected[p]
			d.Providers = append(d.Providers, pageProvider{Title: title, Connected: done,
				Action: "/connect/" + url.PathEscape(token) + "/" + url.PathEscape(p)})
		}
		s.renderPage(w, http.StatusOK, d)
	})
}

// handleConnectPageStart is a provider's button: it starts the flow and
// sends the same browser to its start link, which binds the flow to it.
func (s *Server) handleConnectPageStart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, err := s.sessions.StartFromSession(r.Context(), r.PathValue("token"), r.PathValue("provider"))
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		pageHeaders(w)
		http.Redirect(w, r, start, http.StatusSeeOther)
	})
}

// handleConnectSessionReturn is where a flow started from a session's page
// ends: it sends the browser on to the session's return URL with the
// result.
func (s *Server) handleConnectSessionReturn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to, err := s.sessions.FinishSession(r.Context(), r.PathValue("id"), r.URL.Query())
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		pageHeaders(w)
		http.Redirect(w, r, to, http.StatusFound)
	})
}

// pageOnly answers 404 (a plain page) when the server has no connect
// sessions.
func (s *Server) pageOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.sessions == nil || s.conns == nil {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
