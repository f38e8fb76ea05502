package main

import (
	"strings"
	"testing"

	"github.com/relayhq/relay/config"
)

// A misspelled RELAY_ variable stops the commands that load the
// configuration, naming it and the variable meant; the API verbs, which
// read no configuration, are not concerned.
func TestCheckEnvAtStart(t *testing.T) {
	environ := []string{"PATH=/bin", "RELAY_ADMIN_KEY=rk_0123456789abcdef0123456789", "RELAY_URL=http://127.0.0.1:8080"}
	for _, args := range [][]string{{"relay", "serve"}, {"relay", "migrate"}, {"relay", "keys", "rotate"}} {
		err := checkEnv(args, environ)
		if err == nil || !strings.Contains(err.Error(), "RELAY_ADMIN_KEY") || !strings.Contains(err.Error(), "RELAY_ADMIN_API_KEY") {
			t.Errorf("%v: %v", args, err)
		}
	}
	for _, args := range [][]string{{"relay"}, {"relay", "events", "ls"}, {"relay", "keys", "ls"}, {"relay", "keygen"}} {
		if err := checkEnv(args, environ); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	if err := checkEnv([]string{"relay", "serve"}, []string{"RELAY_ADMIN_API_KEY=rk_0123456789abcdef0123456789", "RELAY_CONFIG=/etc/relay.yaml"}); err != nil {
		t.Errorf("known variables: %v", err)
	}
}

// relay keygen --kind api-key prints a key admin_api_key accepts.
func TestKeygenAPIKey(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), []string{"relay", "keygen", "--kind", "api-key"}, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out.String())
	if !strings.HasPrefix(key, "rk_") || len(key) != 67 {
		t.Fatalf("keygen printed %q", key)
	}
	if _, err := config.Load("", func(k string) string {
		if k == "RELAY_ADMIN_API_KEY" {
			return key
		}
		return ""
	}); err != nil {
		t.Fatalf("admin_api_key from keygen: %v", err)
	}
}
