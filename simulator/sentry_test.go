package simulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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

// sentryToken installs the integration and returns an access token.
func sentryToken(t testing.TB, sim *simulator.Sentry, installation string) string {
	t.Helper()
	u, _ := url.Parse(sim.InstallRedirect("https://cb.example/", "s", installation))
	b, _ := json.Marshal(map[string]string{"grant_type": "authorization_code", "code": u.Query().Get("code"),
		"client_id": sim.ClientID, "client_secret": sim.ClientSecret})
	resp, err := http.Post(sim.URL()+"/api/0/sentry-app-installations/"+installation+"/authorizations/", "application/json", bytes.NewReader(b))
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

// sentryGet GETs u with the token and decodes a list answer.
func sentryGet(t testing.TB, u, token string) (*http.Response, []map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
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

// sentryLink returns the URL and results of rel in a Link header.
func sentryLink(h, rel string) (string, bool) {
	for _, part := range strings.Split(h, ", <") {
		if strings.Contains(part, `rel="`+rel+`"`) {
			u := strings.TrimPrefix(part[:strings.Index(part, ">")], "<")
			return u, strings.Contains(part, `results="true"`)
		}
	}
	return "", false
}

func TestSentrySimulatorHistory(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sim := simulator.NewSentry(func() time.Time { return now })
	defer sim.Close()
	sim.AddInstallation(simulator.SentryInstallation{UUID: "inst-1", OrgSlug: "acme",
		Projects: []simulator.SentryProject{{ID: "1", Slug: "backend"}, {ID: "2", Slug: "web"}}})
	sim.SeedHistory(10, 10*24*time.Hour)
	tok := sentryToken(t, sim, "inst-1")
	issues := sim.URL() + "/api/0/projects/acme/backend/issues/"

	h := sim.History("1", "issues")
	if len(h) != 10 || len(sim.History("2", "issues")) != 10 || h[0].UpdatedAt.Before(now.Add(-10*24*time.Hour)) || !h[9].UpdatedAt.Before(now) {
		t.Fatalf("history %v", h)
	}

	// Without a query: unresolved issues only, last seen first.
	resp, page := sentryGet(t, issues, tok)
	if resp.StatusCode != 200 || len(page) != 5 || resp.Header.Get("X-Hits") != "5" {
		t.Fatalf("default: %d %d", resp.StatusCode, len(page))
	}
	for _, it := range page {
		for _, k := range []string{"id", "shortId", "title", "culprit", "status", "firstSeen", "lastSeen", "count", "project", "permalink"} {
			if _, ok := it[k]; !ok {
				t.Fatalf("no %s in %v", k, it)
			}
		}
		if it["status"] != "unresolved" || it["project"].(map[string]any)["slug"] != "backend" {
			t.Fatalf("issue %v", it)
		}
	}

	// lastSeen:>= with three a page, following rel="next" until results="false".
	since := h[4].UpdatedAt
	q := url.Values{"query": {"lastSeen:>=" + since.Format(time.RFC3339Nano)}, "sort": {"date"}, "limit": {"3"}}
	next, got, pages := issues+"?"+q.Encode(), []map[string]any{}, 0
	var second string
	for more := true; more; pages++ {
		resp, page := sentryGet(t, next, tok)
		link := resp.Header.Get("Link")
		if _, prev := sentryLink(link, "previous"); resp.StatusCode != 200 || prev != (pages > 0) {
			t.Fatalf("page %d: %d %s", pages, resp.StatusCode, link)
		}
		if pages == 1 {
			second = next
		}
		got = append(got, page...)
		next, more = sentryLink(link, "next")
	}
	if len(got) != 6 || pages != 2 {
		t.Fatalf("%d issues in %d pages", len(got), pages)
	}
	for i, it := range got {
		if it["id"] != h[9-i].ID || it["lastSeen"] != h[9-i].UpdatedAt.Format("2006-01-02T15:04:05.000000Z") {
			t.Fatalf("issue %d: %v %v, want %v", i, it["id"], it["lastSeen"], h[9-i])
		}
	}
	// rel="previous" of the second page is the first.
	resp, _ = sentryGet(t, second, tok)
	prev, _ := sentryLink(resp.Header.Get("Link"), "previous")
	if _, page := sentryGet(t, prev, tok); len(page) != 3 || page[0]["id"] != h[9].ID {
		t.Fatalf("previous: %v", page)
	}

	// Refusals.
	for _, tt := range []struct {
		u, token string
		code     int
	}{
		{issues, "bad", 401},
		{sim.URL() + "/api/0/projects/acme/nope/issues/", tok, 404},
		{sim.URL() + "/api/0/projects/other/backend/issues/", tok, 403},
		{issues + "?query=lastSeen:yesterday", tok, 400},
		{issues + "?cursor=x", tok, 400},
		{issues + "?sort=sideways", tok, 400},
	} {
		if resp, _ := sentryGet(t, tt.u, tt.token); resp.StatusCode != tt.code {
			t.Errorf("%s: %d, want %d", tt.u, resp.StatusCode, tt.code)
		}
	}

	// Past the limit: 429.
	sim.SetRateLimit(1, time.Hour)
	if resp, _ := sentryGet(t, issues, tok); resp.StatusCode != 200 || resp.Header.Get("X-Sentry-Rate-Limit-Limit") != "1" {
		t.Fatalf("within the limit: %d", resp.StatusCode)
	}
	resp, _ = sentryGet(t, issues, tok)
	if resp.StatusCode != 429 || resp.Header.Get("X-Sentry-Rate-Limit-Remaining") != "0" || sim.OverLimit() != 1 {
		t.Fatalf("over the limit: %d %v, %d", resp.StatusCode, resp.Header, sim.OverLimit())
	}
}

// BenchmarkSentrySimulatorIssuesPage serves pages of 100 issues (HTTP on
// the loopback included, the body not decoded).
func BenchmarkSentrySimulatorIssuesPage(b *testing.B) {
	sim := simulator.NewSentry(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.SentryInstallation{UUID: "inst-1", OrgSlug: "acme", Projects: []simulator.SentryProject{{ID: "1", Slug: "backend"}}})
	sim.SeedHistory(1000, 90*24*time.Hour)
	tok := sentryToken(b, sim, "inst-1")
	u := sim.URL() + "/api/0/projects/acme/backend/issues/?query=&limit=100"
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
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
