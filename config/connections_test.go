package config_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/relayhq/relay/config"
)

var (
	keyHexA = strings.Repeat("ab", 32)
	keyHexB = strings.Repeat("cd", 32)
)

// testKeys are the private keys the tests put in private_key, PEM-encoded.
type testKeys struct {
	rsa          *rsa.PrivateKey
	pkcs1, pkcs8 string // the RSA key both ways
	ec8, ecSEC1  string // an ECDSA key as PKCS#8 and as "EC PRIVATE KEY"
	ed8          string // an Ed25519 key as PKCS#8
}

var (
	keysOnce sync.Once
	keys     testKeys
)

// newTestKeys generates the keys once for the package's tests.
func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(rk)
		if err != nil {
			panic(err)
		}
		ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ec8, _ := x509.MarshalPKCS8PrivateKey(ek)
		sec1, _ := x509.MarshalECPrivateKey(ek)
		_, edk, _ := ed25519.GenerateKey(rand.Reader)
		ed8, _ := x509.MarshalPKCS8PrivateKey(edk)
		keys = testKeys{rsa: rk,
			pkcs1: pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), pkcs8: pemOf("PRIVATE KEY", pkcs8),
			ec8: pemOf("PRIVATE KEY", ec8), ecSEC1: pemOf("EC PRIVATE KEY", sec1), ed8: pemOf("PRIVATE KEY", ed8)}
	})
	return keys
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// withApp returns m plus the GitHub App settings other than the key.
func withApp(m map[string]string) map[string]string {
	out := map[string]string{"RELAY_PROVIDERS_GITHUB_APP_ID": "123", "RELAY_PROVIDERS_GITHUB_APP_SLUG": "relay-test"}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestConnectionDefaults(t *testing.T) {
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers
	for _, tc := range []struct{ key, got, want string }{
		{"providers.github.api_url", p.GitHub.APIURL, "https://api.github.com"},
		{"providers.github.web_url", p.GitHub.WebURL, "https://github.com"},
		{"providers.linear.api_url", p.Linear.APIURL, "https://api.linear.app"},
		{"providers.linear.web_url", p.Linear.WebURL, "https://linear.app"},
		{"providers.sentry.api_url", p.Sentry.APIURL, "https://sentry.io"},
		{"providers.sentry.web_url", p.Sentry.WebURL, "https://sentry.io"},
		{"providers.vercel.api_url", p.Vercel.APIURL, "https://api.vercel.com"},
		{"providers.vercel.web_url", p.Vercel.WebURL, "https://vercel.com"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}
	if len(c.Encryption.Keys) != 0 {
		t.Errorf("encryption.keys = %v, want none (a generated key file)", c.Encryption.Keys)
	}
	if p.GitHub.ConnectConfigured() || p.Linear.ConnectConfigured() || p.Sentry.ConnectConfigured() || p.Vercel.ConnectConfigured() {
		t.Error("a connect flow is configured by default")
	}
}

// TestConnectionEnv sets every connection key from the environment.
func TestConnectionEnv(t *testing.T) {
	k := newTestKeys(t)
	c, err := config.Load("", env(map[string]string{
		"RELAY_ENCRYPTION_KEYS":                 keyHexA + ", " + keyHexB,
		"RELAY_PUBLIC_URL":                      "https://relay.example.com/",
		"RELAY_PROVIDERS_GITHUB_APP_ID":         "123",
		"RELAY_PROVIDERS_GITHUB_APP_SLUG":       "relay-test",
		"RELAY_PROVIDERS_GITHUB_CLIENT_ID":      "Iv1.abc",
		"RELAY_PROVIDERS_GITHUB_CLIENT_SECRET":  "gh-client-secret",
		"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY":    k.pkcs1,
		"RELAY_PROVIDERS_GITHUB_API_URL":        "https://ghes.example.com/api/v3",
		"RELAY_PROVIDERS_GITHUB_WEB_URL":        "https://ghes.example.com",
		"RELAY_PROVIDERS_LINEAR_WEBHOOK_SECRET": "lin-webhook-secret",
		"RELAY_PROVIDERS_LINEAR_CLIENT_ID":      "lin-client",
		"RELAY_PROVIDERS_LINEAR_CLIENT_SECRET":  "lin-client-secret",
		"RELAY_PROVIDERS_LINEAR_API_URL":        "http://127.0.0.1:9001",
		"RELAY_PROVIDERS_LINEAR_WEB_URL":        "http://127.0.0.1:9001/web",
		"RELAY_PROVIDERS_SENTRY_CLIENT_ID":      "sentry-client",
		"RELAY_PROVIDERS_SENTRY_CLIENT_SECRET":  "sentry-client-secret",
		"RELAY_PROVIDERS_SENTRY_SLUG":           "relay-sentry",
		"RELAY_PROVIDERS_SENTRY_API_URL":        "https://sentry.example.com",
		"RELAY_PROVIDERS_SENTRY_WEB_URL":        "https://sentry.example.com",
		"RELAY_PROVIDERS_VERCEL_CLIENT_ID":      "oac_vercel",
		"RELAY_PROVIDERS_VERCEL_CLIENT_SECRET":  "vercel-client-secret",
		"RELAY_PROVIDERS_VERCEL_SLUG":           "relay-vercel",
		"RELAY_PROVIDERS_VERCEL_API_URL":        "https://vercel-api.example.com",
		"RELAY_PROVIDERS_VERCEL_WEB_URL":        "https://vercel.example.com",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Providers{
		GitHub: config.GitHub{AppID: "123", AppSlug: "relay-test", ClientID: "Iv1.abc", ClientSecret: "gh-client-secret",
			PrivateKey: k.pkcs1, APIURL: "https://ghes.example.com/api/v3", WebURL: "https://ghes.example.com"},
		Linear: config.Linear{WebhookSecret: "lin-webhook-secret", TimestampTolerance: d("60s"), ClientID: "lin-client",
			ClientSecret: "lin-client-secret", APIURL: "http://127.0.0.1:9001", WebURL: "http://127.0.0.1:9001/web"},
		Sentry: config.Sentry{ClientID: "sentry-client", ClientSecret: "sentry-client-secret", Slug: "relay-sentry",
			APIURL: "https://sentry.example.com", WebURL: "https://sentry.example.com"},
		Vercel: config.Vercel{ClientID: "oac_vercel", ClientSecret: "vercel-client-secret", Slug: "relay-vercel",
			APIURL: "https://vercel-api.example.com", WebURL: "https://vercel.example.com"},
		Bridge:  config.Bridge{APIURL: "https://api.bridge.xyz", TimestampTolerance: d("10m")},
		Persona: config.Persona{APIURL: "https://withpersona.com", TimestampTolerance: d("5m"), EmailField: "email-address"},
	}
	if !reflect.DeepEqual(c.Providers, want) {
		t.Errorf("providers = %+v\nwant %+v", c.Providers, want)
	}
	if !reflect.DeepEqual(c.Encryption.Keys, []string{keyHexA, keyHexB}) {
		t.Errorf("encryption.keys = %v", c.Encryption.Keys)
	}
	if c.BaseURL() != "https://relay.example.com" {
		t.Errorf("BaseURL = %q, want the trailing slash dropped", c.BaseURL())
	}
	p := c.Providers
	if !p.GitHub.ConnectConfigured() || !p.Linear.ConnectConfigured() || !p.Sentry.ConnectConfigured() || !p.Vercel.ConnectConfigured() {
		t.Errorf("connect flows not all configured: %+v", p)
	}
}

func TestEncryptionKeysFromFile(t *testing.T) {
	c, err := config.Load(writeFile(t, "encryption:\n  keys: ["+keyHexA+", "+strings.ToUpper(keyHexB)+"]\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Encryption.Keys, []string{keyHexA, strings.ToUpper(keyHexB)}) {
		t.Errorf("keys = %v", c.Encryption.Keys)
	}
	// The environment replaces the whole list.
	c, err = config.Load(writeFile(t, "encryption:\n  keys: ["+keyHexA+"]\n"), env(map[string]string{"RELAY_ENCRYPTION_KEYS": keyHexB}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Encryption.Keys, []string{keyHexB}) {
		t.Errorf("keys = %v, want the environment's", c.Encryption.Keys)
	}
}

// TestGitHubPrivateKey: PKCS#1 and PKCS#8 RSA keys are accepted, inline,
// from a file, or with their line breaks written \n; RSAKey returns them.
func TestGitHubPrivateKey(t *testing.T) {
	k := newTestKeys(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(file, []byte(k.pkcs8), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, vars := range map[string]map[string]string{
		"PKCS#1":         {"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs1},
		"PKCS#8":         {"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs8},
		"escaped breaks": {"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": strings.ReplaceAll(strings.TrimSpace(k.pkcs1), "\n", `\n`)},
		"file":           {"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY_FILE": file},
	} {
		c, err := config.Load("", env(withClient(withApp(vars))))
		if err != nil {
			t.Errorf("%s: rejected: %v", name, err)
			continue
		}
		got, err := c.Providers.GitHub.RSAKey()
		if err != nil || !got.Equal(k.rsa) {
			t.Errorf("%s: RSAKey: %v", name, err)
		}
		if !c.Providers.GitHub.ConnectConfigured() {
			t.Errorf("%s: connect flow not configured", name)
		}
	}
}

// TestConnectionErrors: every rejected connection setting is reported
// naming its key, and no message shows a key or a secret.
func TestConnectionErrors(t *testing.T) {
	k := newTestKeys(t)
	badFile := filepath.Join(t.TempDir(), "ec.pem")
	if err := os.WriteFile(badFile, []byte(k.ec8), 0o600); err != nil {
		t.Fatal(err)
	}
	// a PKCS#1 header around bytes that are not a key
	junk := pemOf("RSA PRIVATE KEY", []byte("hunter2 is not DER"))
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		want []string
	}{
		// encryption.keys
		{name: "key short", env: map[string]string{"RELAY_ENCRYPTION_KEYS": keyHexA + "," + keyHexB[:62]},
			want: []string{"config: encryption.keys[1]: must be 64 hex characters (32 bytes), not 62 characters"}},
		{name: "key 63 chars", env: map[string]string{"RELAY_ENCRYPTION_KEYS": keyHexA[:63]},
			want: []string{"config: encryption.keys[0]: must be 64 hex characters (32 bytes), not 63 characters"}},
		{name: "key not hex", file: "encryption:\n  keys: [" + keyHexA + ", " + strings.Repeat("zz", 32) + "]\n",
			want: []string{"config: encryption.keys[1]: must be 64 hex characters (32 bytes); it has a character that is not 0-9 or a-f"}},
		{name: "key repeated", env: map[string]string{"RELAY_ENCRYPTION_KEYS": keyHexA + "," + keyHexB + "," + strings.ToUpper(keyHexA)},
			want: []string{"config: encryption.keys[2]: the same key as [0]"}},
		{name: "keys indexed", env: map[string]string{"RELAY_ENCRYPTION_KEYS_0": keyHexA},
			want: []string{"config: RELAY_ENCRYPTION_KEYS_0: a list of values is set by one comma-separated variable, RELAY_ENCRYPTION_KEYS"}},

		// public_url
		{name: "public_url relative", env: map[string]string{"RELAY_PUBLIC_URL": "relay.example.com"},
			want: []string{"config: public_url: must be an absolute http:// or https:// URL"}},
		{name: "public_url scheme", env: map[string]string{"RELAY_PUBLIC_URL": "ftp://relay.example.com"},
			want: []string{"config: public_url: must be an absolute http:// or https:// URL"}},
		{name: "public_url path", env: map[string]string{"RELAY_PUBLIC_URL": "https://relay.example.com/relay/"},
			want: []string{`config: public_url: must be a scheme and host only, without a path ("/relay/")`}},
		{name: "public_url query", env: map[string]string{"RELAY_PUBLIC_URL": "https://relay.example.com?x=1"},
			want: []string{"config: public_url: must be a scheme and host only, without a query or fragment"}},
		{name: "public_url fragment", env: map[string]string{"RELAY_PUBLIC_URL": "https://relay.example.com/#x"},
			want: []string{"config: public_url: must be a scheme and host only, without a query or fragment"}},
		{name: "public_url user", env: map[string]string{"RELAY_PUBLIC_URL": "https://admin:hunter2@relay.example.com"},
			want: []string{"config: public_url: must not contain a user name or password"}},

		// api_url, web_url
		{name: "github api_url", env: map[string]string{"RELAY_PROVIDERS_GITHUB_API_URL": "api.github.com"},
			want: []string{"config: providers.github.api_url: must be an absolute http:// or https:// URL"}},
		{name: "github web_url", file: "providers:\n  github: {web_url: ''}\n",
			want: []string{"config: providers.github.web_url: must be an absolute http:// or https:// URL"}},
		{name: "linear api_url", env: map[string]string{"RELAY_PROVIDERS_LINEAR_API_URL": "ftp://api.linear.app"},
			want: []string{"config: providers.linear.api_url: must be an absolute"}},
		{name: "linear web_url", env: map[string]string{"RELAY_PROVIDERS_LINEAR_WEB_URL": "/linear"},
			want: []string{"config: providers.linear.web_url: must be an absolute"}},
		{name: "sentry api_url", env: map[string]string{"RELAY_PROVIDERS_SENTRY_API_URL": "sentry.io"},
			want: []string{"config: providers.sentry.api_url: must be an absolute"}},
		{name: "sentry web_url", env: map[string]string{"RELAY_PROVIDERS_SENTRY_WEB_URL": "https://"},
			want: []string{"config: providers.sentry.web_url: must be an absolute"}},
		{name: "vercel api_url", env: map[string]string{"RELAY_PROVIDERS_VERCEL_API_URL": "api.vercel.com"},
			want: []string{"config: providers.vercel.api_url: must be an absolute"}},
		{name: "vercel web_url", env: map[string]string{"RELAY_PROVIDERS_VERCEL_WEB_URL": "vercel.com"},
			want: []string{"config: providers.vercel.web_url: must be an absolute"}},

		// OAuth clients
		{name: "github client_secret", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs8, "RELAY_PROVIDERS_GITHUB_CLIENT_ID": "Iv1.x"}),
			want: []string{"config: providers.github.client_secret: required with client_id"}},
		{name: "github client_id", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs8, "RELAY_PROVIDERS_GITHUB_CLIENT_SECRET": "hunter2"}),
			want: []string{"config: providers.github.client_id: required with client_secret"}},
		{name: "linear client_secret", env: map[string]string{"RELAY_PROVIDERS_LINEAR_WEBHOOK_SECRET": "w", "RELAY_PROVIDERS_LINEAR_CLIENT_ID": "c"},
			want: []string{"config: providers.linear.client_secret: required with client_id"}},
		{name: "linear client_id", env: map[string]string{"RELAY_PROVIDERS_LINEAR_WEBHOOK_SECRET": "w", "RELAY_PROVIDERS_LINEAR_CLIENT_SECRET": "hunter2"},
			want: []string{"config: providers.linear.client_id: required with client_secret"}},
		{name: "linear webhook_secret", env: map[string]string{"RELAY_PROVIDERS_LINEAR_CLIENT_ID": "c", "RELAY_PROVIDERS_LINEAR_CLIENT_SECRET": "hunter2"},
			want: []string{"config: providers.linear.webhook_secret: required with the Linear connect flow"}},
		{name: "sentry client_secret", env: map[string]string{"RELAY_PROVIDERS_SENTRY_CLIENT_ID": "c", "RELAY_PROVIDERS_SENTRY_SLUG": "s"},
			want: []string{"config: providers.sentry.client_secret: required with client_id"}},
		{name: "sentry slug", env: map[string]string{"RELAY_PROVIDERS_SENTRY_CLIENT_ID": "c", "RELAY_PROVIDERS_SENTRY_CLIENT_SECRET": "hunter2"},
			want: []string{"config: providers.sentry.slug: required for the Sentry connect flow"}},
		{name: "vercel client_secret", env: map[string]string{"RELAY_PROVIDERS_VERCEL_CLIENT_ID": "c", "RELAY_PROVIDERS_VERCEL_SLUG": "s"},
			want: []string{"config: providers.vercel.client_secret: required with client_id"}},
		{name: "vercel slug", env: map[string]string{"RELAY_PROVIDERS_VERCEL_CLIENT_ID": "c", "RELAY_PROVIDERS_VERCEL_CLIENT_SECRET": "hunter2"},
			want: []string{"config: providers.vercel.slug: required for the Vercel connect flow"}},

		// the GitHub App
		{name: "app_id", env: map[string]string{"RELAY_PROVIDERS_GITHUB_APP_SLUG": "s", "RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs8},
			want: []string{"config: providers.github.app_id: required for the GitHub App connect flow"}},
		{name: "app_slug", env: map[string]string{"RELAY_PROVIDERS_GITHUB_APP_ID": "1", "RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs8},
			want: []string{"config: providers.github.app_slug: required for the GitHub App connect flow"}},
		{name: "app from client only", env: map[string]string{"RELAY_PROVIDERS_GITHUB_CLIENT_ID": "Iv1.x", "RELAY_PROVIDERS_GITHUB_CLIENT_SECRET": "hunter2"},
			want: []string{"config: providers.github.app_id: required", "config: providers.github.app_slug: required", "config: providers.github.private_key: required"}},
		{name: "private_key missing", env: withApp(nil),
			want: []string{"config: providers.github.private_key: required for the GitHub App connect flow (or private_key_file)"}},
		{name: "private_key and file", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.pkcs8, "RELAY_PROVIDERS_GITHUB_PRIVATE_KEY_FILE": badFile}),
			want: []string{"config: providers.github.private_key: set private_key or private_key_file, not both"}},
		{name: "private_key not PEM", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": "hunter2"}),
			want: []string{"config: providers.github.private_key: must be a PEM-encoded RSA private key"}},
		{name: "private_key PKCS#8 EC", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.ec8}),
			want: []string{"config: providers.github.private_key: holds an ECDSA key; GitHub App private keys are RSA"}},
		{name: "private_key PKCS#8 Ed25519", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.ed8}),
			want: []string{"config: providers.github.private_key: holds an Ed25519 key; GitHub App private keys are RSA"}},
		{name: "private_key SEC1 EC", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": k.ecSEC1}),
			want: []string{`config: providers.github.private_key: a PEM block of type "EC PRIVATE KEY"; expected RSA PRIVATE KEY (PKCS#1) or PRIVATE KEY (PKCS#8)`}},
		{name: "private_key bad PKCS#1", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": junk}),
			want: []string{"config: providers.github.private_key: the RSA PRIVATE KEY block is not a valid PKCS#1 RSA private key"}},
		{name: "private_key bad PKCS#8", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": strings.Replace(junk, "RSA PRIVATE KEY", "PRIVATE KEY", 2)}),
			want: []string{"config: providers.github.private_key: the PRIVATE KEY block is not a valid PKCS#8 private key"}},
		{name: "private_key_file missing", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY_FILE": "/nonexistent/key.pem"}),
			want: []string{"config: providers.github.private_key_file: cannot read the key file: no such file or directory"}},
		{name: "private_key_file EC", env: withApp(map[string]string{"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY_FILE": badFile}),
			want: []string{"config: providers.github.private_key_file: holds an ECDSA key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			c, err := config.Load(path, env(tc.env))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			secrets := []string{"hunter2", keyHexA[:16], keyHexB[:16], strings.ToUpper(keyHexA[:16]), "zzzz"}
			for _, p := range []string{k.pkcs1, k.pkcs8, k.ec8, k.ecSEC1, k.ed8} {
				secrets = append(secrets, strings.Split(p, "\n")[1][:20]) // the key material's first bytes
			}
			for _, secret := range secrets {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a key or secret (%q): %v", secret, err)
				}
			}
		})
	}
}
