package simulator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/relayhq/relay/simulator"
)

func TestGitHubSimulatorJWT(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sim := simulator.NewGitHub(func() time.Time { return now })
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 42, Login: "octo-org"})
	sign := func(iss string, iat, exp time.Duration) string {
		claims := jwt.MapClaims{"iss": iss, "exp": now.Add(exp).Unix()}
		if iat != 0 {
			claims["iat"] = now.Add(iat).Unix()
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(sim.PrivateKey())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mint := func(jwt string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", sim.URL()+"/app/installations/42/access_tokens", nil)
		req.Header.Set("Authorization", "Bearer "+jwt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	tests := []struct {
		name string
		jwt  string
		code int
	}{
		{"app id, 10 min", sign(sim.AppID, -time.Minute, 10*time.Minute), 201},
		{"client id", sign(sim.ClientID, -time.Minute, 9*time.Minute), 201},
		{"exp too far", sign(sim.AppID, -time.Minute, 10*time.Minute+time.Second), 401},
		{"expired", sign(sim.AppID, -11*time.Minute, -time.Minute), 401},
		{"iat in the future", sign(sim.AppID, time.Minute, 5*time.Minute), 401},
		{"no iat", sign(sim.AppID, 0, 5*time.Minute), 401},
		{"other issuer", sign("999", -time.Minute, 5*time.Minute), 401},
		{"not a JWT", "ghs_notajwt", 401},
	}
	for _, tt := range tests {
		code, out := mint(tt.jwt)
		if code != tt.code {
			t.Errorf("%s: %d %v, want %d", tt.name, code, out, tt.code)
		}
		if code == 201 && (!strings.HasPrefix(out["token"].(string), "ghs_") || out["expires_at"] != now.Add(time.Hour).Format(time.RFC3339)) {
			t.Errorf("%s: token %v", tt.name, out)
		}
		if code == 401 && out["message"] == "" {
			t.Errorf("%s: no message", tt.name)
		}
	}
	if sim.Calls("create_token") != len(tests) {
		t.Fatalf("calls %d", sim.Calls("create_token"))
	}
}

func TestGitHubSimulatorRepositories(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 42, Login: "octo-org", Repos: []simulator.GitHubRepo{
		{ID: 1, FullName: "o/a"}, {ID: 2, FullName: "o/b"}, {ID: 3, FullName: "o/c"}, {ID: 4, FullName: "o/d"}, {ID: 5, FullName: "o/e"}}})
	jwtStr, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": sim.AppID,
		"iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(5 * time.Minute).Unix()}).SignedString(sim.PrivateKey())
	req, _ := http.NewRequest("POST", sim.URL()+"/app/installations/42/access_tokens", nil)
	req.Header.Set("Authorization", "Bearer "+jwtStr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	next, pages, ids := sim.URL()+"/installation/repositories?per_page=100", 0, 0
	for next != "" {
		req, _ := http.NewRequest("GET", next, nil)
		req.Header.Set("Authorization", "token "+tok.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			TotalCount   int `json:"total_count"`
			Repositories []struct{ ID int64 }
		}
		_ = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != 200 || page.TotalCount != 5 || resp.Header.Get("X-Ratelimit-Remaining") == "" {
			t.Fatalf("page %d: %d %+v", pages, resp.StatusCode, page)
		}
		pages, ids = pages+1, ids+len(page.Repositories)
		next = ""
		if l := resp.Header.Get("Link"); l != "" {
			if !strings.Contains(l, `rel="last"`) {
				t.Fatalf("Link %s", l)
			}
			next = l[1:strings.Index(l, ">")]
		}
	}
	if pages != 3 || ids != 5 {
		t.Fatalf("%d repositories in %d pages", ids, pages)
	}
	// Revocation ends the token.
	req, _ = http.NewRequest("DELETE", sim.URL()+"/installation/token", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || sim.ValidToken(tok.Token) {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
}
