package simulator_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// githubInstallationToken mints an installation token from the simulator.
func githubInstallationToken(t testing.TB, sim *simulator.GitHub, installation string, now time.Time) string {
	t.Helper()
	jwtStr, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": sim.AppID,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix()}).SignedString(sim.PrivateKey())
	req, _ := http.NewRequest("POST", sim.URL()+"/app/installations/"+installation+"/access_tokens", nil)
	req.Header.Set("Authorization", "Bearer "+jwtStr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tok.Token
}

// githubGet GETs u with the token and decodes a list answer.
func githubGet(t testing.TB, u, token string) (*http.Response, []map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return resp, out
}

// linkRel returns the URL of rel in a Link header, or "".
func linkRel(h, rel string) string {
	for _, part := range strings.Split(h, ", ") {
		if strings.HasSuffix(part, `rel="`+rel+`"`) || strings.Contains(part, `rel="`+rel+`";`) {
			return part[strings.Index(part, "<")+1 : strings.Index(part, ">")]
		}
	}
	return ""
}

func TestGitHubSimulatorHistory(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sim := simulator.NewGitHub(func() time.Time { return now })
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 42, Login: "octo-org", Repos: []simulator.GitHubRepo{{ID: 7, FullName: "octo-org/hello"}}})
	sim.AddInstallation(simulator.GitHubInstallation{ID: 43, Login: "other", Repos: []simulator.GitHubRepo{{ID: 8, FullName: "other/x"}}})
	sim.SeedHistory(10, 10*24*time.Hour)
	tok := githubInstallationToken(t, sim, "42", now)
	api := sim.URL() + "/repos/octo-org/hello"

	for _, e := range []string{"issues", "pull_requests", "releases"} {
		h := sim.History("7", e)
		if len(h) != 10 || h[0].UpdatedAt.Before(now.Add(-10*24*time.Hour)) || !h[9].UpdatedAt.Before(now) || h[0].UpdatedAt.After(h[9].UpdatedAt) {
			t.Fatalf("%s history %v", e, h)
		}
	}

	// Issues, pull requests included, by updated_at ascending, four a page.
	next, got, prs := api+"/issues?state=all&sort=updated&direction=asc&per_page=4", []map[string]any{}, 0
	for pages := 1; next != ""; pages++ {
		resp, page := githubGet(t, next, tok)
		link := resp.Header.Get("Link")
		if resp.StatusCode != 200 || (pages < 5) != (linkRel(link, "next") != "" && linkRel(link, "last") != "") ||
			(pages > 1) != (linkRel(link, "prev") != "" && linkRel(link, "first") != "") {
			t.Fatalf("page %d: %d %s", pages, resp.StatusCode, link)
		}
		got, next = append(got, page...), linkRel(link, "next")
	}
	for i, it := range got {
		if _, ok := it["pull_request"]; ok {
			prs++
			if !strings.Contains(it["html_url"].(string), "/pull/") {
				t.Fatalf("pull request %v", it)
			}
		}
		if i > 0 && it["updated_at"].(string) < got[i-1]["updated_at"].(string) {
			t.Fatalf("not ascending at %d", i)
		}
		for _, k := range []string{"id", "number", "title", "state", "html_url", "user", "created_at", "updated_at", "closed_at"} {
			if _, ok := it[k]; !ok {
				t.Fatalf("no %s in %v", k, it)
			}
		}
		if (it["state"] == "closed") != (it["closed_at"] != nil) {
			t.Fatalf("closed_at %v", it)
		}
	}
	if len(got) != 20 || prs != 10 {
		t.Fatalf("%d issues, %d pull requests", len(got), prs)
	}

	// Defaults (state open, sort created desc, 30 a page) and since.
	_, open := githubGet(t, api+"/issues", tok)
	since := sim.History("7", "issues")[5].UpdatedAt
	_, recent := githubGet(t, api+"/issues?state=all&since="+since.Format(time.RFC3339), tok)
	if len(open) == 0 || len(open) >= 20 || len(recent) != 10 || open[0]["created_at"].(string) < open[len(open)-1]["created_at"].(string) {
		t.Fatalf("%d open, %d since", len(open), len(recent))
	}
	for _, it := range open {
		if it["state"] != "open" {
			t.Fatalf("state %v", it["state"])
		}
	}
	for _, it := range recent {
		if it["updated_at"].(string) < since.Format(time.RFC3339) {
			t.Fatalf("before since: %v", it["updated_at"])
		}
	}
	// Pull requests: sort=updated defaults to ascending, created to descending.
	_, asc := githubGet(t, api+"/pulls?state=all&sort=updated&per_page=100", tok)
	_, desc := githubGet(t, api+"/pulls?state=all&sort=updated&direction=desc", tok)
	if len(asc) != 10 || len(desc) != 10 || asc[0]["id"] != desc[9]["id"] || asc[0]["updated_at"].(string) > asc[9]["updated_at"].(string) {
		t.Fatalf("pulls %d %d", len(asc), len(desc))
	}
	if _, ok := asc[0]["pull_request"]; ok || asc[0]["head"] == nil {
		t.Fatalf("pull %v", asc[0])
	}
	// Releases: newest first; drafts unpublished.
	_, rels := githubGet(t, api+"/releases?per_page=100", tok)
	drafts := 0
	for i, it := range rels {
		if it["draft"] == true {
			drafts++
			if it["published_at"] != nil {
				t.Fatalf("draft %v", it)
			}
		}
		if i > 0 && it["created_at"].(string) > rels[i-1]["created_at"].(string) {
			t.Fatalf("releases not newest first at %d", i)
		}
	}
	if len(rels) != 10 || drafts != 2 {
		t.Fatalf("%d releases, %d drafts", len(rels), drafts)
	}

	// Refusals.
	for _, tt := range []struct {
		u, token string
		code     int
	}{
		{api + "/issues", "ghs_bad", 401},
		{sim.URL() + "/repos/other/x/issues", tok, 404},
		{api + "/issues?state=merged", tok, 422},
		{api + "/issues?since=yesterday", tok, 422},
	} {
		if resp, _ := githubGet(t, tt.u, tt.token); resp.StatusCode != tt.code {
			t.Errorf("%s: %d, want %d", tt.u, resp.StatusCode, tt.code)
		}
	}
	if sim.Calls("list-issues") != 5+2+4 || sim.Calls("list-pulls") != 2 || sim.Calls("list-releases") != 1 {
		t.Fatalf("calls %d %d %d", sim.Calls("list-issues"), sim.Calls("list-pulls"), sim.Calls("list-releases"))
	}

	// Past the limit: 403 with x-ratelimit-remaining 0.
	sim.SetRateLimit(1, time.Hour)
	if resp, _ := githubGet(t, api+"/releases", tok); resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Limit") != "1" {
		t.Fatalf("within the limit: %d", resp.StatusCode)
	}
	resp, _ := githubGet(t, api+"/releases", tok)
	if resp.StatusCode != 403 || resp.Header.Get("X-Ratelimit-Remaining") != "0" || resp.Header.Get("X-Ratelimit-Reset") == "" || sim.OverLimit() != 1 {
		t.Fatalf("over the limit: %d %v, %d", resp.StatusCode, resp.Header, sim.OverLimit())
	}
}

// BenchmarkGitHubSimulatorIssuesPage serves pages of 100 issues (HTTP on
// the loopback included, the body not decoded).
func BenchmarkGitHubSimulatorIssuesPage(b *testing.B) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 42, Login: "octo-org", Repos: []simulator.GitHubRepo{{ID: 7, FullName: "octo-org/hello"}}})
	sim.SeedHistory(1000, 90*24*time.Hour)
	tok := githubInstallationToken(b, sim, "42", time.Now())
	u := sim.URL() + "/repos/octo-org/hello/issues?state=all&sort=updated&direction=asc&per_page=100&page=3"
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "token "+tok)
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < 100*500 {
			b.Fatal(resp.StatusCode, n)
		}
	}
}

// TestGitHubSimulatorUserAuthorization: the install redirect's code is the
// installing user's; it exchanges once for a user token (form-encoded, or
// JSON when asked), which lists that user's installations page by page and
// can be revoked with the client credentials.
func TestGitHubSimulatorUserAuthorization(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	for _, id := range []int64{1, 2, 3} {
		sim.AddInstallation(simulator.GitHubInstallation{ID: id, Login: "org"})
	}
	sim.AddInstallation(simulator.GitHubInstallation{ID: 4, Login: "solo", TargetType: "User"})
	sim.AddUser(simulator.GitHubUser{Login: "multi", Installations: []int64{3, 1, 2, 404}})

	redirect, _ := url.Parse(sim.InstallRedirect("https://cb.example/cb", "s", 4, "install"))
	code := redirect.Query().Get("code")
	if code == "" || redirect.Query().Get("installation_id") != "4" {
		t.Fatalf("install redirect %s", redirect)
	}
	exchange := func(code, secret, accept string) (string, url.Values) {
		req, _ := http.NewRequest("POST", sim.URL()+"/login/oauth/access_token", strings.NewReader(url.Values{
			"client_id": {sim.ClientID}, "client_secret": {secret}, "code": {code}, "redirect_uri": {"https://cb.example/cb"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("exchange: %d %s", resp.StatusCode, b)
		}
		if strings.Contains(resp.Header.Get("Content-Type"), "json") {
			var m map[string]string
			_ = json.Unmarshal(b, &m)
			v := url.Values{}
			for k, s := range m {
				v.Set(k, s)
			}
			return "json", v
		}
		v, _ := url.ParseQuery(string(b))
		return "form", v
	}
	if kind, v := exchange(code, "wrong", ""); kind != "form" || v.Get("error") != "incorrect_client_credentials" {
		t.Fatalf("wrong secret: %s %v", kind, v)
	}
	kind, v := exchange(code, sim.ClientSecret, "")
	solo := v.Get("access_token")
	if kind != "form" || !strings.HasPrefix(solo, "ghu_") || v.Get("token_type") != "bearer" || v.Get("expires_in") != "28800" {
		t.Fatalf("exchange: %s %v", kind, v)
	}
	if _, v := exchange(code, sim.ClientSecret, ""); v.Get("error") != "bad_verification_code" {
		t.Fatalf("reused code: %v", v)
	}
	kind, v = exchange(sim.UserCode("multi"), sim.ClientSecret, "application/json")
	multi := v.Get("access_token")
	if kind != "json" || !strings.HasPrefix(multi, "ghu_") {
		t.Fatalf("JSON exchange: %s %v", kind, v)
	}

	list := func(token string) (int, []int64, int) {
		var ids []int64
		next, pages, status := sim.URL()+"/user/installations?per_page=100", 0, 0
		for next != "" {
			req, _ := http.NewRequest("GET", next, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var page struct {
				TotalCount    int `json:"total_count"`
				Installations []struct {
					ID      int64 `json:"id"`
					Account struct{ Login string }
				} `json:"installations"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if status = resp.StatusCode; status != 200 {
				return status, nil, pages
			}
			if page.TotalCount != 1 && page.TotalCount != 3 {
				t.Fatalf("total_count %d", page.TotalCount)
			}
			for _, in := range page.Installations {
				ids = append(ids, in.ID)
			}
			pages++
			next = ""
			if l := resp.Header.Get("Link"); l != "" {
				next = l[1:strings.Index(l, ">")]
			}
		}
		return status, ids, pages
	}
	// The unknown installation 404 is not listed; the rest by id, two a page.
	if status, ids, pages := list(multi); status != 200 || fmt.Sprint(ids) != "[1 2 3]" || pages != 2 {
		t.Fatalf("multi: %d %v in %d pages", status, ids, pages)
	}
	if status, ids, _ := list(solo); status != 200 || fmt.Sprint(ids) != "[4]" {
		t.Fatalf("solo: %d %v", status, ids)
	}
	if status, _, _ := list("ghu_forged"); status != 401 {
		t.Fatalf("forged token: %d", status)
	}

	revoke := func(user, secret, token string) int {
		req, _ := http.NewRequest("DELETE", sim.URL()+"/applications/"+sim.ClientID+"/token", strings.NewReader(`{"access_token":"`+token+`"}`))
		req.SetBasicAuth(user, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := revoke(sim.ClientID, "wrong", solo); code != 401 || sim.LiveUserTokens() != 2 {
		t.Fatalf("revoke with a wrong secret: %d", code)
	}
	if code := revoke(sim.ClientID, sim.ClientSecret, solo); code != 204 || sim.LiveUserTokens() != 1 {
		t.Fatalf("revoke: %d", code)
	}
	if code := revoke(sim.ClientID, sim.ClientSecret, solo); code != 404 {
		t.Fatalf("revoke again: %d", code)
	}
	if status, _, _ := list(solo); status != 401 {
		t.Fatalf("revoked token lists: %d", status)
	}
}
