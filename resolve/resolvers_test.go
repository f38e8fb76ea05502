package resolve_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/resolve"
)

func TestHTTPResolver(t *testing.T) {
	secret := relay.NewSecret()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	status, answer := 200, `{"org_id":"acme"}`
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, "bad signature", 401)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer app.Close()
	res := &resolve.HTTPResolver{URL: app.URL, Secret: secret}
	q := &relay.ResolveQuery{Provider: "bridge", AccountID: "cust_1", Attributes: map[string]string{"email": "a@example.com"}}

	got, err := res.Resolve(ctx, q)
	if err != nil || len(got.OrgIDs) != 1 || got.OrgIDs[0] != "acme" {
		t.Fatalf("signed lookup: %+v %v", got, err)
	}
	status, answer = 200, `{"org_ids":["a","b"]}`
	if got, err = res.Resolve(ctx, q); err != nil || len(got.OrgIDs) != 2 {
		t.Fatalf("several: %+v %v", got, err)
	}
	status, answer = 404, ``
	if got, err = res.Resolve(ctx, q); err != nil || len(got.OrgIDs) != 0 {
		t.Fatalf("unknown account: %+v %v", got, err)
	}
	for _, tt := range []struct {
		status int
		answer string
		code   string
	}{
		{503, "", relay.EUNAVAILABLE},
		{429, "", relay.EUNAVAILABLE},
		{400, "", relay.EINVALID},
		{200, "not json", relay.EINVALID},
	} {
		status, answer = tt.status, tt.answer
		if _, err := res.Resolve(ctx, q); relay.ErrorCode(err) != tt.code {
			t.Errorf("HTTP %d %q: %v, want %s", tt.status, tt.answer, err, tt.code)
		}
	}
	// Signed with another secret, the app refuses it: a refusal, not a retry.
	other := &resolve.HTTPResolver{URL: app.URL, Secret: relay.NewSecret()}
	if _, err := other.Resolve(ctx, q); relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("wrong secret: %v", err)
	}
	// The app is down: retried.
	app.Close()
	if _, err := res.Resolve(ctx, q); relay.ErrorCode(err) != relay.EUNAVAILABLE || relay.ErrorMessage(err) != "http resolver: lookup failed: connection failed" {
		t.Errorf("app down: %v", err)
	}
}

// The signed lookup is not replayed to a host the configuration did not
// name: a redirect is answered as a refusal.
func TestHTTPResolverDoesNotFollowRedirects(t *testing.T) {
	reached := make(chan http.Header, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- r.Header
		io.WriteString(w, `{"org_id":"evil"}`)
	}))
	defer other.Close()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	}))
	defer app.Close()
	for _, client := range []*http.Client{nil, {}} {
		res := &resolve.HTTPResolver{URL: app.URL, Secret: relay.NewSecret(), Client: client}
		got, err := res.Resolve(ctx, &relay.ResolveQuery{Provider: "bridge", AccountID: "cust_1"})
		if relay.ErrorCode(err) != relay.EINVALID {
			t.Fatalf("redirected lookup: %+v %v, want EINVALID", got, err)
		}
	}
	select {
	case h := <-reached:
		t.Fatalf("the signed lookup reached the redirect's host (signature %q)", h.Get("Webhook-Signature"))
	default:
	}
}
