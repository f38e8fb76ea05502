package httpjson

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"

	"github.com/relayhq/relay"
)

// OAuthError maps a failed x/oauth2 token call (a code exchange, a
// refresh) to a relay.Error with the same mapping as Client's for a
// connect flow: EINVALID when the provider refuses (a 401 included),
// EUNAVAILABLE when it fails or rate-limits (5xx, 429), times out or
// cannot be reached, or answers without a token. The message keeps the
// OAuth error code; never the description or the body, which could echo a
// code or a token, nor the URL.
func OAuthError(ctx context.Context, provider, what string, err error) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.Response != nil:
		status := re.Response.StatusCode
		msg := fmt.Sprintf("%s: %s: HTTP %d", provider, what, status)
		if re.ErrorCode != "" {
			msg += ": " + truncate(re.ErrorCode, 60)
		}
		return errorFor(msg, status, status == http.StatusTooManyRequests, relay.EINVALID)
	case ctx.Err() != nil:
		return relay.Errorf(relay.EUNAVAILABLE, "%s: %s: cancelled or timed out", provider, what)
	case errors.As(err, new(*url.Error)):
		return relay.Errorf(relay.EUNAVAILABLE, "%s: %s: %s", provider, what, transport(err))
	}
	// A 2xx answer without a token, or one that is not a token answer.
	return relay.Errorf(relay.EUNAVAILABLE, "%s: %s: malformed answer", provider, what)
}
