package connect

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"

	"github.com/relayhq/relay"
)

// A connect flow is bound to the browser that starts it. Authorize returns
// a start link at Relay, not the provider's URL: the first browser to open
// it gets a secret binding (kept as a cookie by the HTTP layer) and is sent
// on to the provider; the link then refuses every other browser. The
// callback is accepted only with that binding, so a link forwarded after
// it was opened cannot attach someone else's provider account to the org.
// A callback without the binding leaves the state untouched: it is not a
// way to cancel the flow of the browser that holds it, and that browser can
// still finish.

// Start opens a flow's start link (flow is the link's id) for the browser
// asking: it binds the flow to a new secret and returns it with the
// provider's authorize URL. It returns ENOTFOUND for a provider without a
// connect flow, and EINVALID, with a message for the browser, for a link
// that is unknown, used, opened already (by any browser), expired or
// another provider's.
func (s *Service) Start(ctx context.Context, provider, flow string) (*relay.FlowStart, error) {
	conn, ok := s.connectors[provider]
	if !ok {
		return nil, relay.Errorf(relay.ENOTFOUND, "provider %q has no connect flow configured", provider)
	}
	if flow == "" {
		return nil, relay.Errorf(relay.EINVALID, "This connect link is incomplete. Start the connection again from the app.")
	}
	binding := randomToken(32)
	st, err := s.store.BindOAuthState(ctx, hashHex(flow), hashHex(binding))
	switch relay.ErrorCode(err) {
	case "":
	case relay.ENOTFOUND:
		return nil, relay.Errorf(relay.EINVALID, "This connect link is unknown or was already used. Start the connection again from the app.")
	case relay.ECONFLICT:
		s.logger.Info("connect: a start link was opened a second time", "provider", provider)
		return nil, relay.Errorf(relay.EINVALID, "This connect link was already opened in a browser, and works only there. "+
			"Start the connection again from the app, in the browser you will finish it in.")
	default:
		return nil, err
	}
	if st.Provider != provider {
		return nil, relay.Errorf(relay.EINVALID, "This connect link belongs to another provider. Start the connection again from the app.")
	}
	if s.now().After(st.ExpiresAt) {
		return nil, relay.Errorf(relay.EINVALID, "This connect link expired. Start the connection again from the app.")
	}
	return &relay.FlowStart{
		AuthorizeURL: conn.AuthorizeURL(st.State, s.RedirectURI(provider), codeChallenge(st.CodeVerifier)),
		State:        st.State, Binding: binding, ExpiresAt: st.ExpiresAt,
	}, nil
}

// startURL is the link Authorize returns for a flow id.
func (s *Service) startURL(provider, flow string) string {
	return s.cfg.PublicURL + "/oauth/" + provider + "/start?" + url.Values{"flow": {flow}}.Encode()
}

// boundTo reports whether binding is the secret of the browser the flow was
// bound to.
func boundTo(st *relay.OAuthState, binding string) bool {
	if st.BindingHash == "" || binding == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashHex(binding)), []byte(st.BindingHash)) == 1
}

// errOtherBrowser is what a callback without the starting browser's
// binding gets.
var errOtherBrowser = relay.Errorf(relay.EINVALID, "This connection must be finished in the browser that started it. "+
	"Start the connection again from the app, in this browser.")

// codeChallenge is the PKCE S256 challenge of a verifier ("" for none).
func codeChallenge(verifier string) string {
	if verifier == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// returnOrigins returns the allowed return origins, normalised: the
// configured ones and PublicURL's, since a flow started from Relay's own
// dashboard returns to Relay.
func returnOrigins(cfg Config) []string {
	list := cfg.AllowedReturnOrigins
	if cfg.PublicURL != "" {
		list = append(list[:len(list):len(list)], cfg.PublicURL)
	}
	var out []string
	for _, o := range list {
		if u, err := url.Parse(strings.TrimSuffix(o, "/")); err == nil && u.Host != "" {
			out = append(out, originOf(u))
		}
	}
	return out
}

// originOf is u's scheme://host[:port], lower case, without the scheme's
// default port, so that equal origins compare equal.
func originOf(u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "https" && p == "443") || (scheme == "http" && p == "80") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return scheme + "://" + host
}

// checkReturnURL returns EINVALID, naming the allowed origins, unless raw
// is an absolute http(s) URL on one of them: the flow's end sends the
// browser there, with the org's connection id, so it must be the team's
// app and not any site a caller names.
func (s *Service) checkReturnURL(raw string) error {
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil &&
		slices.Contains(s.origins, originOf(u)) {
		return nil
	}
	allowed := strings.Join(s.origins, ", ")
	if allowed == "" {
		allowed = "none configured"
	}
	return relay.Errorf(relay.EINVALID, "return_url must be an absolute http(s) URL on an allowed return origin "+
		"(connect.allowed_return_origins: %s)", allowed)
}
