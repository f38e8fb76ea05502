package connect

import (
	"context"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/relayhq/relay"
)

// Connect sessions put a page on Relay, /connect/{token}, where a team's
// customer connects providers to the team's org: each provider's button
// starts the usual browser-bound flow, whose end comes back to Relay
// (SessionReturnPath) before the browser goes on to the session's return
// URL with the result. The team's app never handles OAuth redirects.

// SessionReturnPath is the path, under PublicURL, where a flow started
// from a session's page ends; FinishSession serves it.
const SessionReturnPath = "/connect/sessions/"

// CreateSession stores a connect session for orgID offering providers
// (every provider with a connect flow when empty) and ending at returnURL,
// and returns it with its secret token and its page's URL. It returns
// ENOTFOUND for an unknown org and EINVALID for a provider without a
// connect flow or a return URL off the allowed origins.
func (s *Service) CreateSession(ctx context.Context, orgID string, providers []string, returnURL string) (*relay.ConnectSession, string, string, error) {
	if _, err := s.store.GetOrg(ctx, orgID); err != nil {
		return nil, "", "", err
	}
	if err := s.checkReturnURL(returnURL); err != nil {
		return nil, "", "", err
	}
	known := make([]string, 0, len(s.connectors))
	for name := range s.connectors {
		known = append(known, name)
	}
	sort.Strings(known)
	var offered []string
	for _, p := range providers {
		if _, ok := s.connectors[p]; !ok {
			return nil, "", "", relay.Errorf(relay.EINVALID, "provider %q has no connect flow configured (configured: %s)",
				p, strings.Join(known, ", "))
		}
		if !slices.Contains(offered, p) {
			offered = append(offered, p)
		}
	}
	if len(providers) == 0 {
		offered = known
	}
	if len(offered) == 0 {
		return nil, "", "", relay.Errorf(relay.EINVALID, "no provider has a connect flow configured")
	}
	now := s.now()
	token := "cst_" + randomToken(32)
	cs := &relay.ConnectSession{ID: relay.NewID("cs", now), OrgID: orgID, Providers: offered, ReturnURL: returnURL,
		ExpiresAt: now.Add(s.cfg.SessionTTL), CreatedAt: now, Connected: map[string]string{}}
	if err := s.store.CreateConnectSession(ctx, cs, hashHex(token)); err != nil {
		return nil, "", "", err
	}
	return cs, token, s.SessionURL(token), nil
}

// SessionURL is the URL of the page of the session with token.
func (s *Service) SessionURL(token string) string {
	return strings.TrimSuffix(s.cfg.PublicURL, "/") + "/connect/" + url.PathEscape(token)
}

// errSessionGone is what a page of an unknown or expired session shows.
var errSessionGone = relay.Errorf(relay.ENOTFOUND, "This connect link is unknown or has expired. Ask for a new one.")

// Session returns the unexpired session with token (ENOTFOUND otherwise).
func (s *Service) Session(ctx context.Context, token string) (*relay.ConnectSession, error) {
	cs, err := s.store.GetConnectSessionByToken(ctx, hashHex(token))
	if relay.ErrorCode(err) == relay.ENOTFOUND || err == nil && !s.now().Before(cs.ExpiresAt) {
		return nil, errSessionGone
	}
	return cs, err
}

// StartFromSession starts provider's connect flow from the page of the
// session with token and returns the flow's start link, for the same
// browser to open. It returns ENOTFOUND for an unknown or expired session
// or a provider the session does not offer, and ECONFLICT when provider
// was already connected through the session.
func (s *Service) StartFromSession(ctx context.Context, token, provider string) (string, error) {
	cs, err := s.Session(ctx, token)
	if err != nil {
		return "", err
	}
	conn, ok := s.connectors[provider]
	if !ok || !cs.Offers(provider) {
		return "", relay.Errorf(relay.ENOTFOUND, "This connect link does not offer %s.", provider)
	}
	if _, done := cs.Connected[provider]; done {
		return "", relay.Errorf(relay.ECONFLICT, "%s was already connected with this link.", provider)
	}
	back := strings.TrimSuffix(s.cfg.PublicURL, "/") + SessionReturnPath + url.PathEscape(cs.ID) + "/return?provider=" + url.QueryEscape(provider)
	u, _, err := s.newFlow(ctx, conn, cs.OrgID, provider, back)
	return u, err
}

// FinishSession is the end of a flow started from session sessionID's
// page: query is what the flow's end added to the return URL (provider,
// and connection_id and status, or error and error_description). A
// connection is recorded as made through the session after checking it is
// of the session's org and provider. It returns the session's return URL
// with provider and the flow's result, or ENOTFOUND for an unknown session
// and EINVALID for a result that names a connection it did not make.
func (s *Service) FinishSession(ctx context.Context, sessionID string, query url.Values) (string, error) {
	cs, err := s.store.GetConnectSession(ctx, sessionID)
	if relay.ErrorCode(err) == relay.ENOTFOUND {
		return "", errSessionGone
	} else if err != nil {
		return "", err
	}
	provider := query.Get("provider")
	if !cs.Offers(provider) {
		return "", relay.Errorf(relay.EINVALID, "This connect link does not offer %s.", provider)
	}
	connID := query.Get("connection_id")
	if connID == "" {
		errCode := query.Get("error")
		if errCode == "" {
			errCode = "connection_failed"
		}
		return withQuery(cs.ReturnURL, "provider", provider, "error", errCode,
			"error_description", truncate(query.Get("error_description"), 300)), nil
	}
	c, err := s.store.GetConnection(ctx, connID, cs.OrgID)
	if relay.ErrorCode(err) == relay.ENOTFOUND || err == nil && c.Provider != provider {
		return "", relay.Errorf(relay.EINVALID, "This connection was not made with this connect link.")
	} else if err != nil {
		return "", err
	}
	// A second flow for the provider, started before the first ended,
	// may have connected too: the connection exists either way, and the
	// browser is told of it.
	if err := s.store.AddSessionConnection(ctx, cs.ID, provider, c.ID, s.now()); err != nil && relay.ErrorCode(err) != relay.ECONFLICT {
		return "", err
	}
	return withQuery(cs.ReturnURL, "provider", provider, "connection_id", c.ID, "status", c.Status), nil
}
