package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/relayhq/relay/simulator"
)

// TestConnectionVerbs drives relay orgs and relay connections against a
// running Relay and the GitHub simulator.
func TestConnectionVerbs(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 99, Login: "octo", Repos: []simulator.GitHubRepo{{ID: 5, FullName: "octo/app"}}})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(sim.Key)})
	cfg := fmt.Sprintf(`
admin_api_key: %q
log_level: warn
providers:
  github:
    webhook_secret: s
    app_id: %q
    app_slug: %q
    api_url: %q
    web_url: %q
    private_key: |
%s
`, testAdminKey, sim.AppID, sim.AppSlug, sim.URL(), sim.URL(), "      "+strings.ReplaceAll(strings.TrimSpace(string(keyPEM)), "\n", "\n      "))
	base := startRelay(t, cfg, nil).url
	cli := func(key string, args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		env := func(k string) string {
			switch k {
			case "RELAY_URL":
				return base
			case "RELAY_API_KEY":
				return key
			}
			return ""
		}
		err := run(context.Background(), append([]string{"relay"}, args...), env, strings.NewReader(""), &out, &errOut)
		return out.String(), errOut.String(), err
	}

	if out, _, err := cli(testAdminKey, "orgs", "add", "acme", "--name", "Acme Inc"); err != nil || !strings.Contains(out, "Created org acme") {
		t.Fatalf("orgs add: %q %v", out, err)
	}
	if out, _, err := cli(testAdminKey, "orgs", "ls"); err != nil || !strings.Contains(out, "Acme Inc") {
		t.Fatalf("orgs ls: %q %v", out, err)
	}
	orgKey, stderr, err := cli(testAdminKey, "orgs", "key", "acme")
	orgKey = strings.TrimSpace(orgKey)
	if err != nil || !strings.HasPrefix(orgKey, "rk_") || !strings.Contains(stderr, "shown only now") {
		t.Fatalf("orgs key: %q %q %v", orgKey, stderr, err)
	}
	if _, _, err := cli(orgKey, "orgs", "ls"); err == nil || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("an org key listed orgs: %v", err)
	}

	// The org's own key starts its connect flow.
	authURL, _, err := cli(orgKey, "connections", "connect", "acme", "github", "--return-url", "https://app.example/done")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(strings.TrimSpace(authURL))
	q := followCallback(t, base, sim.InstallRedirect(base+"/oauth/github/callback", u.Query().Get("state"), 99, "install"))
	id := q.Get("connection_id")

	if out, _, err := cli(orgKey, "connections", "ls"); err != nil || !strings.Contains(out, id) || !strings.Contains(out, "99 (octo)") {
		t.Fatalf("connections ls: %q %v", out, err)
	}
	if out, _, err := cli(orgKey, "connections", "show", id); err != nil || !strings.Contains(out, "octo/app") || !strings.Contains(out, "active") {
		t.Fatalf("connections show: %q %v", out, err)
	}
	tok, _, err := cli(orgKey, "connections", "token", id)
	if err != nil || !sim.ValidToken(strings.TrimSpace(tok)) {
		t.Fatalf("connections token: %q %v", tok, err)
	}
	if out, _, err := cli(orgKey, "connections", "rm", id); err != nil || !strings.Contains(out, "Teardown of "+id+" started") {
		t.Fatalf("connections rm: %q %v", out, err)
	}
	if _, _, err := cli(orgKey, "connections", "show", "con_missing"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("show missing: %v", err)
	}
	if out, _, err := cli(testAdminKey, "connections", "--help"); err != nil || !strings.Contains(out, "connect") {
		t.Fatalf("help: %q %v", out, err)
	}
}
