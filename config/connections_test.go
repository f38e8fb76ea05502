package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/relayhq/relay/config"
)

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestConnectionSettings(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	good := strings.Repeat("ab", 32)

	for _, pk := range []string{pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), pemOf("PRIVATE KEY", pkcs8)} {
		c, err := config.Load("", env(map[string]string{
			"RELAY_PROVIDERS_GITHUB_APP_ID": "123", "RELAY_PROVIDERS_GITHUB_APP_SLUG": "relay-test",
			"RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": pk, "RELAY_ENCRYPTION_KEYS": good + "," + strings.Repeat("cd", 32),
		}))
		if err != nil {
			t.Fatalf("valid settings rejected: %v", err)
		}
		if k, err := c.Providers.GitHub.RSAKey(); err != nil || k.N.Cmp(rsaKey.N) != 0 || !c.Providers.GitHub.ConnectConfigured() {
			t.Fatalf("RSA key: %v", err)
		}
		if len(c.Encryption.Keys) != 2 {
			t.Fatalf("keys %d", len(c.Encryption.Keys))
		}
	}

	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"short key":        {map[string]string{"RELAY_ENCRYPTION_KEYS": good + "," + good[:62]}, "encryption.keys[1]: must be 64 hex characters"},
		"dup key":          {map[string]string{"RELAY_ENCRYPTION_KEYS": good + "," + good}, "encryption.keys[1]: the same key as [0]"},
		"ec key":           {map[string]string{"RELAY_PROVIDERS_GITHUB_APP_ID": "1", "RELAY_PROVIDERS_GITHUB_APP_SLUG": "s", "RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": pemOf("PRIVATE KEY", ec8)}, "providers.github.private_key: a PKCS#8 *ecdsa.PrivateKey key"},
		"not pem":          {map[string]string{"RELAY_PROVIDERS_GITHUB_APP_ID": "1", "RELAY_PROVIDERS_GITHUB_APP_SLUG": "s", "RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": "hunter2"}, "providers.github.private_key: must be a PEM-encoded RSA private key"},
		"no app id":        {map[string]string{"RELAY_PROVIDERS_GITHUB_APP_SLUG": "s", "RELAY_PROVIDERS_GITHUB_PRIVATE_KEY": pemOf("PRIVATE KEY", pkcs8)}, "providers.github.app_id: required"},
		"bad api url":      {map[string]string{"RELAY_PROVIDERS_LINEAR_API_URL": "api.linear.app"}, "providers.linear.api_url: must be an absolute"},
		"linear no secret": {map[string]string{"RELAY_PROVIDERS_LINEAR_CLIENT_ID": "c", "RELAY_PROVIDERS_LINEAR_CLIENT_SECRET": "s"}, "providers.linear.webhook_secret: required with the Linear connect flow"},
		"no key file":      {map[string]string{"RELAY_PROVIDERS_GITHUB_APP_ID": "1", "RELAY_PROVIDERS_GITHUB_APP_SLUG": "s", "RELAY_PROVIDERS_GITHUB_PRIVATE_KEY_FILE": "/nonexistent/key.pem"}, "providers.github.private_key_file: cannot read the key file"},
	} {
		_, err := config.Load("", env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), good[:20]) || strings.Contains(err.Error(), "hunter2")) {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
}
