package http

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/relayhq/relay"
)

// handleOAuthStart opens a connect flow's start link: the first browser to
// open it receives the flow's binding cookie and is sent to the provider;
// any other gets a 400 page. The cookie is HttpOnly, SameSite=Lax (it must
// come back with the provider's top-level redirect to the callback),
// limited to /oauth/, Secure when Relay's public URL is https, and lives as
// long as the flow.
func (s *Server) handleOAuthStart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.connSvc == nil {
			http.NotFound(w, r)
			return
		}
		fs, err := s.connSvc.Start(r.Context(), r.PathValue("provider"), r.URL.Query().Get("flow"))
		if err != nil {
			s.flowErrorPage(w, r, "oauth start failed", err)
			return
		}
		s.setFlowCookie(w, fs.State, fs.Binding, max(1, int(fs.ExpiresAt.Sub(s.now()).Seconds())))
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, fs.AuthorizeURL, http.StatusFound)
	})
}

// flowCookieName is the name of a flow's binding cookie: one per flow, so
// that flows started in several tabs do not overwrite each other's.
func flowCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return "relay_flow_" + hex.EncodeToString(sum[:8])
}

// setFlowCookie sets a flow's binding cookie, or clears it (maxAge < 0).
func (s *Server) setFlowCookie(w http.ResponseWriter, state, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: flowCookieName(state), Value: value, Path: "/oauth/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// flowErrorPage answers a connect flow's browser with a short page saying
// what went wrong; only server errors are logged.
func (s *Server) flowErrorPage(w http.ResponseWriter, r *http.Request, what string, err error) {
	status := ErrorStatus(relay.ErrorCode(err))
	if status >= 500 {
		s.logger.Error(what, "provider", r.PathValue("provider"), "err", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = callbackPage.Execute(w, relay.ErrorMessage(err))
}
