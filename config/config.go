// Package config loads Relay's configuration: built-in defaults, then an
// optional YAML file, then environment variables (RELAY_ + the upper-snake
// path of any key), then validation.
//
// The environment overlay walks the yaml tags of Config with reflect, so every
// key added to these structs can be set from the environment without further
// code. It is the only place in Relay that reads the environment, and it does
// so through the getenv function it is given.
package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/relayhq/relay"
)

// Config is Relay's whole configuration. The yaml tags are the file's keys;
// the environment variable of a key is RELAY_ + its path in upper snake case,
// e.g. RELAY_PROVIDERS_GITHUB_WEBHOOK_SECRET or RELAY_DESTINATIONS_0_URL.
type Config struct {
	Addr        string `yaml:"addr"`          // listen address, host:port
	DataDir     string `yaml:"data_dir"`      // SQLite database and local state
	DatabaseURL string `yaml:"database_url"`  // "" = SQLite in DataDir; postgres://… = PostgreSQL
	AdminAPIKey string `yaml:"admin_api_key"` // when set, the admin API key (installed at start)
	// PublicURL is the external base URL (OAuth redirects, registered
	// webhooks): scheme and host only, e.g. https://relay.example.com; ""
	// means "http://" + Addr, see BaseURL.
	PublicURL string `yaml:"public_url"`
	LogLevel  string `yaml:"log_level"`  // debug | info | warn | error
	LogFormat string `yaml:"log_format"` // json | text

	Ingest     Ingest     `yaml:"ingest"`
	Encryption Encryption `yaml:"encryption"`
	Providers  Providers  `yaml:"providers"`
	Sources    []Source   `yaml:"sources"`
	// Dests are the destinations declared in the configuration; Destinations
	// returns them as domain values. (The field cannot share the method's name.)
	Dests    []Destination `yaml:"destinations"`
	Delivery Delivery      `yaml:"delivery"`
	Backfill Backfill      `yaml:"backfill"`
	Jobs     Jobs          `yaml:"jobs"`
	Resolve  Resolve       `yaml:"resolve"`
	Connect  Connect       `yaml:"connect"`

	Retention Retention `yaml:"retention"`
}

// Connect configures the connect flows.
type Connect struct {
	// AllowedReturnOrigins are the origins (scheme://host[:port]) a flow's
	// return_url may be on: the flow's end sends the browser there. Empty
	// means the public URL's origin only.
	AllowedReturnOrigins []string `yaml:"allowed_return_origins"`
}

// Backfill configures history imports.
type Backfill struct {
	// OnConnect starts a backfill (DepthDays, EntityTypes) for every new
	// connection.
	OnConnect   bool     `yaml:"on_connect"`
	DepthDays   int      `yaml:"depth_days"`   // default depth, 1-365
	EntityTypes []string `yaml:"entity_types"` // default entity types; empty = all the provider has
	// MaxUndelivered pauses a backfill while more of its connection's
	// deliveries than this wait to be sent, so live events keep flowing.
	MaxUndelivered int `yaml:"max_undelivered"`
	// Concurrency is how many (resource, entity type) tasks of one backfill
	// fetch pages at once.
	Concurrency int `yaml:"concurrency"`
	// MaxAttempts is how many failed fetches of one page end its task with
	// an error (rate-limit waits do not count).
	MaxAttempts int `yaml:"max_attempts"`
}

// Jobs configures the durable job runner (River).
type Jobs struct {
	// RescueAfter is how long a job may stay running before it counts as
	// stuck (its process died) and is run again.
	RescueAfter Duration `yaml:"rescue_after"`
	// Workers is how many jobs run at once in this process.
	Workers int `yaml:"workers"`
}

// Ingest configures the webhook ingest path.
type Ingest struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes"` // larger webhook bodies get 413
	BatchMax     int   `yaml:"batch_max"`      // events per group commit at most
}

// Providers holds the secrets of the built-in provider adapters. A provider
// whose secret is empty is not served.
type Providers struct {
	GitHub  GitHub  `yaml:"github"`
	Linear  Linear  `yaml:"linear"`
	Sentry  Sentry  `yaml:"sentry"`
	Vercel  Vercel  `yaml:"vercel"`
	Bridge  Bridge  `yaml:"bridge"`
	Persona Persona `yaml:"persona"`
}

// Bridge configures the bridge provider: webhooks, verified with the
// endpoint's RSA public key(s) (two during a rotation), and the API key
// its resolver uses.
type Bridge struct {
	WebhookPublicKeys  []string `yaml:"webhook_public_keys"` // PEM; one-line \n-escaped accepted
	TimestampTolerance Duration `yaml:"timestamp_tolerance"` // default 10m, Bridge's own
	APIKey             string   `yaml:"api_key"`
	APIURL             string   `yaml:"api_url"`
}

// Persona configures the persona provider: webhook secrets (two during a
// rotation) and the API key its resolvers use.
type Persona struct {
	WebhookSecrets     []string `yaml:"webhook_secrets"`
	TimestampTolerance Duration `yaml:"timestamp_tolerance"` // default 5m
	APIKey             string   `yaml:"api_key"`
	APIURL             string   `yaml:"api_url"`
	// EmailField is the account field accounts are searched by email on.
	EmailField string `yaml:"email_field"`
}

// Resolve configures identity repair: the resolver chains that find the
// org of an account no connection knows.
type Resolve struct {
	// SweepInterval is how often accounts still held are resolved again.
	SweepInterval Duration `yaml:"sweep_interval"`
	// Resolvers are the chains' steps, in order, each for one provider.
	Resolvers []Resolver `yaml:"resolvers"`
}

// Resolver is one step of a provider's resolver chain. Type is one of
// bridge_customer (the customer's email from Bridge's API),
// persona_accounts_by_email (Persona accounts with that email: their
// reference-id is the org), payload (a field of the held event: Path, As
// "org_id" or an attribute name) or http (the team's app: LookupURL,
// signed with Secret).
type Resolver struct {
	Provider  string `yaml:"provider"`
	Type      string `yaml:"type"`
	Path      string `yaml:"path"`
	As        string `yaml:"as"`
	LookupURL string `yaml:"lookup_url"`
	Secret    string `yaml:"secret"`
}

// ResolverTypes are the resolver types a chain can use.
var ResolverTypes = []string{"bridge_customer", "persona_accounts_by_email", "payload", "http"}

// GitHub configures the github provider: webhooks (webhook_secret) and the
// GitHub App connect flow (app_id, app_slug, client_id, client_secret,
// private_key or private_key_file).
//
// AllowUnverifiedInstallations accepts the install redirect's
// installation_id without checking it against the installing user's
// installations. GitHub warns that the id can be spoofed: with it on, any
// org that can start a connect flow can claim any installation of the App.
// It is off by default and `relay serve` warns when it is on.
type GitHub struct {
	WebhookSecret  string `yaml:"webhook_secret"`
	AppID          string `yaml:"app_id"`
	AppSlug        string `yaml:"app_slug"`
	ClientID       string `yaml:"client_id"`
	ClientSecret   string `yaml:"client_secret"`
	PrivateKey     string `yaml:"private_key"`      // PEM, PKCS#1 or PKCS#8 RSA
	PrivateKeyFile string `yaml:"private_key_file"` // or a path to it
	APIURL         string `yaml:"api_url"`          // GitHub Enterprise Server: https://HOST/api/v3
	WebURL         string `yaml:"web_url"`

	AllowUnverifiedInstallations bool `yaml:"allow_unverified_installations"`
}

// Linear configures the linear provider.
type Linear struct {
	WebhookSecret      string   `yaml:"webhook_secret"`
	TimestampTolerance Duration `yaml:"timestamp_tolerance"`
	ClientID           string   `yaml:"client_id"`
	ClientSecret       string   `yaml:"client_secret"`
	APIURL             string   `yaml:"api_url"`
	WebURL             string   `yaml:"web_url"`
}

// Sentry configures the sentry provider. Its client secret also signs its
// webhooks.
type Sentry struct {
	ClientSecret string `yaml:"client_secret"`
	ClientID     string `yaml:"client_id"`
	Slug         string `yaml:"slug"` // the integration's slug, for the install URL
	APIURL       string `yaml:"api_url"`
	WebURL       string `yaml:"web_url"`
}

// Vercel configures the vercel provider. Its client secret also signs its
// webhooks.
type Vercel struct {
	ClientSecret string `yaml:"client_secret"`
	ClientID     string `yaml:"client_id"`
	Slug         string `yaml:"slug"` // the integration's slug, for the install URL
	APIURL       string `yaml:"api_url"`
	WebURL       string `yaml:"web_url"`
}

// ConnectConfigured reports whether the GitHub App connect flow is set up:
// app_id, app_slug, a private key (private_key or private_key_file), and
// the App's OAuth client (client_id and client_secret), which exchanges the
// installing user's code to verify the installation — unless
// allow_unverified_installations is on, which needs no client.
func (g GitHub) ConnectConfigured() bool {
	return g.AppID != "" && g.AppSlug != "" && (g.PrivateKey != "" || g.PrivateKeyFile != "") &&
		(g.ClientID != "" && g.ClientSecret != "" || g.AllowUnverifiedInstallations)
}

// RSAKey parses the App's private key, read from private_key_file when set,
// else taken from private_key: PEM, PKCS#1 ("RSA PRIVATE KEY") or PKCS#8
// ("PRIVATE KEY") holding an RSA key. A one-line private_key whose line
// breaks are written \n (as environment variables often carry it) is
// accepted. Its errors say what is wrong and never contain the key.
func (g GitHub) RSAKey() (*rsa.PrivateKey, error) {
	pemText := []byte(g.PrivateKey)
	if g.PrivateKeyFile != "" {
		b, err := os.ReadFile(g.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read the key file: %v", errors.Unwrap(err))
		}
		pemText = b
	}
	if !bytes.Contains(pemText, []byte("\n")) {
		pemText = bytes.ReplaceAll(pemText, []byte(`\n`), []byte("\n"))
	}
	block, _ := pem.Decode(pemText)
	if block == nil {
		return nil, errors.New("must be a PEM-encoded RSA private key (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("the RSA PRIVATE KEY block is not a valid PKCS#1 RSA private key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("the PRIVATE KEY block is not a valid PKCS#8 private key")
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return nil, errors.New("holds an ECDSA key; GitHub App private keys are RSA")
		case ed25519.PrivateKey:
			return nil, errors.New("holds an Ed25519 key; GitHub App private keys are RSA")
		default:
			return nil, errors.New("holds a key that is not RSA; GitHub App private keys are RSA")
		}
	default:
		return nil, fmt.Errorf("a PEM block of type %q; expected RSA PRIVATE KEY (PKCS#1) or PRIVATE KEY (PKCS#8)", block.Type)
	}
}

// ConnectConfigured reports whether the Linear connect flow is set up:
// client_id and client_secret.
func (l Linear) ConnectConfigured() bool { return l.ClientID != "" && l.ClientSecret != "" }

// ConnectConfigured reports whether the Sentry connect flow is set up:
// client_id, client_secret and slug (for the install URL).
func (s Sentry) ConnectConfigured() bool {
	return s.ClientID != "" && s.ClientSecret != "" && s.Slug != ""
}

// ConnectConfigured reports whether the Vercel connect flow is set up:
// client_id, client_secret and slug (for the install URL).
func (v Vercel) ConnectConfigured() bool {
	return v.ClientID != "" && v.ClientSecret != "" && v.Slug != ""
}

// Encryption configures the token vault.
type Encryption struct {
	// Keys are 64-hex-character (32-byte) AES-256 keys: the first encrypts,
	// all decrypt. Empty: a key is generated into data_dir/relay.key.
	Keys []string `yaml:"keys"`
}

// Source is a generic inbound webhook source served at /webhooks/{Name}.
type Source struct {
	Name   string `yaml:"name"`
	Scheme string `yaml:"scheme"` // standard-webhooks | hmac-sha256
	Secret string `yaml:"secret"`
	// TimestampTolerance bounds the age of a standard-webhooks timestamp.
	TimestampTolerance Duration `yaml:"timestamp_tolerance"`
	// The fields below apply to hmac-sha256 only.
	Header    string `yaml:"header"`     // request header carrying the signature
	Prefix    string `yaml:"prefix"`     // stripped from the header value, e.g. "sha256="
	Encoding  string `yaml:"encoding"`   // hex | base64
	IDHeader  string `yaml:"id_header"`  // header with the delivery id, if any
	IDField   string `yaml:"id_field"`   // JSON field with the delivery id, if any
	TypeField string `yaml:"type_field"` // JSON field with the event type, if any
}

// Destination is a destination declared in the configuration. Zero
// MaxConcurrency and Timeout take Delivery's values.
type Destination struct {
	Name   string `yaml:"name"`
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"` // whsec_…
	// Secrets is Secret during a rotation done in the file: [new, old],
	// both signing for delivery.rotation_overlap (instead of secret).
	Secrets        []string `yaml:"secrets"`
	Providers      []string `yaml:"providers"`   // empty = all
	EventTypes     []string `yaml:"event_types"` // globs; empty = all
	OrgID          string   `yaml:"org_id"`      // empty = all orgs
	MaxConcurrency int      `yaml:"max_concurrency"`
	Timeout        Duration `yaml:"timeout"`
	// Ordering and OnDead are relay.Destination's: none (default),
	// resource, account, connection or a JSON path; skip (default) or block.
	Ordering string `yaml:"ordering"`
	OnDead   string `yaml:"on_dead"`
}

// Delivery configures delivery to destinations.
type Delivery struct {
	Timeout        Duration   `yaml:"timeout"`         // default per-request timeout
	RetrySchedule  []Duration `yaml:"retry_schedule"`  // RetrySchedule[k] is the wait before attempt k+1
	Jitter         float64    `yaml:"jitter"`          // ± fraction applied to each wait
	MaxConcurrency int        `yaml:"max_concurrency"` // default per destination
	Lease          Duration   `yaml:"lease"`           // how long a claimed delivery is ours
	PollInterval   Duration   `yaml:"poll_interval"`   // how often to look for due work
	// RotationOverlap is how long a rotated destination secret keeps
	// signing beside the new one (default 24h).
	RotationOverlap Duration `yaml:"rotation_overlap"`
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	return &Config{
		Addr:      "127.0.0.1:8080",
		DataDir:   "./relay-data",
		LogLevel:  "info",
		LogFormat: "json",
		Ingest: Ingest{
			MaxBodyBytes: 10 << 20,
			BatchMax:     256,
		},
		Providers: Providers{
			GitHub: GitHub{APIURL: "https://api.github.com", WebURL: "https://github.com"},
			Linear: Linear{TimestampTolerance: Duration(60 * time.Second),
				APIURL: "https://api.linear.app", WebURL: "https://linear.app"},
			Sentry: Sentry{APIURL: "https://sentry.io", WebURL: "https://sentry.io"},
			Vercel: Vercel{APIURL: "https://api.vercel.com", WebURL: "https://vercel.com"},
			Bridge: Bridge{APIURL: "https://api.bridge.xyz", TimestampTolerance: Duration(10 * time.Minute)},
			Persona: Persona{APIURL: "https://withpersona.com", TimestampTolerance: Duration(5 * time.Minute),
				EmailField: "email-address"},
		},
		Delivery: Delivery{
			Timeout:         Duration(relay.DefaultTimeout),
			RotationOverlap: Duration(relay.DefaultRotationOverlap),
			RetrySchedule: []Duration{0, Duration(5 * time.Second), Duration(5 * time.Minute),
				Duration(30 * time.Minute), Duration(2 * time.Hour), Duration(5 * time.Hour),
				Duration(10 * time.Hour), Duration(10 * time.Hour)},
			Jitter:         0.1,
			MaxConcurrency: relay.DefaultMaxConcurrency,
			Lease:          Duration(60 * time.Second),
			PollInterval:   Duration(time.Second),
		},
		Backfill: Backfill{DepthDays: 30, MaxUndelivered: 1000, Concurrency: 2, MaxAttempts: 5},
		Jobs:     Jobs{RescueAfter: Duration(3 * time.Minute), Workers: 8},
		Resolve:  Resolve{SweepInterval: Duration(time.Minute)},

		Retention: defaultRetention,
	}
}

// Source defaults, applied to sources that leave them unset.
const (
	DefaultSourceTolerance = 5 * time.Minute // standard-webhooks timestamp_tolerance
	DefaultSourceEncoding  = "hex"           // hmac-sha256 encoding
)

// Load returns the configuration: the defaults, overlaid with the YAML file
// at path (none when path is ""), overlaid with the environment as read
// through getenv, then validated. Its errors are plain errors whose text
// starts with "config:" and names the offending key, file line or
// environment variable; they never contain a secret.
func Load(path string, getenv func(string) string) (*Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := c.decodeYAML(path, b); err != nil {
			return nil, err
		}
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if err := applyEnv(c, getenv); err != nil {
		return nil, err
	}
	c.fillDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeYAML overlays the YAML document b (read from file name) on c,
// rejecting keys that Config does not have.
func (c *Config) decodeYAML(name string, b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if errors.Is(err, io.EOF) { // an empty file: nothing to overlay
		return nil
	}
	if err != nil {
		// yaml.v3 names neither the key's full path nor, for values,
		// the key at all; say which key it was when we can tell.
		if better := explainYAML(b); better != nil {
			errs := make([]error, len(better))
			for i, e := range better {
				errs[i] = fmt.Errorf("config: %s %w", name, e)
			}
			return errors.Join(errs...)
		}
		return fmt.Errorf("config: %s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: want a single YAML document", name)
	}
	return nil
}

// fillDefaults sets the per-item defaults of list elements, which may have
// come from the file or the environment.
func (c *Config) fillDefaults() {
	for i := range c.Sources {
		s := &c.Sources[i]
		if s.Scheme == "standard-webhooks" && s.TimestampTolerance == 0 {
			s.TimestampTolerance = Duration(DefaultSourceTolerance)
		}
		if s.Scheme == "hmac-sha256" && s.Encoding == "" {
			s.Encoding = DefaultSourceEncoding
		}
	}
}

// BaseURL returns the external base URL, without a trailing slash:
// PublicURL, or "http://" + Addr when it is not set.
func (c *Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	return "http://" + c.Addr
}

// Destinations returns the configured destinations as domain values, with
// MaxConcurrency and Timeout defaulting to Delivery's, and unordered
// unless Ordering says otherwise. IDs and times are
// left for the caller to set; Secret is copied.
func (c *Config) Destinations() []*relay.Destination {
	out := make([]*relay.Destination, len(c.Dests))
	for i := range c.Dests {
		out[i] = c.destination(i)
	}
	return out
}

func (c *Config) destination(i int) *relay.Destination {
	d := c.Dests[i]
	out := &relay.Destination{
		Name:           d.Name,
		URL:            d.URL,
		Secret:         d.Secret,
		Providers:      append([]string(nil), d.Providers...),
		EventTypes:     append([]string(nil), d.EventTypes...),
		OrgID:          d.OrgID,
		MaxConcurrency: d.MaxConcurrency,
		Timeout:        relay.Duration(d.Timeout),
		Ordering:       d.Ordering,
		OnDead:         d.OnDead,
	}
	if d.Secret == "" && len(d.Secrets) > 0 {
		out.Secret = d.Secrets[0]
		if len(d.Secrets) > 1 {
			out.PreviousSecret = d.Secrets[1]
		}
	}
	if out.MaxConcurrency == 0 {
		out.MaxConcurrency = c.Delivery.MaxConcurrency
	}
	if out.Timeout == 0 {
		out.Timeout = relay.Duration(c.Delivery.Timeout)
	}
	if out.Ordering == "" {
		out.Ordering = relay.OrderingNone
	}
	if out.OnDead == "" {
		out.OnDead = relay.OnDeadSkip
	}
	return out
}
