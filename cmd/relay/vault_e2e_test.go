package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/simulator"
	"github.com/relayhq/relay/sqlite"
	"github.com/relayhq/relay/vault"
)

// serveOnce runs `relay serve` with args added and reports either the
// address it listens on (stop ends it) or the error it refused to start
// with.
func serveOnce(t *testing.T, args []string, getenv func(string) string) (base string, stop func(), err error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"relay", "serve", "--addr", "127.0.0.1:0"}, args...), getenv,
			strings.NewReader(""), out, io.Discard)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(out.String()); m != nil {
			return m[1], func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}, nil
		}
		select {
		case err := <-done:
			cancel()
			if err == nil {
				err = errors.New("serve returned without listening")
			}
			return "", nil, err
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("relay serve neither listened nor failed\nstdout: %s", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// githubConnectConfig is a configuration with GitHub connections to sim and
// no encryption.keys: the vault key lives in the data dir.
func githubConnectConfig(t *testing.T, sim *simulator.GitHub, dataDir string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
admin_api_key: %q
connect: {allowed_return_origins: ["https://app.example"]}
log_level: warn
data_dir: %q
providers:
  github:
    webhook_secret: s
%s
`, testAdminKey, dataDir, githubAppYAML(sim))
	path := filepath.Join(t.TempDir(), "relay.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func noEnv(string) string { return "" }

// TestStartRefusesWhenNoKeyOpensStoredTokens: a token sealed under the
// generated key; with the key file gone, Relay refuses to start, names the
// missing key id and where keys come from, and does not generate a new key
// (which would open nothing and hide the loss).
func TestStartRefusesWhenNoKeyOpensStoredTokens(t *testing.T) {
	sim := simulator.NewGitHub(nil)
	defer sim.Close()
	sim.AddInstallation(simulator.GitHubInstallation{ID: 77, Login: "octo"})
	dataDir := filepath.Join(t.TempDir(), "data")
	cfgPath := githubConnectConfig(t, sim, dataDir)

	base, stop, err := serveOnce(t, []string{"--config", cfgPath}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	apiCall(t, "POST", base+"/api/v1/orgs", testAdminKey, map[string]string{"id": "acme"}, nil)
	connectGitHub(t, base, testAdminKey, "acme", sim, 77)
	stop()

	keyPath := filepath.Join(dataDir, "relay.key")
	b, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := vault.ParseKeys([]string{string(b)})
	if err != nil {
		t.Fatal(err)
	}
	key := keys[0]
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	_, stop, err = serveOnce(t, []string{"--config", cfgPath}, noEnv)
	if err == nil {
		stop()
		t.Fatal("Relay started without the key that sealed the stored tokens")
	}
	for _, want := range []string{vault.KeyID(key), "encryption.keys", keyPath} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a new key file was generated: %v", err)
	}

	// A configured key that is not the one either: refused the same way.
	other := strings.Repeat("c3", 32)
	_, stop, err = serveOnce(t, []string{"--config", cfgPath}, func(k string) string {
		if k == "RELAY_ENCRYPTION_KEYS" {
			return other
		}
		return ""
	})
	if err == nil {
		stop()
		t.Fatal("Relay started with a configured key that opens no stored token")
	}
	if !strings.Contains(err.Error(), vault.KeyID(key)) {
		t.Errorf("error %q does not name key %s", err, vault.KeyID(key))
	}
}

// TestDataDirMustBePrivate: a data dir that group or others may read is
// refused with the chmod that fixes it; a new one is created 0700.
func TestDataDirMustBePrivate(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, stop, err := serveOnce(t, []string{"--data-dir", dataDir}, noEnv)
	if err == nil {
		stop()
		t.Fatal("Relay started on a data dir readable by others")
	}
	if !strings.Contains(err.Error(), "chmod 700 "+dataDir) {
		t.Fatalf("error %q does not say how to fix it", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "relay.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the database was created in the refused data dir: %v", err)
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	_, stop, err = serveOnce(t, []string{"--data-dir", fresh}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("new data dir: %v %v", fi.Mode().Perm(), err)
	}
}

// TestDestinationSecretsAreSealed: no destination signing secret is found
// in clear in the data dir — not one created through the API, nor one
// stored in clear by an earlier version (sealed at start).
func TestDestinationSecretsAreSealed(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	legacy := relay.NewSecret()
	store, err := sqlite.Open(filepath.Join(dataDir, "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := &relay.Destination{ID: relay.NewID("dst", now), Name: "old", URL: "http://127.0.0.1:9/old", Secret: legacy,
		CreatedAt: now, UpdatedAt: now}
	if err := old.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := store.CreateDestination(ctx, old); err != nil {
		t.Fatal(err)
	}
	store.Close()

	env := func(k string) string {
		if k == "RELAY_ADMIN_API_KEY" {
			return testAdminKey
		}
		return ""
	}
	base, stop, err := serveOnce(t, []string{"--data-dir", dataDir}, env)
	if err != nil {
		t.Fatal(err)
	}
	var created relay.Destination
	if code := apiCall(t, "POST", base+"/api/v1/destinations", testAdminKey,
		map[string]string{"name": "app", "url": "http://127.0.0.1:9/app"}, &created); code != 201 || created.Secret == "" {
		t.Fatalf("create destination: %d %+v", code, created)
	}
	stop()

	for _, secret := range []string{legacy, created.Secret} {
		raw := strings.TrimPrefix(secret, relay.SecretPrefix)
		err := filepath.WalkDir(dataDir, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(raw)) {
				return fmt.Errorf("%s holds a destination secret in clear", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
