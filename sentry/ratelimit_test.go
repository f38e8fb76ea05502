package sentry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/sentry"
)

// A 403 that is a rate limit (the budget used up) is a wait, not a refusal,
// for the connect flow's calls as for backfills.
func TestRateLimitedForbiddenIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Sentry-Rate-Limit-Limit", "100")
		w.Header().Set("X-Sentry-Rate-Limit-Remaining", "0")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"detail":"slow down"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := sentry.NewConnector(sentry.ConnectorConfig{ClientID: "id", ClientSecret: "secret", Slug: "relay", APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	conn := &relay.Connection{Provider: "sentry", ExternalID: "inst-1", Metadata: map[string]string{"org_slug": "acme"}}
	if _, err := c.Resources(context.Background(), conn, &relay.Token{AccessToken: "tok"}); relay.ErrorCode(err) != relay.EUNAVAILABLE {
		t.Fatalf("rate-limited 403: %v, want EUNAVAILABLE", err)
	}
}
