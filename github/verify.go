package github

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/internal/httpjson"
)

// verifyInstallation checks that installationID is one the user who
// installed the App can access, as GitHub advises since the setup URL's
// installation_id can be spoofed: it exchanges the user's code for a user
// access token, then pages through GET /user/installations with it. The
// token serves this check only: it is revoked (best effort) and never
// returned, stored or put in an error.
//
// It returns EFORBIDDEN when there is no code or the installation is not
// listed, EINVALID when GitHub refuses the code or the token, EUNAVAILABLE
// when GitHub fails or times out.
func (c *Connector) verifyInstallation(ctx context.Context, code, redirectURI, installationID string) error {
	if code == "" {
		return relay.Errorf(relay.EFORBIDDEN, "github: installation %s could not be verified: the callback has no code "+
			"(the App must request user authorization (OAuth) during installation)", installationID)
	}
	userToken, err := c.exchangeUserCode(ctx, code, redirectURI)
	if err != nil {
		return err
	}
	defer c.revokeUserToken(ctx, userToken)
	listed, err := c.userHasInstallation(ctx, userToken, installationID)
	if err != nil {
		return err
	}
	if !listed {
		return relay.Errorf(relay.EFORBIDDEN, "github: installation %s is not one the installing user can access", installationID)
	}
	return nil
}

// exchangeUserCode trades the installing user's code for a user access
// token at POST {WebURL}/login/oauth/access_token (client id and secret in
// the form). GitHub answers a refused code with 200 and an error field,
// which x/oauth2 reports as a RetrieveError like a 4xx.
func (c *Connector) exchangeUserCode(ctx context.Context, code, redirectURI string) (string, error) {
	oc := c.oauth
	oc.RedirectURL = redirectURI
	t, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, c.cfg.HTTPClient), code)
	if err != nil {
		return "", httpjson.OAuthError(ctx, "github", "exchange the installing user's code", err)
	}
	return t.AccessToken, nil
}

// userHasInstallation reports whether GET /user/installations, followed
// page by page (100 at a time, Link rel="next" on the API's own host
// only), lists installationID.
func (c *Connector) userHasInstallation(ctx context.Context, userToken, installationID string) (bool, error) {
	const what = "list the installing user's installations"
	next := c.cfg.APIURL + "/user/installations?per_page=100"
	for pages := 0; next != ""; pages++ {
		if pages == maxPages {
			return false, relay.Errorf(relay.EUNAVAILABLE, "github: %s: more than %d pages", what, maxPages)
		}
		var page struct {
			Installations []struct {
				ID id `json:"id"`
			} `json:"installations"`
		}
		resp, err := c.call(ctx, what, http.MethodGet, next, "Bearer "+userToken, &page)
		if err != nil {
			return false, err
		}
		link := resp.Header.Get("Link")
		for _, in := range page.Installations {
			if string(in.ID) == installationID {
				return true, nil
			}
		}
		if next, err = c.sameOrigin(nextLink(link)); err != nil {
			return false, relay.Errorf(relay.EUNAVAILABLE, "github: %s: %s", what, err)
		}
	}
	return false, nil
}

// revokeUserToken revokes the user access token with DELETE
// /applications/{client_id}/token (basic auth with the client id and
// secret), so that a token Relay no longer needs does not live on for its
// 8 hours. It is best effort: a failure changes nothing about the connect
// flow, and the token is dropped either way.
func (c *Connector) revokeUserToken(ctx context.Context, userToken string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.cfg.ClientID+":"+c.cfg.ClientSecret))
	_, _ = c.flow.Call(ctx, "revoke the installing user's token", http.MethodDelete,
		c.cfg.APIURL+"/applications/"+url.PathEscape(c.cfg.ClientID)+"/token", http.Header{
			"Authorization":        {basic},
			"Accept":               {"application/vnd.github+json"},
			"X-Github-Api-Version": {"2022-11-28"},
			"User-Agent":           {"relay"},
		}, map[string]string{"access_token": userToken}, nil)
}
