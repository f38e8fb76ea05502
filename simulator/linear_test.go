package simulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/relayhq/relay/simulator"
)

// linearToken runs a consent and a code exchange at the simulator, as a
// client would on the wire.
func linearToken(t *testing.T, sim *simulator.Linear) string {
	t.Helper()
	v := oauth2.GenerateVerifier()
	authz := sim.URL() + "/oauth/authorize?" + url.Values{"client_id": {sim.ClientID}, "redirect_uri": {"https://cb.example/"},
		"response_type": {"code"}, "scope": {"read,write"}, "state": {"s"}, "actor": {"app"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"}}.Encode()
	to, err := sim.AuthorizeRedirect(authz)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	resp, err := http.PostForm(sim.URL()+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {"https://cb.example/"}, "client_id": {sim.ClientID}, "client_secret": {sim.ClientSecret}, "code_verifier": {v}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.ExpiresIn != 86400 {
		t.Fatalf("token: %d %+v %v", resp.StatusCode, tok, err)
	}
	return tok.AccessToken
}

func linearGraphQL(t *testing.T, sim *simulator.Linear, bearer, query string) (*http.Response, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{
		"input": map[string]any{"url": "https://relay.example/webhooks/linear", "resourceTypes": []string{"Issue"}, "allPublicTeams": true}}})
	req, _ := http.NewRequest("POST", sim.URL()+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp, out
}

func TestLinearSimulatorWire(t *testing.T) {
	sim := simulator.NewLinear(nil)
	defer sim.Close()
	if _, err := sim.AuthorizeRedirect(sim.URL() + "/oauth/authorize"); err == nil {
		t.Fatal("AuthorizeRedirect without an organization")
	}
	sim.AddOrganization(simulator.LinearOrg{ID: "org-1", Name: "Acme"})
	tok := linearToken(t, sim)

	resp, out := linearGraphQL(t, sim, tok, `query { viewer { id } organization { id name urlKey } }`)
	limit, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Requests-Limit"))
	remaining, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Requests-Remaining"))
	if limit == 0 || remaining >= limit || resp.Header.Get("X-RateLimit-Requests-Reset") == "" {
		t.Fatalf("rate-limit headers %v", resp.Header)
	}
	if org := out["data"].(map[string]any)["organization"].(map[string]any); org["id"] != "org-1" {
		t.Fatalf("organization %v", out)
	}
	resp, _ = linearGraphQL(t, sim, tok, `query { organization { id } }`)
	if r2, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Requests-Remaining")); r2 != remaining-1 {
		t.Fatalf("remaining %d after %d", r2, remaining)
	}

	// The client secret is no bearer token: GraphQL errors arrive with HTTP 200.
	resp, out = linearGraphQL(t, sim, sim.ClientSecret, `mutation($input: WebhookCreateInput!) { webhookCreate(input: $input) { success } }`)
	if resp.StatusCode != 200 || out["errors"] == nil || len(sim.Webhooks()) != 0 {
		t.Fatalf("webhookCreate with the client secret: %d %v", resp.StatusCode, out)
	}
	if _, out = linearGraphQL(t, sim, tok, `mutation($input: WebhookCreateInput!) { webhookCreate(input: $input) { success webhook { id } } }`); out["errors"] != nil ||
		len(sim.Webhooks()) != 1 || sim.Webhooks()[0].AuthorizedBy != tok || sim.Webhooks()[0].Secret == "" {
		t.Fatalf("webhookCreate: %v %+v", out, sim.Webhooks())
	}
	if sim.Calls("graphql") != 4 || sim.Calls("token_code") != 1 {
		t.Fatalf("calls graphql %d token_code %d", sim.Calls("graphql"), sim.Calls("token_code"))
	}
}
