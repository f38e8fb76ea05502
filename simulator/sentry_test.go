package simulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relayhq/relay/simulator"
)

func TestSentrySimulatorWire(t *testing.T) {
	sim := simulator.NewSentry(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.SentryInstallation{UUID: "inst-1", OrgSlug: "acme",
		Projects: []simulator.SentryProject{{ID: "1"}, {ID: "2"}, {ID: "3"}}})
	authz := func(body map[string]string) (int, map[string]any) {
		body["client_id"], body["client_secret"] = sim.ClientID, sim.ClientSecret
		b, _ := json.Marshal(body)
		resp, err := http.Post(sim.URL()+"/api/0/sentry-app-installations/inst-1/authorizations/", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	u, _ := url.Parse(sim.InstallRedirect("https://cb.example/", "s", "inst-1"))
	code, tok := authz(map[string]string{"grant_type": "authorization_code", "code": u.Query().Get("code")})
	if code != 201 || tok["token"] == nil || tok["refreshToken"] == nil || tok["expiresAt"] == nil {
		t.Fatalf("exchange: %d %v", code, tok)
	}
	if code, out := authz(map[string]string{"grant_type": "authorization_code", "code": u.Query().Get("code")}); code != 401 || out["detail"] == nil {
		t.Fatalf("code reused: %d %v", code, out)
	}

	get := func(u, token string) (*http.Response, []map[string]any) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	resp, page := get(sim.URL()+"/api/0/organizations/acme/projects/", tok["token"].(string))
	link := resp.Header.Get("Link")
	if resp.StatusCode != 200 || len(page) != 2 || !strings.Contains(link, `rel="previous"; results="false"`) ||
		!strings.Contains(link, `rel="next"; results="true"; cursor="2:1:0"`) || resp.Header.Get("X-Sentry-Rate-Limit-Remaining") == "" {
		t.Fatalf("page 1: %d %v %s", resp.StatusCode, page, link)
	}
	next := link[strings.LastIndex(link, "<")+1 : strings.LastIndex(link, ">")]
	resp, page = get(next, tok["token"].(string))
	if link := resp.Header.Get("Link"); len(page) != 1 || !strings.Contains(link, `rel="next"; results="false"`) {
		t.Fatalf("page 2: %v %s", page, link)
	}

	// Refresh rotates both tokens.
	code, fresh := authz(map[string]string{"grant_type": "refresh_token", "refresh_token": tok["refreshToken"].(string)})
	if code != 201 || fresh["refreshToken"] == tok["refreshToken"] || sim.ValidToken(tok["token"].(string)) ||
		sim.ValidRefreshToken(tok["refreshToken"].(string)) || !sim.ValidToken(fresh["token"].(string)) {
		t.Fatalf("refresh: %d %v", code, fresh)
	}
	if code, out := authz(map[string]string{"grant_type": "refresh_token", "refresh_token": tok["refreshToken"].(string)}); code != 401 || out["detail"] == nil {
		t.Fatalf("old refresh token: %d %v", code, out)
	}
	if resp, _ := get(sim.URL()+"/api/0/organizations/acme/projects/", tok["token"].(string)); resp.StatusCode != 401 {
		t.Fatalf("old access token: %d", resp.StatusCode)
	}
	if sim.Calls("token_code") != 2 || sim.Calls("token_refresh") != 2 || sim.Calls("list_projects") != 3 {
		t.Fatalf("calls %d %d %d", sim.Calls("token_code"), sim.Calls("token_refresh"), sim.Calls("list_projects"))
	}
}
