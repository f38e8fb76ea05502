package config_test

import (
	"strings"
	"testing"

	"github.com/relayhq/relay/config"
)

// A configured admin key shorter than 24 characters is refused, naming the
// key and how to make a good one, never showing it.
func TestAdminAPIKeyMinimumLength(t *testing.T) {
	const short = "rk_dev_admin"
	_, err := config.Load("", env(map[string]string{"RELAY_ADMIN_API_KEY": short}))
	if err == nil {
		t.Fatal("a 12-character admin_api_key was accepted")
	}
	for _, want := range []string{"config: admin_api_key:", "at least 24 characters", "relay keygen --kind api-key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), short) {
		t.Errorf("the error shows the key: %v", err)
	}
	_, err = config.Load(writeFile(t, "admin_api_key: short-but-in-a-file\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "admin_api_key") {
		t.Errorf("short key in a file: %v", err)
	}
	if _, err := config.Load("", env(map[string]string{"RELAY_ADMIN_API_KEY": strings.Repeat("k", 24)})); err != nil {
		t.Errorf("a 24-character key: %v", err)
	}
}

// Misspelled RELAY_ variables are reported, every one, each with the
// closest variable Relay knows; the variables Relay reads outside the
// configuration pass.
func TestCheckEnvUnknownVariables(t *testing.T) {
	err := config.CheckEnv([]string{
		"HOME=/root",
		"RELAY_ADMIN_KEY=rk_secret_value_not_to_show",
		"RELAY_PROVIDERS_GITHUB_WEBHOK_SECRET=s3cr3t-value",
		"RELAY_DESTINATIONS_1_URLL=http://x/",
		"RELAY_PROVIDERS_GITHUB_WEBHOOK_SECRET=ok",
	})
	if err == nil {
		t.Fatal("misspelled variables were accepted")
	}
	for _, want := range []string{
		"RELAY_ADMIN_KEY", "did you mean RELAY_ADMIN_API_KEY?",
		"RELAY_PROVIDERS_GITHUB_WEBHOK_SECRET", "did you mean RELAY_PROVIDERS_GITHUB_WEBHOOK_SECRET?",
		"RELAY_DESTINATIONS_1_URLL", "did you mean RELAY_DESTINATIONS_1_URL?",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "rk_secret") {
		t.Errorf("the error shows a value: %v", err)
	}
	if n := strings.Count(err.Error(), "config: "); n != 3 {
		t.Errorf("%d problems reported, want 3: %v", n, err)
	}

	ok := []string{
		"RELAY_CONFIG=/etc/relay.yaml", "RELAY_API_KEY=k", "RELAY_URL=http://x", "RELAY_TEST_DATABASE_URL=postgres://x",
		"RELAY_ADMIN_API_KEY=k", "RELAY_DESTINATIONS_0_URL=http://x/", "RELAY_DESTINATIONS_12_EVENT_TYPES=a",
		"RELAY_SOURCES_0_TIMESTAMP_TOLERANCE=5m", "RELAY_RESOLVE_RESOLVERS_0_LOOKUP_URL=http://x/",
		"RELAY_ENCRYPTION_KEYS=a,b", "RELAY_DELIVERY_RETRY_SCHEDULE=1s",
		"RELAY_ENCRYPTION_KEYS_0=a", // reported by Load, with its own explanation
		"RELAY_TYPO_BUT_EMPTY=",     // empty counts as unset
		"RELAYX=1", "NOT_RELAY_ADMIN_KEY=1",
	}
	if err := config.CheckEnv(ok); err != nil {
		t.Errorf("known variables refused: %v", err)
	}
}

// Every unknown key of a file is reported at once, not only the first.
func TestEveryUnknownYAMLKeyReported(t *testing.T) {
	file := "adress: x\ndelivery:\n  timout: 5s\ndestinations:\n  - name: a\n    urll: http://x\nlog_levle: debug\n"
	_, err := config.Load(writeFile(t, file), env(nil))
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{
		`line 1: unknown key "adress"`, `did you mean "addr"?`,
		`line 3: unknown key "delivery.timout"`, `did you mean "timeout"?`,
		`line 6: unknown key "destinations[0].urll"`,
		`line 7: unknown key "log_levle"`, `did you mean "log_level"?`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
}
