package config_test

import (
	"strings"
	"testing"

	"github.com/relayhq/relay/config"
)

// TestRetentionSettings: the defaults (a month, a week for held events,
// every minute), the file and environment overlays, 0 meaning forever, and
// what is refused.
func TestRetentionSettings(t *testing.T) {
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := (config.Retention{MaxAge: d("720h"), HeldMaxAge: d("168h"), Interval: d("1m")}); c.Retention != want {
		t.Fatalf("defaults %+v, want %+v", c.Retention, want)
	}
	c, err = config.Load(writeFile(t, "retention:\n  max_age: 0\n  interval: 10s\n"),
		env(map[string]string{"RELAY_RETENTION_HELD_MAX_AGE": "48h"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (config.Retention{MaxAge: 0, HeldMaxAge: d("48h"), Interval: d("10s")}); c.Retention != want {
		t.Fatalf("overlaid %+v, want %+v", c.Retention, want)
	}
	for body, key := range map[string]string{
		"retention:\n  max_age: -1h\n":      "retention.max_age",
		"retention:\n  held_max_age: -1s\n": "retention.held_max_age",
		"retention:\n  interval: 10ms\n":    "retention.interval",
	} {
		_, err := config.Load(writeFile(t, body), env(nil))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: error %v, want one naming %s", body, err, key)
		}
	}
}
