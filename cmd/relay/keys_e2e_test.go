package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/relayhq/relay"
	relayhttp "github.com/relayhq/relay/http"
	"github.com/relayhq/relay/storetest"
)

// API keys through the real server and the CLI: org keys see and revoke
// their own org's keys only; a revoked key fails at once.
func TestAPIKeysEndToEnd(t *testing.T) { testAPIKeysEndToEnd(t, nil) }

// The same on PostgreSQL.
func TestAPIKeysEndToEndPostgres(t *testing.T) {
	testAPIKeysEndToEnd(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testAPIKeysEndToEnd(t *testing.T, env map[string]string) {
	ctx := context.Background()
	p := startRelay(t, e2eConfig(newCollector(t).URL), env)
	admin := relayhttp.NewClient(p.url, testAdminKey)
	keyOf := map[string]string{} // org → its key's secret
	idOf := map[string]string{}  // org → its key's id
	for _, org := range []string{"acme", "globex"} {
		if _, err := admin.CreateOrg(ctx, org, ""); err != nil {
			t.Fatal(err)
		}
		k, secret, err := admin.CreateOrgAPIKey(ctx, org, "")
		if err != nil {
			t.Fatal(err)
		}
		if k.Prefix == "" || !strings.HasPrefix(secret, k.Prefix) {
			t.Fatalf("org key %+v has no prefix of its secret", k)
		}
		keyOf[org], idOf[org] = secret, k.ID
	}
	acme, globex := relayhttp.NewClient(p.url, keyOf["acme"]), relayhttp.NewClient(p.url, keyOf["globex"])

	// globex sees its key only, and cannot revoke acme's.
	mine, err := globex.ListAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || mine[0].ID != idOf["globex"] {
		t.Fatalf("globex lists %+v", mine)
	}
	if err := globex.RevokeAPIKey(ctx, idOf["acme"]); relay.ErrorCode(err) != relay.ENOTFOUND {
		t.Fatalf("globex revoking acme's key: %v, want ENOTFOUND", err)
	}
	if out, _, err := keysCLI(p.url, keyOf["globex"], "keys", "revoke", idOf["acme"]); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Fatalf("relay keys revoke of another org's key: %v %s, want not found", err, out)
	}
	if _, err := acme.ListAPIKeys(ctx); err != nil {
		t.Fatalf("acme's key after globex tried to revoke it: %v", err)
	}

	// The admin lists every key, from the CLI too.
	out, _, err := keysCLI(p.url, testAdminKey, "keys", "ls")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{idOf["acme"], idOf["globex"], "admin (config)", "PREFIX", "LAST USED"} {
		if !strings.Contains(out, want) {
			t.Errorf("relay keys ls does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, keyOf["acme"]) {
		t.Errorf("relay keys ls shows a key:\n%s", out)
	}

	// acme's key, just used (cached), fails at once once revoked.
	if code := apiCall(t, http.MethodGet, p.url+"/api/v1/events", keyOf["acme"], nil, nil); code != http.StatusOK {
		t.Fatalf("acme's key: %d", code)
	}
	if _, _, err := keysCLI(p.url, testAdminKey, "keys", "revoke", idOf["acme"]); err != nil {
		t.Fatal(err)
	}
	if code := apiCall(t, http.MethodGet, p.url+"/api/v1/events", keyOf["acme"], nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d, want 401", code)
	}
	if _, err := globex.ListAPIKeys(ctx); err != nil {
		t.Fatalf("globex's key after acme's was revoked: %v", err)
	}
}

// keysCLI runs a CLI command against the Relay at base with key.
func keysCLI(base, key string, args ...string) (string, string, error) {
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

// serveIn runs `relay serve` on dataDir with configYAML and env until the
// test ends or stop is called.
func serveIn(t *testing.T, dataDir, configYAML string, env map[string]string) *relayProcess {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "relay.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &relayProcess{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	args := []string{"relay", "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--config", cfgPath}
	go func() {
		p.done <- run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), p.stdout, p.stderr)
	}()
	waitUntil(t, "relay serve to listen", func() bool {
		select {
		case err := <-p.done:
			t.Fatalf("relay serve exited early: %v\nstdout: %s\nstderr: %s", err, p.stdout, p.stderr)
		default:
		}
		m := listenRE.FindStringSubmatch(p.stdout.String())
		if m != nil {
			p.url = m[1]
		}
		return m != nil
	})
	t.Cleanup(func() { p.stop(t) })
	return p
}

var generatedKeyRE = regexp.MustCompile(`\brk_[0-9a-f]{64}\b`)

// The admin key generated at first start stops working once admin_api_key
// is configured, and the start that revokes it says so.
func TestGeneratedAdminKeyRevokedWhenKeyConfigured(t *testing.T) {
	testGeneratedAdminKeyRevoked(t, nil)
}

// The same on PostgreSQL.
func TestGeneratedAdminKeyRevokedWhenKeyConfiguredPostgres(t *testing.T) {
	testGeneratedAdminKeyRevoked(t, map[string]string{"RELAY_DATABASE_URL": storetest.PostgresSchemaURL(t)})
}

func testGeneratedAdminKeyRevoked(t *testing.T, env map[string]string) {
	dataDir := filepath.Join(t.TempDir(), "data") // created private by serve
	first := serveIn(t, dataDir, "log_level: warn\n", env)
	generated := generatedKeyRE.FindString(first.stdout.String())
	if generated == "" {
		t.Fatalf("no generated admin key printed:\n%s", first.stdout)
	}
	if code := apiCall(t, http.MethodGet, first.url+"/api/v1/api-keys", generated, nil, nil); code != http.StatusOK {
		t.Fatalf("generated key: %d", code)
	}
	first.stop(t)

	second := serveIn(t, dataDir, "log_level: warn\nadmin_api_key: "+testAdminKey+"\n", env)
	if code := apiCall(t, http.MethodGet, second.url+"/api/v1/api-keys", generated, nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("generated key after admin_api_key was set: %d, want 401", code)
	}
	var page relay.Page[*relay.APIKey]
	if code := apiCall(t, http.MethodGet, second.url+"/api/v1/api-keys", testAdminKey, nil, &page); code != http.StatusOK {
		t.Fatalf("configured key: %d", code)
	}
	if len(page.Items) != 1 || page.Items[0].Name != relay.ConfiguredAdminKeyName {
		t.Fatalf("keys %+v, want the configured one only", page.Items)
	}
	waitUntil(t, "the revocation logged", func() bool {
		return strings.Contains(second.stderr.String(), "revoked the admin API key generated at first start")
	})
	second.stop(t)

	// A restart with the same configuration revokes nothing more.
	third := serveIn(t, dataDir, "log_level: warn\nadmin_api_key: "+testAdminKey+"\n", env)
	if code := apiCall(t, http.MethodGet, third.url+"/api/v1/api-keys", testAdminKey, nil, nil); code != http.StatusOK {
		t.Fatalf("configured key after a restart: %d", code)
	}
}

// Configuring the generated key itself as admin_api_key keeps it working.
func TestGeneratedAdminKeyConfiguredKeepsWorking(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data") // created private by serve
	first := serveIn(t, dataDir, "log_level: warn\n", nil)
	generated := generatedKeyRE.FindString(first.stdout.String())
	if generated == "" {
		t.Fatalf("no generated admin key printed:\n%s", first.stdout)
	}
	first.stop(t)
	second := serveIn(t, dataDir, "log_level: warn\nadmin_api_key: "+generated+"\n", nil)
	if code := apiCall(t, http.MethodGet, second.url+"/api/v1/api-keys", generated, nil, nil); code != http.StatusOK {
		t.Fatalf("the generated key, now configured: %d, want 200", code)
	}
}

// relay keys --help explains both the API key verbs and rotate, which
// still works as before (its own help).
func TestKeysHelp(t *testing.T) {
	out, _, err := keysCLI("http://127.0.0.1:9", "", "keys", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ls", "revoke ID", "add", "rotate", "encryption.keys", "last admin key"} {
		if !strings.Contains(out, want) {
			t.Errorf("relay keys --help lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := keysCLI("http://127.0.0.1:9", "", "keys", "nope"); err == nil || !strings.Contains(err.Error(), "rotate") {
		t.Errorf("unknown sub-command: %v", err)
	}
	var errOut bytes.Buffer
	err = run(context.Background(), []string{"relay", "keys", "rotate", "--help"}, func(string) string { return "" }, strings.NewReader(""), io.Discard, &errOut)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "encryption.keys") {
		t.Errorf("relay keys rotate --help: %v\n%s", err, errOut.String())
	}
}
