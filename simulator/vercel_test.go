package simulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/relayhq/relay/simulator"
)

func TestVercelSimulatorWire(t *testing.T) {
	sim := simulator.NewVercel(nil)
	defer sim.Close()
	sim.AddAccount(simulator.VercelAccount{ConfigurationID: "cfg", TeamID: "team_1", UserID: "usr_1",
		Projects: []simulator.VercelProject{{ID: "p1"}, {ID: "p2"}, {ID: "p3"}}})
	u, _ := url.Parse(sim.InstallRedirect("https://cb.example/", "s", "cfg"))
	resp, err := http.PostForm(sim.URL()+"/v2/oauth/access_token", url.Values{"client_id": {sim.ClientID},
		"client_secret": {sim.ClientSecret}, "code": {u.Query().Get("code")}, "redirect_uri": {"https://cb.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string  `json:"access_token"`
		TeamID      *string `json:"team_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" || tok.TeamID == nil || *tok.TeamID != "team_1" {
		t.Fatalf("exchange: %+v", tok)
	}

	get := func(query string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", sim.URL()+"/v9/projects?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	// A team's token without teamId: Vercel's error shape.
	if code, out := get("limit=100"); code != 403 || out["error"].(map[string]any)["code"] != "forbidden" {
		t.Fatalf("no teamId: %d %v", code, out)
	}
	code, page := get("limit=100&teamId=team_1")
	pg := page["pagination"].(map[string]any)
	if code != 200 || len(page["projects"].([]any)) != 2 || pg["count"].(float64) != 2 || pg["next"] == nil || pg["prev"] != nil {
		t.Fatalf("page 1: %d %v", code, page)
	}
	code, page = get("limit=100&teamId=team_1&until=" + strconv.FormatInt(int64(pg["next"].(float64)), 10))
	pg = page["pagination"].(map[string]any)
	projects := page["projects"].([]any)
	if code != 200 || len(projects) != 1 || projects[0].(map[string]any)["id"] != "p3" || pg["next"] != nil {
		t.Fatalf("page 2: %d %v", code, page)
	}
	if sim.Calls("list_projects") != 3 || sim.Calls("exchange") != 1 {
		t.Fatalf("calls %d %d", sim.Calls("list_projects"), sim.Calls("exchange"))
	}
}

// vercelToken installs configuration cfg and returns its token.
func vercelToken(t *testing.T, sim *simulator.Vercel, cfg string) string {
	t.Helper()
	u, _ := url.Parse(sim.InstallRedirect("https://cb.example/", "s", cfg))
	resp, err := http.PostForm(sim.URL()+"/v2/oauth/access_token", url.Values{"client_id": {sim.ClientID},
		"client_secret": {sim.ClientSecret}, "code": {u.Query().Get("code")}, "redirect_uri": {"https://cb.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// vercelPage is a deployments answer.
type vercelPage struct {
	Deployments []map[string]any `json:"deployments"`
	Pagination  struct {
		Count int    `json:"count"`
		Next  *int64 `json:"next"`
		Prev  *int64 `json:"prev"`
	} `json:"pagination"`
	Error *struct {
		Code         string `json:"code"`
		InvalidToken bool   `json:"invalidToken"`
	} `json:"error"`
}

func vercelDeployments(t *testing.T, sim *simulator.Vercel, token string, q url.Values) (*http.Response, vercelPage) {
	t.Helper()
	req, _ := http.NewRequest("GET", sim.URL()+"/v6/deployments?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out vercelPage
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%d: %v", resp.StatusCode, err)
	}
	return resp, out
}

func TestVercelSimulatorHistory(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sim := simulator.NewVercel(func() time.Time { return now })
	defer sim.Close()
	sim.AddAccount(simulator.VercelAccount{ConfigurationID: "cfg", TeamID: "team_1", UserID: "usr_1",
		Projects: []simulator.VercelProject{{ID: "prj_1", Name: "web"}, {ID: "prj_2", Name: "api"}}})
	sim.AddAccount(simulator.VercelAccount{ConfigurationID: "cfg-other", UserID: "usr_2", Projects: []simulator.VercelProject{{ID: "prj_9"}}})
	sim.SeedHistory(10, 10*24*time.Hour)
	tok := vercelToken(t, sim, "cfg")

	h := sim.History("prj_1", "deployments")
	if len(h) != 10 || len(sim.History("prj_2", "deployments")) != 10 || sim.History("prj_1", "issues") != nil ||
		h[0].UpdatedAt.Before(now.Add(-10*24*time.Hour)) || !h[9].UpdatedAt.Before(now) || h[0].UpdatedAt.Truncate(time.Millisecond) != h[0].UpdatedAt {
		t.Fatalf("history %v", h)
	}
	for i := 1; i < len(h); i++ {
		if !h[i].UpdatedAt.After(h[i-1].UpdatedAt) || len(h[i].ID) != 32 || h[i].ID[:4] != "dpl_" {
			t.Fatalf("history %d: %v", i, h[i])
		}
	}

	// Default limit 20: all ten, newest first, in Vercel's shape.
	resp, page := vercelDeployments(t, sim, tok, url.Values{"projectId": {"prj_1"}, "teamId": {"team_1"}})
	if resp.StatusCode != 200 || len(page.Deployments) != 10 || page.Pagination.Count != 10 || page.Pagination.Next != nil ||
		page.Pagination.Prev != nil || resp.Header.Get("X-RateLimit-Remaining") == "" {
		t.Fatalf("default: %d %+v", resp.StatusCode, page.Pagination)
	}
	states := map[string]bool{}
	for i, d := range page.Deployments {
		for _, k := range []string{"uid", "name", "url", "created", "createdAt", "state", "readyState", "type", "creator", "target",
			"meta", "inspectorUrl", "projectId"} {
			if _, ok := d[k]; !ok {
				t.Fatalf("no %s in %v", k, d)
			}
		}
		if d["uid"] != h[9-i].ID || int64(d["created"].(float64)) != h[9-i].UpdatedAt.UnixMilli() || d["projectId"] != "prj_1" || d["type"] != "LAMBDAS" {
			t.Fatalf("deployment %d: %v, want %v", i, d, h[9-i])
		}
		states[d["readyState"].(string)] = true
	}
	if !states["READY"] || !states["ERROR"] || !states["CANCELED"] || !states["BUILDING"] || !states["QUEUED"] {
		t.Fatalf("states %v", states)
	}

	// since (inclusive) and three a page, passing next back as until
	// (exclusive): the six newest, in two pages.
	q := url.Values{"projectId": {"web"}, "teamId": {"team_1"}, "limit": {"3"}, "since": {strconv.FormatInt(h[4].UpdatedAt.UnixMilli(), 10)}}
	var got []map[string]any
	pages := 0
	for {
		pages++
		resp, page := vercelDeployments(t, sim, tok, q)
		if resp.StatusCode != 200 || page.Pagination.Count != len(page.Deployments) || (page.Pagination.Prev != nil) != (pages > 1) {
			t.Fatalf("page %d: %d %+v", pages, resp.StatusCode, page.Pagination)
		}
		got = append(got, page.Deployments...)
		if page.Pagination.Next == nil {
			break
		}
		if *page.Pagination.Next != int64(page.Deployments[len(page.Deployments)-1]["created"].(float64)) {
			t.Fatalf("next %d is not the last created", *page.Pagination.Next)
		}
		q.Set("until", strconv.FormatInt(*page.Pagination.Next, 10))
	}
	if len(got) != 6 || pages != 2 {
		t.Fatalf("%d deployments in %d pages", len(got), pages)
	}
	for i, d := range got {
		if d["uid"] != h[9-i].ID {
			t.Fatalf("deployment %d: %v, want %v", i, d["uid"], h[9-i].ID)
		}
	}
	// until alone: the ones created strictly before.
	_, page = vercelDeployments(t, sim, tok, url.Values{"projectId": {"prj_1"}, "teamId": {"team_1"}, "until": {strconv.FormatInt(h[2].UpdatedAt.UnixMilli(), 10)}})
	if len(page.Deployments) != 2 || page.Deployments[0]["uid"] != h[1].ID || page.Pagination.Prev == nil {
		t.Fatalf("until: %v", page)
	}

	// Without projectId: every project of the account, newest first, with
	// distinct times, so until-paging loses none.
	q = url.Values{"teamId": {"team_1"}, "limit": {"7"}}
	seen := map[any]bool{}
	last := int64(1 << 62)
	for {
		_, page := vercelDeployments(t, sim, tok, q)
		for _, d := range page.Deployments {
			c := int64(d["created"].(float64))
			if c >= last || seen[d["uid"]] {
				t.Fatalf("order or repeat at %v", d)
			}
			last, seen[d["uid"]] = c, true
		}
		if page.Pagination.Next == nil {
			break
		}
		q.Set("until", strconv.FormatInt(*page.Pagination.Next, 10))
	}
	if len(seen) != 20 {
		t.Fatalf("account listing: %d", len(seen))
	}

	// Refusals, in Vercel's shape.
	for _, tt := range []struct {
		name, token string
		q           url.Values
		code        int
		errCode     string
	}{
		{"bad token", "vca_nope", url.Values{"projectId": {"prj_1"}, "teamId": {"team_1"}}, 403, "forbidden"},
		{"no teamId", tok, url.Values{"projectId": {"prj_1"}}, 403, "forbidden"},
		{"another account's project", tok, url.Values{"projectId": {"prj_9"}, "teamId": {"team_1"}}, 404, "not_found"},
		{"limit too high", tok, url.Values{"projectId": {"prj_1"}, "teamId": {"team_1"}, "limit": {"101"}}, 400, "bad_request"},
		{"since not a number", tok, url.Values{"projectId": {"prj_1"}, "teamId": {"team_1"}, "since": {"yesterday"}}, 400, "bad_request"},
		{"until negative", tok, url.Values{"projectId": {"prj_1"}, "teamId": {"team_1"}, "until": {"-1"}}, 400, "bad_request"},
	} {
		resp, page := vercelDeployments(t, sim, tt.token, tt.q)
		if resp.StatusCode != tt.code || page.Error == nil || page.Error.Code != tt.errCode || page.Error.InvalidToken != (tt.name == "bad token") {
			t.Errorf("%s: %d %+v", tt.name, resp.StatusCode, page.Error)
		}
	}

	// Injected failures, then the rate limit: past it, 429 rate_limited.
	sim.FailNext("list-deployments", 503, 1)
	ok := url.Values{"projectId": {"prj_1"}, "teamId": {"team_1"}}
	if resp, _ := vercelDeployments(t, sim, tok, ok); resp.StatusCode != 503 {
		t.Fatalf("injected: %d", resp.StatusCode)
	}
	sim.RateLimitNext("list-deployments", 1, 3*time.Second)
	req, _ := http.NewRequest("GET", sim.URL()+"/v6/deployments?"+ok.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("RateLimitNext: %d %v", resp.StatusCode, resp.Header)
	}
	sim.SetRateLimit(1, time.Hour)
	if resp, _ := vercelDeployments(t, sim, tok, ok); resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Limit") != "1" ||
		resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("within the limit: %d %v", resp.StatusCode, resp.Header)
	}
	resp, page = vercelDeployments(t, sim, tok, ok)
	reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
	if resp.StatusCode != 429 || page.Error == nil || page.Error.Code != "rate_limited" || resp.Header.Get("X-RateLimit-Remaining") != "0" ||
		time.Until(time.Unix(reset, 0)) < 30*time.Minute || sim.OverLimit() != 1 {
		t.Fatalf("over the limit: %d %v %+v, %d", resp.StatusCode, resp.Header, page.Error, sim.OverLimit())
	}
	// The limit is shared by the API's endpoints.
	req, _ = http.NewRequest("GET", sim.URL()+"/v9/projects?teamId=team_1", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 429 {
		t.Fatalf("projects over the limit: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if sim.Calls("list-deployments") != 17 {
		t.Fatalf("calls %d", sim.Calls("list-deployments"))
	}
}
