package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/config"
)

const (
	secretA = "whsec_YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE="
	secretB = "whsec_YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI="
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes a config file into a temp dir and returns its path.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "relay.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func d(s string) config.Duration {
	v, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return config.Duration(v)
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("Load(\"\") = %+v, want the defaults %+v", c, config.Default())
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"addr", c.Addr, "127.0.0.1:8080"},
		{"data_dir", c.DataDir, "./relay-data"},
		{"database_url", c.DatabaseURL, ""},
		{"log_level", c.LogLevel, "info"},
		{"log_format", c.LogFormat, "json"},
		{"base url", c.BaseURL(), "http://127.0.0.1:8080"},
		{"ingest.max_body_bytes", c.Ingest.MaxBodyBytes, int64(10 << 20)},
		{"ingest.batch_max", c.Ingest.BatchMax, 256},
		{"providers.linear.timestamp_tolerance", c.Providers.Linear.TimestampTolerance, d("60s")},
		{"delivery.timeout", c.Delivery.Timeout, d("15s")},
		{"delivery.retry_schedule", c.Delivery.RetrySchedule,
			[]config.Duration{0, d("5s"), d("5m"), d("30m"), d("2h"), d("5h"), d("10h"), d("10h")}},
		{"delivery.jitter", c.Delivery.Jitter, 0.1},
		{"delivery.max_concurrency", c.Delivery.MaxConcurrency, 32},
		{"delivery.lease", c.Delivery.Lease, d("60s")},
		{"delivery.poll_interval", c.Delivery.PollInterval, d("1s")},
		{"delivery.rotation_overlap", c.Delivery.RotationOverlap, d("24h")},
		{"destinations", len(c.Destinations()), 0},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	// Each call gets its own lists.
	config.Default().Delivery.RetrySchedule[1] = 0
	if config.Default().Delivery.RetrySchedule[1] != d("5s") {
		t.Error("Default shares its retry schedule between calls")
	}
}

func TestLoadEmptyFile(t *testing.T) {
	c, err := config.Load(writeFile(t, "# nothing\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, config.Default()) {
		t.Errorf("an empty file changed the defaults: %+v", c)
	}
}

func TestLoadFullFile(t *testing.T) {
	c, err := config.Load("testdata/full.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &config.Config{
		Addr: "0.0.0.0:9090", DataDir: "/var/lib/relay", DatabaseURL: "postgres://relay@db:5432/relay",
		AdminAPIKey: "rk_file_admin_key_0123456789", PublicURL: "https://relay.example.com", LogLevel: "debug", LogFormat: "text",
		Ingest: config.Ingest{MaxBodyBytes: 2 << 20, BatchMax: 64},
		Encryption: config.Encryption{Keys: []string{
			"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"}},
		Providers: config.Providers{
			GitHub: config.GitHub{WebhookSecret: "gh-file-secret", AppID: "123456", AppSlug: "relay-test",
				ClientID: "Iv1.gh-file-client", ClientSecret: "gh-file-client-secret", PrivateKeyFile: "testdata/github-app-test.pem",
				APIURL: "https://github.example.com/api/v3", WebURL: "https://github.example.com"},
			Linear: config.Linear{WebhookSecret: "lin-file-secret", TimestampTolerance: d("90s"),
				ClientID: "lin-file-client", ClientSecret: "lin-file-client-secret",
				APIURL: "https://linear.example.com/api", WebURL: "https://linear.example.com"},
			Sentry: config.Sentry{ClientSecret: "sentry-file-secret", ClientID: "sentry-file-client", Slug: "relay-sentry",
				APIURL: "https://sentry.example.com", WebURL: "https://sentry.example.com"},
			Vercel: config.Vercel{ClientSecret: "vercel-file-secret", ClientID: "oac_vercel-file-client", Slug: "relay-vercel",
				APIURL: "https://vercel-api.example.com", WebURL: "https://vercel.example.com"},
			Bridge: config.Bridge{WebhookPublicKeys: []string{`-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----`},
				TimestampTolerance: d("15m"), APIKey: "sk-bridge-file", APIURL: "https://bridge.example.com"},
			Persona: config.Persona{WebhookSecrets: []string{"wbhsec_a", "wbhsec_b"}, TimestampTolerance: d("2m"),
				APIKey: "persona_file_key", APIURL: "https://persona.example.com", EmailField: "email"},
		},
		Sources: []config.Source{
			{Name: "billing", Scheme: "standard-webhooks", Secret: secretA, TimestampTolerance: d("5m")},
			{Name: "acme", Scheme: "hmac-sha256", Header: "X-Acme-Signature", Secret: "acme-secret", Prefix: "sha256=",
				Encoding: "hex", IDField: "id", TypeField: "type"},
		},
		Dests: []config.Destination{
			{Name: "app", URL: "http://127.0.0.1:9000/events", Secret: secretB, Providers: []string{"github"},
				EventTypes: []string{"issues.*"}, MaxConcurrency: 8, Timeout: d("10s")},
			{Name: "audit", URL: "https://audit.example.com/hook", Secret: secretA, Ordering: "$.issue.id", OnDead: "block"},
		},
		Delivery: config.Delivery{Timeout: d("20s"), RetrySchedule: []config.Duration{0, d("1s"), d("1m")}, RotationOverlap: d("24h"),
			Jitter: 0.2, MaxConcurrency: 16, Lease: d("90s"), PollInterval: d("500ms")},
		Backfill: config.Backfill{OnConnect: true, DepthDays: 7, EntityTypes: []string{"issues"}, MaxUndelivered: 500,
			Concurrency: 4, MaxAttempts: 3},
		Jobs: config.Jobs{RescueAfter: d("5m"), Workers: 12},
		Resolve: config.Resolve{SweepInterval: d("2m"), Resolvers: []config.Resolver{
			{Provider: "bridge", Type: "bridge_customer"},
			{Provider: "bridge", Type: "persona_accounts_by_email"},
			{Provider: "bridge", Type: "http", LookupURL: "https://app.example.com/relay/lookup", Secret: secretA},
			{Provider: "persona", Type: "payload", Path: "data.attributes.payload.data.attributes.reference-id", As: "org_id"},
		}},
		Retention: config.Retention{MaxAge: d("240h"), HeldMaxAge: d("72h"), Interval: d("30s")},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if c.BaseURL() != "https://relay.example.com" {
		t.Errorf("BaseURL = %q", c.BaseURL())
	}
}

func TestDestinations(t *testing.T) {
	c, err := config.Load("testdata/full.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Destinations()
	want := []*relay.Destination{
		{Name: "app", URL: "http://127.0.0.1:9000/events", Secret: secretB, Providers: []string{"github"},
			EventTypes: []string{"issues.*"}, MaxConcurrency: 8, Timeout: relay.Duration(10 * time.Second),
			Ordering: relay.OrderingNone, OnDead: relay.OnDeadSkip},
		// max_concurrency and timeout from delivery.*
		{Name: "audit", URL: "https://audit.example.com/hook", Secret: secretA,
			MaxConcurrency: 16, Timeout: relay.Duration(20 * time.Second), Ordering: "$.issue.id", OnDead: relay.OnDeadBlock},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Destinations() =\n%+v\n%+v\nwant\n%+v\n%+v", got[0], got[1], want[0], want[1])
	}
	for _, d := range got {
		if err := d.Validate(); err != nil {
			t.Errorf("%s: %v", d.Name, err)
		}
	}
	// secrets: [new, old] is the secret and the previous one.
	c.Dests[1].Secret, c.Dests[1].Secrets = "", []string{secretB, secretA}
	if d := c.Destinations()[1]; d.Secret != secretB || d.PreviousSecret != secretA {
		t.Errorf("secrets [B, A]: secret %q previous %q", d.Secret, d.PreviousSecret)
	}
	// The result is a copy: changing it leaves the config alone.
	got[0].Providers[0] = "changed"
	if c.Dests[0].Providers[0] != "github" {
		t.Error("Destinations shares slices with the config")
	}
}

// TestPrecedence: defaults < file < environment, key by key.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
addr: "127.0.0.1:7000"
log_level: warn
delivery:
  timeout: 20s
  jitter: 0.3
providers:
  github:
    webhook_secret: from-file
`)
	c, err := config.Load(file, env(map[string]string{
		"RELAY_ADDR":                            "0.0.0.0:8000",
		"RELAY_DELIVERY_TIMEOUT":                "30s",
		"RELAY_PROVIDERS_GITHUB_WEBHOOK_SECRET": "from-env",
		"RELAY_INGEST_BATCH_MAX":                "32",
		"RELAY_LOG_FORMAT":                      "text",
		"RELAY_DELIVERY_RETRY_SCHEDULE":         "0s, 5s,5m",
		"RELAY_PROVIDERS_LINEAR_WEBHOOK_SECRET": "", // empty = unset
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"addr (file and env: env wins)", c.Addr, "0.0.0.0:8000"},
		{"delivery.timeout (file and env: env wins)", c.Delivery.Timeout, d("30s")},
		{"providers.github.webhook_secret (file and env: env wins)", c.Providers.GitHub.WebhookSecret, "from-env"},
		{"log_level (file only)", c.LogLevel, "warn"},
		{"delivery.jitter (file only)", c.Delivery.Jitter, 0.3},
		{"ingest.batch_max (env only)", c.Ingest.BatchMax, 32},
		{"log_format (env only)", c.LogFormat, "text"},
		{"delivery.retry_schedule (env list)", c.Delivery.RetrySchedule, []config.Duration{0, d("5s"), d("5m")}},
		{"delivery.lease (neither)", c.Delivery.Lease, d("60s")},
		{"providers.linear.webhook_secret (empty env)", c.Providers.Linear.WebhookSecret, ""},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}
}

func TestEnvLists(t *testing.T) {
	file := writeFile(t, `
destinations:
  - name: app
    url: http://127.0.0.1:9000/events
    secret: `+secretA+`
sources:
  - {name: billing, scheme: standard-webhooks, secret: "`+secretA+`"}
`)
	c, err := config.Load(file, env(map[string]string{
		// index into the file's element
		"RELAY_DESTINATIONS_0_URL":       "https://app.example.com/events",
		"RELAY_DESTINATIONS_0_PROVIDERS": "github, linear",
		// index == length appends, and the next one again
		"RELAY_DESTINATIONS_1_NAME":        "audit",
		"RELAY_DESTINATIONS_1_URL":         "https://audit.example.com/",
		"RELAY_DESTINATIONS_1_SECRET":      secretB,
		"RELAY_DESTINATIONS_1_TIMEOUT":     "5s",
		"RELAY_DESTINATIONS_2_NAME":        "third",
		"RELAY_DESTINATIONS_2_URL":         "http://third.internal/x",
		"RELAY_DESTINATIONS_2_SECRET":      secretA,
		"RELAY_DESTINATIONS_2_EVENT_TYPES": "*.created",
		// a source appended from the environment gets the element defaults
		"RELAY_SOURCES_1_NAME":   "acme",
		"RELAY_SOURCES_1_SCHEME": "hmac-sha256",
		"RELAY_SOURCES_1_SECRET": "acme-secret",
		"RELAY_SOURCES_1_HEADER": "X-Acme-Signature",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Destination{
		{Name: "app", URL: "https://app.example.com/events", Secret: secretA, Providers: []string{"github", "linear"}},
		{Name: "audit", URL: "https://audit.example.com/", Secret: secretB, Timeout: d("5s")},
		{Name: "third", URL: "http://third.internal/x", Secret: secretA, EventTypes: []string{"*.created"}},
	}
	if !reflect.DeepEqual(c.Dests, want) {
		t.Errorf("destinations = %+v\nwant %+v", c.Dests, want)
	}
	wantSources := []config.Source{
		{Name: "billing", Scheme: "standard-webhooks", Secret: secretA, TimestampTolerance: d("5m")},
		{Name: "acme", Scheme: "hmac-sha256", Secret: "acme-secret", Header: "X-Acme-Signature", Encoding: "hex"},
	}
	if !reflect.DeepEqual(c.Sources, wantSources) {
		t.Errorf("sources = %+v\nwant %+v", c.Sources, wantSources)
	}
}

func TestEnvName(t *testing.T) {
	if got := config.EnvName("providers", "github", "webhook_secret"); got != "RELAY_PROVIDERS_GITHUB_WEBHOOK_SECRET" {
		t.Errorf("EnvName = %q", got)
	}
	if got := config.EnvName("destinations", "0", "url"); got != "RELAY_DESTINATIONS_0_URL" {
		t.Errorf("EnvName = %q", got)
	}
}

// TestErrors: every rejected setting is reported naming its key (by path,
// file line or variable).
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string // YAML; "" = no file
		env  map[string]string
		want []string // substrings of the error
	}{
		// the file's keys
		{name: "unknown top-level key", file: "adress: x\n", want: []string{`line 1: unknown key "adress"`, "known keys here: addr,"}},
		{name: "unknown nested key", file: "delivery:\n  timeout: 5s\n  timout: 5s\n", want: []string{`line 3: unknown key "delivery.timout"`}},
		{name: "unknown key in list element", file: "destinations:\n  - name: a\n    urll: http://x\n", want: []string{`line 3: unknown key "destinations[0].urll"`}},
		{name: "bad duration in file", file: "delivery:\n  timeout: abc\n", want: []string{`line 2: delivery.timeout: "abc" is not a duration`}},
		{name: "bad number in file", file: "delivery:\n  jitter: lots\n", want: []string{`line 2: delivery.jitter: "lots" is not a number`}},
		{name: "bad integer in file", file: "ingest:\n  batch_max: many\n", want: []string{`line 2: ingest.batch_max: "many" is not an integer`}},
		{name: "list where value wanted", file: "addr: [a, b]\n", want: []string{"line 1: addr: want a single value"}},
		{name: "value where list wanted", file: "destinations: app\n", want: []string{"line 1: destinations: want a list"}},
		{name: "bad list element", file: "delivery:\n  retry_schedule: [1s, soon]\n", want: []string{`delivery.retry_schedule[1]: "soon" is not a duration`}},
		{name: "yaml syntax", file: "addr: [\n", want: []string{"config:", "relay.yaml", "yaml:"}},
		{name: "two documents", file: "addr: ':1'\n---\naddr: ':2'\n", want: []string{"single YAML document"}},

		// the environment
		{name: "bad env duration", env: map[string]string{"RELAY_DELIVERY_TIMEOUT": "abc"},
			want: []string{`config: RELAY_DELIVERY_TIMEOUT: "abc" is not a duration`}},
		{name: "bad env int", env: map[string]string{"RELAY_INGEST_MAX_BODY_BYTES": "10MB"},
			want: []string{`config: RELAY_INGEST_MAX_BODY_BYTES: "10MB" is not an integer`}},
		{name: "bad env list element", env: map[string]string{"RELAY_DELIVERY_RETRY_SCHEDULE": "0s,x"},
			want: []string{`config: RELAY_DELIVERY_RETRY_SCHEDULE: "x" is not a duration`}},
		{name: "env index gap", env: map[string]string{"RELAY_DESTINATIONS_2_URL": "http://x/"},
			want: []string{"config: RELAY_DESTINATIONS_2_URL: index 2 leaves a gap: the list has 0 elements, so the next index is 0 (RELAY_DESTINATIONS_0_…)"}},

		// validation
		{name: "addr", env: map[string]string{"RELAY_ADDR": "localhost"}, want: []string{"config: addr: must be host:port"}},
		{name: "addr port", env: map[string]string{"RELAY_ADDR": ":99999"}, want: []string{"config: addr:"}},
		{name: "database_url", env: map[string]string{"RELAY_DATABASE_URL": "mysql://x"}, want: []string{"config: database_url: must be empty"}},
		{name: "public_url", env: map[string]string{"RELAY_PUBLIC_URL": "relay.example.com"}, want: []string{"config: public_url:"}},
		{name: "log_level", env: map[string]string{"RELAY_LOG_LEVEL": "loud"}, want: []string{"config: log_level: must be debug, info, warn or error"}},
		{name: "log_format", env: map[string]string{"RELAY_LOG_FORMAT": "xml"}, want: []string{"config: log_format: must be json or text"}},
		{name: "max_body_bytes small", env: map[string]string{"RELAY_INGEST_MAX_BODY_BYTES": "100"}, want: []string{"config: ingest.max_body_bytes:"}},
		{name: "max_body_bytes large", env: map[string]string{"RELAY_INGEST_MAX_BODY_BYTES": "2147483648"}, want: []string{"config: ingest.max_body_bytes:"}},
		{name: "batch_max", env: map[string]string{"RELAY_INGEST_BATCH_MAX": "0"}, want: []string{"config: ingest.batch_max:"}},
		{name: "resolver type", file: "resolve:\n  resolvers:\n    - {provider: bridge, type: magic}\n",
			want: []string{"config: resolve.resolvers[0].type: must be one of bridge_customer, persona_accounts_by_email, payload, http"}},
		{name: "resolver provider", file: "resolve:\n  resolvers:\n    - {provider: stripe, type: payload, path: a, as: org_id}\n",
			want: []string{`config: resolve.resolvers[0].provider: must be a provider or a configured source, not "stripe"`}},
		{name: "resolver needs api key", file: "resolve:\n  resolvers:\n    - {provider: bridge, type: bridge_customer}\n    - {provider: bridge, type: persona_accounts_by_email}\n",
			want: []string{"config: resolve.resolvers[0].type: bridge_customer needs providers.bridge.api_key",
				"config: resolve.resolvers[1].type: persona_accounts_by_email needs providers.persona.api_key"}},
		{name: "http resolver", file: "resolve:\n  resolvers:\n    - {provider: bridge, type: http, lookup_url: ftp://x, secret: nope}\n",
			want: []string{"config: resolve.resolvers[0].lookup_url: must be an http(s) URL", "config: resolve.resolvers[0].secret:"}},
		{name: "payload resolver", file: "resolve:\n  resolvers:\n    - {provider: persona, type: payload}\n",
			want: []string{"config: resolve.resolvers[0].path: required", "config: resolve.resolvers[0].as: required"}},
		{name: "sweep interval", env: map[string]string{"RELAY_RESOLVE_SWEEP_INTERVAL": "10ms"}, want: []string{"config: resolve.sweep_interval:"}},
		{name: "linear tolerance", env: map[string]string{"RELAY_PROVIDERS_LINEAR_TIMESTAMP_TOLERANCE": "0s"}, want: []string{"config: providers.linear.timestamp_tolerance:"}},
		{name: "source name required", file: "sources:\n  - {scheme: hmac-sha256, header: X-Sig, secret: s}\n", want: []string{"config: sources[0].name: required"}},
		{name: "source name pattern", file: "sources:\n  - {name: Bad_Name, scheme: hmac-sha256, header: X-Sig, secret: s}\n", want: []string{"config: sources[0].name: must be"}},
		{name: "source name builtin", file: "sources:\n  - {name: persona, scheme: hmac-sha256, header: X-Sig, secret: s}\n", want: []string{`config: sources[0].name: "persona" is a built-in provider`}},
		{name: "source name relay", file: "sources:\n  - {name: relay, scheme: hmac-sha256, header: X-Sig, secret: s}\n", want: []string{`config: sources[0].name: "relay" is reserved for Relay's own operational events`}},
		{name: "source name unique", file: "sources:\n  - {name: a, scheme: hmac-sha256, header: X-Sig, secret: s}\n  - {name: a, scheme: hmac-sha256, header: X-Sig, secret: s}\n",
			want: []string{`config: sources[1].name: "a" is already the name of sources[0]`}},
		{name: "source scheme missing", file: "sources:\n  - {name: a, secret: s}\n", want: []string{"config: sources[0].scheme: required"}},
		{name: "source scheme", file: "sources:\n  - {name: a, scheme: md5, secret: s}\n", want: []string{"config: sources[0].scheme: must be standard-webhooks or hmac-sha256"}},
		{name: "source secret required", file: "sources:\n  - {name: a, scheme: hmac-sha256, header: X-Sig}\n", want: []string{"config: sources[0].secret: required"}},
		{name: "source standard-webhooks secret", file: "sources:\n  - {name: a, scheme: standard-webhooks, secret: plain}\n", want: []string{`config: sources[0].secret: must start with "whsec_"`}},
		{name: "source hmac header", file: "sources:\n  - {name: a, scheme: hmac-sha256, secret: s}\n", want: []string{"config: sources[0].header: required"}},
		{name: "source hmac encoding", file: "sources:\n  - {name: a, scheme: hmac-sha256, header: X-Sig, secret: s, encoding: base32}\n", want: []string{"config: sources[0].encoding: must be hex or base64"}},
		{name: "destination url", env: map[string]string{"RELAY_DESTINATIONS_0_NAME": "app", "RELAY_DESTINATIONS_0_URL": "ftp://x", "RELAY_DESTINATIONS_0_SECRET": secretA},
			want: []string{"config: destinations[0].url: must be an absolute http"}},
		{name: "destination name", env: map[string]string{"RELAY_DESTINATIONS_0_URL": "http://x/", "RELAY_DESTINATIONS_0_SECRET": secretA},
			want: []string{"config: destinations[0].name: required"}},
		{name: "destination secret", env: map[string]string{"RELAY_DESTINATIONS_0_NAME": "app", "RELAY_DESTINATIONS_0_URL": "http://x/"},
			want: []string{"config: destinations[0].secret: must start with"}},
		{name: "destination glob", env: map[string]string{"RELAY_DESTINATIONS_0_NAME": "app", "RELAY_DESTINATIONS_0_URL": "http://x/", "RELAY_DESTINATIONS_0_SECRET": secretA, "RELAY_DESTINATIONS_0_EVENT_TYPES": "[a"},
			want: []string{"config: destinations[0].event_types: bad glob"}},
		{name: "destination max_concurrency", env: map[string]string{"RELAY_DESTINATIONS_0_NAME": "app", "RELAY_DESTINATIONS_0_URL": "http://x/", "RELAY_DESTINATIONS_0_SECRET": secretA, "RELAY_DESTINATIONS_0_MAX_CONCURRENCY": "5000"},
			want: []string{"config: destinations[0].max_concurrency:"}},
		{name: "destination name unique", file: "destinations:\n  - {name: app, url: 'http://a/', secret: " + secretA + "}\n  - {name: app, url: 'http://b/', secret: " + secretA + "}\n",
			want: []string{`config: destinations[1].name: "app" is already the name of destinations[0]`}},
		{name: "destination timeout vs lease", file: "delivery: {lease: 30s, timeout: 10s}\ndestinations:\n  - {name: app, url: 'http://a/', secret: " + secretA + ", timeout: 45s}\n",
			want: []string{"config: destinations[0].timeout: must be shorter than delivery.lease"}},
		{name: "destination secret and secrets", file: "destinations:\n  - {name: app, url: 'http://a/', secret: " + secretA + ", secrets: [" + secretB + "]}\n",
			want: []string{"config: destinations[0].secrets: set either secret or secrets, not both"}},
		{name: "destination secrets three", file: "destinations:\n  - {name: app, url: 'http://a/', secrets: [" + secretA + ", " + secretB + ", " + secretA + "]}\n",
			want: []string{"config: destinations[0].secrets: at most two"}},
		{name: "destination old secret", file: "destinations:\n  - {name: app, url: 'http://a/', secrets: [" + secretA + ", nope]}\n",
			want: []string{"config: destinations[0].secrets[1]: must start with"}},
		{name: "rotation_overlap", env: map[string]string{"RELAY_DELIVERY_ROTATION_OVERLAP": "-1s"}, want: []string{"config: delivery.rotation_overlap: must be between 0s and"}},
		{name: "retry_schedule empty", file: "delivery:\n  retry_schedule: []\n", want: []string{"config: delivery.retry_schedule: must list at least one"}},
		{name: "retry_schedule negative", env: map[string]string{"RELAY_DELIVERY_RETRY_SCHEDULE": "0s,-5s"}, want: []string{"config: delivery.retry_schedule[1]: must be between 0s and 24h"}},
		{name: "retry_schedule long", env: map[string]string{"RELAY_DELIVERY_RETRY_SCHEDULE": "25h"}, want: []string{"config: delivery.retry_schedule[0]:"}},
		{name: "jitter", env: map[string]string{"RELAY_DELIVERY_JITTER": "1.5"}, want: []string{"config: delivery.jitter: must be between 0 and 1"}},
		{name: "delivery max_concurrency", env: map[string]string{"RELAY_DELIVERY_MAX_CONCURRENCY": "0"}, want: []string{"config: delivery.max_concurrency:"}},
		{name: "delivery timeout", env: map[string]string{"RELAY_DELIVERY_TIMEOUT": "10m"}, want: []string{"config: delivery.timeout: must be between"}},
		{name: "lease vs timeout", env: map[string]string{"RELAY_DELIVERY_LEASE": "15s"}, want: []string{"config: delivery.lease: must be longer than delivery.timeout (15s)"}},
		{name: "poll_interval", env: map[string]string{"RELAY_DELIVERY_POLL_INTERVAL": "0s"}, want: []string{"config: delivery.poll_interval:"}},
		{name: "data_dir", file: "data_dir: ''\n", want: []string{"config: data_dir: required"}},
		{name: "several at once", env: map[string]string{"RELAY_LOG_LEVEL": "x", "RELAY_DELIVERY_JITTER": "2"},
			want: []string{"config: log_level:", "config: delivery.jitter:"}},
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
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("err = %v, want one naming the file", err)
	}
}

// TestSecretsNotInErrors: a secret's value never appears in an error, even
// when it is the value that is wrong.
func TestSecretsNotInErrors(t *testing.T) {
	const s = "hunter2-SUPER-secret-value"
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
	}{
		{name: "standard-webhooks source secret", file: "sources:\n  - {name: a, scheme: standard-webhooks, secret: " + s + "}\n"},
		{name: "standard-webhooks source secret, bad base64", file: "sources:\n  - {name: a, scheme: standard-webhooks, secret: whsec_" + s + "}\n"},
		{name: "destination secret", env: map[string]string{"RELAY_DESTINATIONS_0_NAME": "app", "RELAY_DESTINATIONS_0_URL": "http://x/", "RELAY_DESTINATIONS_0_SECRET": s}},
		{name: "destination secret, file", file: "destinations:\n  - {name: app, url: 'http://x/', secret: 'whsec_" + s + "'}\n"},
		{name: "database url password", env: map[string]string{"RELAY_DATABASE_URL": "mysql://relay:" + s + "@db/relay"}},
		{name: "secret given a list", file: "providers:\n  github:\n    webhook_secret: [" + s + "]\n"},
		{name: "admin key given a mapping", file: "admin_api_key: {k: " + s + "}\n"},
		{name: "other errors alongside", file: "providers:\n  github: {webhook_secret: " + s + "}\nlog_level: loud\n",
			env: map[string]string{"RELAY_ADMIN_API_KEY": s, "RELAY_SOURCES_0_SECRET": s, "RELAY_SOURCES_0_NAME": "x", "RELAY_SOURCES_0_SCHEME": "standard-webhooks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeFile(t, tc.file)
			}
			_, err := config.Load(path, env(tc.env))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestEveryKeyHasAnEnvVar sets every leaf key of the full example from the
// environment instead of the file, and expects the same configuration.
func TestEveryKeyHasAnEnvVar(t *testing.T) {
	fromFile, err := config.Load("testdata/full.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	collectEnv(t, reflect.ValueOf(fromFile).Elem(), "RELAY", vars)
	fromEnv, err := config.Load("", env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromEnv, fromFile) {
		t.Errorf("from env:  %+v\nfrom file: %+v\nvars: %v", fromEnv, fromFile, vars)
	}
}

// collectEnv turns the non-zero leaves of v into environment variables.
func collectEnv(t *testing.T, v reflect.Value, prefix string, out map[string]string) {
	for i := 0; i < v.NumField(); i++ {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		name := prefix + "_" + strings.ToUpper(key)
		f := v.Field(i)
		switch {
		case f.Type() == reflect.TypeOf(config.Duration(0)):
			out[name] = fmtLeaf(f)
		case f.Kind() == reflect.Struct:
			collectEnv(t, f, name, out)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			for j := 0; j < f.Len(); j++ {
				collectEnv(t, f.Index(j), name+"_"+strconv.Itoa(j), out)
			}
		case f.Kind() == reflect.Slice:
			var parts []string
			for j := 0; j < f.Len(); j++ {
				parts = append(parts, fmtLeaf(f.Index(j)))
			}
			out[name] = strings.Join(parts, ",")
		default:
			out[name] = fmtLeaf(f)
		}
	}
}

// fmtLeaf formats a scalar the way the environment spells it; Duration's
// String gives "1m30s".
func fmtLeaf(v reflect.Value) string { return fmt.Sprint(v.Interface()) }
