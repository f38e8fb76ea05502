package httpjson

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/relayhq/relay"
)

func TestOAuthErrorUsesTheOneMapping(t *testing.T) {
	refused := func(status int) error {
		return &oauth2.RetrieveError{Response: &http.Response{StatusCode: status}, ErrorCode: "invalid_grant",
			ErrorDescription: "the code c0de is used"}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  error
		code string
		msg  string
	}{
		{"refused", refused(400), relay.EINVALID, "prov: exchange code: HTTP 400: invalid_grant"},
		{"refused credential", refused(401), relay.EINVALID, "prov: exchange code: HTTP 401: invalid_grant"},
		{"rate limited", refused(429), relay.EUNAVAILABLE, "prov: exchange code: HTTP 429: invalid_grant (rate limited)"},
		{"failed", refused(502), relay.EUNAVAILABLE, "prov: exchange code: HTTP 502: invalid_grant"},
		{"transport", &url.Error{Op: "Post", URL: "https://x/token?code=c0de", Err: errors.New("connection refused")},
			relay.EUNAVAILABLE, "prov: exchange code: connection refused"},
		{"no token", errors.New("oauth2: server response missing access_token"), relay.EUNAVAILABLE, "prov: exchange code: malformed answer"},
	} {
		err := OAuthError(ctx, "prov", "exchange code", tc.err)
		if relay.ErrorCode(err) != tc.code || relay.ErrorMessage(err) != tc.msg || strings.Contains(err.Error(), "c0de") {
			t.Errorf("%s: %v, want %s %q", tc.name, err, tc.code, tc.msg)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := OAuthError(cancelled, "prov", "exchange code", context.Canceled); relay.ErrorMessage(err) != "prov: exchange code: cancelled or timed out" {
		t.Errorf("cancelled: %v", err)
	}
}
