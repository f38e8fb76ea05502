package http

import (
	"context"
	"net/http"
	"net/url"

	"github.com/relayhq/relay"
)

// CreateConnectSession creates a connect page for org's customer offering
// providers (every provider with a connect flow when empty) and returns the
// session, its token (shown once) and the page's URL to send the customer
// to. When a flow started there ends, the browser goes to returnURL with
// provider and connection_id and status (or error). An unknown org (or
// another org's, for an org key) is ENOTFOUND; a provider without a connect
// flow or a returnURL off the allowed origins is EINVALID.
func (c *Client) CreateConnectSession(ctx context.Context, org string, providers []string, returnURL string) (s *relay.ConnectSession, token, pageURL string, err error) {
	in := struct {
		Providers []string `json:"providers,omitempty"`
		ReturnURL string   `json:"return_url"`
	}{providers, returnURL}
	var out struct {
		relay.ConnectSession
		Token string `json:"token"`
		URL   string `json:"url"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/orgs/"+url.PathEscape(org)+"/connect-sessions", nil, in, &out); err != nil {
		return nil, "", "", err
	}
	return &out.ConnectSession, out.Token, out.URL, nil
}
