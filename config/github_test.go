package config_test

import (
	"strings"
	"testing"

	"github.com/relayhq/relay/config"
)

// withClient returns m plus the GitHub App's OAuth client.
func withClient(m map[string]string) map[string]string {
	out := map[string]string{"RELAY_PROVIDERS_GITHUB_CLIENT_ID": "Iv1.abc", "RELAY_PROVIDERS_GITHUB_CLIENT_SECRET": "gh-client-secret"}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestGitHubConnectNeedsClient: the GitHub App connect flow verifies
// installations with the App's OAuth client, so client_id and
// client_secret are required with it, unless
// allow_unverified_installations is on.
func TestGitHubConnectNeedsClient(t *testing.T) {
	k := newTestKeys(t)
	app := withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs8})

	_, err := config.Load("", env(app))
	for _, want := range []string{
		"config: providers.github.client_id: required for the GitHub App connect flow",
		"config: providers.github.client_secret: required for the GitHub App connect flow",
		"allow_unverified_installations",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no OAuth client: %v, want %q", err, want)
		}
	}

	c, err := config.Load("", env(withClient(app)))
	if err != nil || !c.Providers.GitHub.ConnectConfigured() || c.Providers.GitHub.AllowUnverifiedInstallations {
		t.Fatalf("with the OAuth client: %+v %v", c, err)
	}

	// The escape hatch, from the environment or the file.
	hatch := withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs8, "RELAY_PROVIDERS_GITHUB_ALLOW_UNVERIFIED_INSTALLATIONS": "true"})
	c, err = config.Load("", env(hatch))
	if err != nil || !c.Providers.GitHub.AllowUnverifiedInstallations || !c.Providers.GitHub.ConnectConfigured() {
		t.Fatalf("escape hatch from the environment: %+v %v", c, err)
	}
	c, err = config.Load(writeFile(t, "providers:\n  github: {allow_unverified_installations: true}\n"), env(withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs8})))
	if err != nil || !c.Providers.GitHub.AllowUnverifiedInstallations || !c.Providers.GitHub.ConnectConfigured() {
		t.Fatalf("escape hatch from the file: %+v %v", c, err)
	}
	if _, err := config.Load("", env(map[string]string{"RELAY_PROVIDERS_GITHUB_ALLOW_UNVERIFIED_INSTALLATIONS": "maybe"})); err == nil ||
		!strings.Contains(err.Error(), "RELAY_PROVIDERS_GITHUB_ALLOW_UNVERIFIED_INSTALLATIONS") {
		t.Fatalf("not a bool: %v", err)
	}

	// ConnectConfigured alone, as buildConnectors asks it.
	for _, tc := range []struct {
		g    config.GitHub
		want bool
	}{
		{config.GitHub{AppID: "1", AppSlug: "s", PrivateKey: "pem", ClientID: "c", ClientSecret: "x"}, true},
		{config.GitHub{AppID: "1", AppSlug: "s", PrivateKey: "pem"}, false},
		{config.GitHub{AppID: "1", AppSlug: "s", PrivateKey: "pem", ClientID: "c"}, false},
		{config.GitHub{AppID: "1", AppSlug: "s", PrivateKeyFile: "f", AllowUnverifiedInstallations: true}, true},
		{config.GitHub{AppSlug: "s", PrivateKey: "pem", ClientID: "c", ClientSecret: "x"}, false},
	} {
		if got := tc.g.ConnectConfigured(); got != tc.want {
			t.Errorf("ConnectConfigured(%+v) = %v, want %v", tc.g, got, tc.want)
		}
	}
}
