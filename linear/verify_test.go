package linear_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/linear"
	"github.com/relayhq/relay/simulator"
)

// fakeSecrets is a relay.WebhookSecrets over a fixed set of webhooks.
type fakeSecrets struct {
	hooks []relay.WebhookSecret
	err   error // returned by every lookup when set
	ctxs  []context.Context
}

func (f *fakeSecrets) WebhookSecret(ctx context.Context, provider, webhookID string) (*relay.WebhookSecret, error) {
	f.ctxs = append(f.ctxs, ctx)
	if f.err != nil {
		return nil, f.err
	}
	for i := range f.hooks {
		if provider == "linear" && f.hooks[i].WebhookID == webhookID {
			return &f.hooks[i], nil
		}
	}
	return nil, relay.Errorf(relay.ENOTFOUND, "none")
}

func (f *fakeSecrets) WebhookSecretByAccount(ctx context.Context, provider, accountID string) (*relay.WebhookSecret, error) {
	return nil, errors.New("not used by linear")
}

// hookBody is an Issue.create body of org from webhook hook.
func hookBody(hook, org string, at time.Time) []byte {
	b := simulator.LinearIssuePayload(org, "team-1", "issue-1", at)
	return []byte(strings.Replace(string(b), "f8b0a4c2-3d3e-4b8a-9d55-0c6f1a2b3c4d", hook, 1))
}

func TestVerifyConnection(t *testing.T) {
	secrets := &fakeSecrets{hooks: []relay.WebhookSecret{
		{ConnectionID: "con_a", WebhookID: "wh-a", AccountID: "org-a", Secret: "secret-a"},
		{ConnectionID: "con_b", WebhookID: "wh-b", AccountID: "org-b", Secret: "secret-b"},
	}}
	p := linear.New(linear.Config{WebhookSecret: secret}) // the app-level webhook's
	revokeB := []byte(`{"action":"revoked","type":"OAuthApp","organizationId":"org-b","webhookId":"wh-a","webhookTimestamp":` +
		strconv.FormatInt(now.UnixMilli(), 10) + `,"data":{"organizationId":"org-b"}}`)
	noOrg := []byte(`{"action":"revoked","type":"OAuthApp","webhookId":"wh-a","webhookTimestamp":` +
		strconv.FormatInt(now.UnixMilli(), 10) + `,"data":{"organizationId":"org-b"}}`)
	// encoding/json keeps the last of duplicate keys, other parsers the
	// first: the account check must read the body as Parse does.
	dup := []byte(strings.Replace(string(hookBody("wh-a", "org-b", now)), `"type":"Issue"`, `"organizationId":"org-a","type":"Issue"`, 1))
	tests := []struct {
		name, secret string
		body         []byte
		at           time.Time
		code         string
	}{
		{"own webhook, own secret", "secret-a", hookBody("wh-a", "org-a", now), now, ""},
		{"other workspace's webhook, own secret", "secret-b", hookBody("wh-b", "org-b", now), now, ""},
		{"own secret naming another org", "secret-a", hookBody("wh-a", "org-b", now), now, relay.EUNAUTHORIZED},
		{"own secret, other's webhook id", "secret-a", hookBody("wh-b", "org-b", now), now, relay.EUNAUTHORIZED},
		{"own secret, unknown webhook id", "secret-a", hookBody("wh-app", "org-b", now), now, relay.EUNAUTHORIZED},
		{"own secret, no webhook id", "secret-a", []byte(strings.Replace(string(hookBody("x", "org-a", now)), `"webhookId":"x"`, `"other":1`, 1)), now, relay.EUNAUTHORIZED},
		{"forged revocation of another org", "secret-a", revokeB, now, relay.EUNAUTHORIZED},
		{"revocation without organizationId", "secret-a", noOrg, now, relay.EUNAUTHORIZED},
		{"duplicate organizationId", "secret-a", dup, now, relay.EUNAUTHORIZED},
		{"shared secret on a connection's webhook", secret, hookBody("wh-a", "org-a", now), now, relay.EUNAUTHORIZED},
		{"shared secret on the app-level webhook", secret, hookBody("wh-app", "org-b", now), now, ""},
		{"own secret, stale", "secret-a", hookBody("wh-a", "org-a", now), now.Add(2 * time.Minute), relay.EUNAUTHORIZED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &relay.WebhookRequest{Header: simulator.LinearWebhook(tc.secret, tc.body, ""), Body: tc.body, ReceivedAt: tc.at}
			err := p.VerifyConnection(context.Background(), req, secrets)
			if relay.ErrorCode(err) != tc.code && !(tc.code == "" && err == nil) {
				t.Fatalf("got %v, want code %q", err, tc.code)
			}
		})
	}
}

func TestVerifyConnectionLookup(t *testing.T) {
	p := linear.New(linear.Config{WebhookSecret: secret})
	body := hookBody("wh-a", "org-a", now)

	// The request's context reaches the lookup.
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "req")
	secrets := &fakeSecrets{hooks: []relay.WebhookSecret{{WebhookID: "wh-a", AccountID: "org-a", Secret: "secret-a"}}}
	req := &relay.WebhookRequest{Header: simulator.LinearWebhook("secret-a", body, ""), Body: body, ReceivedAt: now}
	if err := p.VerifyConnection(ctx, req, secrets); err != nil || len(secrets.ctxs) != 1 || secrets.ctxs[0].Value(key{}) != "req" {
		t.Fatalf("verify %v, lookups %d", err, len(secrets.ctxs))
	}

	// A failed lookup is not a bad signature: Linear should retry.
	failing := &fakeSecrets{err: errors.New("database down")}
	if err := p.VerifyConnection(ctx, req, failing); err == nil || relay.ErrorCode(err) == relay.EUNAUTHORIZED {
		t.Fatalf("failed lookup: %v", err)
	}

	// Without connections, only the shared secret verifies.
	shared := &relay.WebhookRequest{Header: simulator.LinearWebhook(secret, body, ""), Body: body, ReceivedAt: now}
	if err := p.VerifyConnection(ctx, shared, nil); err != nil {
		t.Fatalf("shared secret without connections: %v", err)
	}
	if err := p.VerifyConnection(ctx, req, nil); relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("a connection secret without connections: %v", err)
	}
	if err := p.VerifyConnection(ctx, &relay.WebhookRequest{Header: http.Header{}, Body: body, ReceivedAt: now}, secrets); relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("unsigned: %v", err)
	}
}
