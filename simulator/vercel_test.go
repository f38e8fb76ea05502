package simulator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"

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
