package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/vault"
)

// BuiltinProviders are the names of the code-defined providers: the
// sections of Providers, so that a provider's config section is its
// registration here. A generic source may not take one, since both would be
// served at /webhooks/{name}.
var BuiltinProviders = providerSections()

// providerSections returns the yaml names of Providers' fields, in order.
func providerSections() []string {
	t := reflect.TypeFor[Providers]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		names = append(names, name)
	}
	return names
}

// OpsProvider is the provider name of Relay's own operational events
// (package ops). A source of that name could post events destinations take
// for Relay's own, so it is reserved like the built-in names.
const OpsProvider = "relay"

var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// MinAdminAPIKeyLength is the shortest admin_api_key Validate accepts: a
// key that opens every org's data must not be guessable.
const MinAdminAPIKeyLength = 24

// Limits checked by Validate.
const (
	minBodyBytes    = 1 << 10
	maxBodyBytes    = 1 << 30
	maxBatch        = 10000
	maxRetryWait    = 24 * time.Hour
	minTimeout      = 100 * time.Millisecond
	maxTimeout      = 5 * time.Minute
	maxConcurrency  = 1000
	minPollInterval = 10 * time.Millisecond
)

// Validate checks the whole configuration. It reports every problem it
// finds, joined, one per line; each is a plain error whose text starts with
// "config: " and the key's path, e.g. "config: destinations[0].url: must be
// an absolute http:// or https:// URL". No message contains a secret.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", path, fmt.Sprintf(format, args...)))
	}

	if host, port, err := net.SplitHostPort(c.Addr); err != nil || strings.ContainsAny(host, " /") || !validPort(port) {
		bad("addr", "must be host:port, e.g. 127.0.0.1:8080 or :8080")
	}
	if c.DataDir == "" {
		bad("data_dir", "required")
	}
	if n := utf8.RuneCountInString(c.AdminAPIKey); n > 0 && n < MinAdminAPIKeyLength {
		bad("admin_api_key", "too short (%d characters): use at least %d characters of random, e.g. the output of 'relay keygen --kind api-key'",
			n, MinAdminAPIKeyLength)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		bad("database_url", "must be empty (SQLite in data_dir) or a postgres:// or postgresql:// URL")
	}
	if c.PublicURL != "" {
		if msg := checkPublicURL(c.PublicURL); msg != "" {
			bad("public_url", "%s", msg)
		}
	}
	c.validateRetention(bad)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "must be debug, info, warn or error")
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("log_format", "must be json or text")
	}

	if n := c.Ingest.MaxBodyBytes; n < minBodyBytes || n > maxBodyBytes {
		bad("ingest.max_body_bytes", "must be between %d (1 KiB) and %d (1 GiB)", minBodyBytes, maxBodyBytes)
	}
	if n := c.Ingest.BatchMax; n < 1 || n > maxBatch {
		bad("ingest.batch_max", "must be between 1 and %d", maxBatch)
	}

	if c.Providers.Linear.TimestampTolerance <= 0 {
		bad("providers.linear.timestamp_tolerance", "must be positive")
	}
	if len(c.Encryption.Keys) > 0 {
		if _, err := vault.ParseKeys(c.Encryption.Keys); err != nil {
			var ke *vault.KeyError
			if errors.As(err, &ke) {
				bad(fmt.Sprintf("encryption.keys[%d]", ke.Index), "%s", ke.Reason)
			} else {
				bad("encryption.keys", "%v", err)
			}
		}
	}
	c.validateProviders(bad)
	c.validateResolvers(bad)
	for i, o := range c.Connect.AllowedReturnOrigins {
		if msg := checkOrigin(o); msg != "" {
			bad(fmt.Sprintf("connect.allowed_return_origins[%d]", i), "%s", msg)
		}
	}

	seen := map[string]int{}
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		switch {
		case s.Name == "":
			bad(p+".name", "required")
		case !sourceName.MatchString(s.Name):
			bad(p+".name", "must be 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit")
		case s.Name == OpsProvider:
			bad(p+".name", "%q is reserved for Relay's own operational events; choose another name", s.Name)
		case slices.Contains(BuiltinProviders, s.Name):
			bad(p+".name", "%q is a built-in provider; choose another name", s.Name)
		default:
			if j, dup := seen[s.Name]; dup {
				bad(p+".name", "%q is already the name of sources[%d]", s.Name, j)
			}
			seen[s.Name] = i
		}
		if s.Secret == "" {
			bad(p+".secret", "required")
		}
		switch s.Scheme {
		case "standard-webhooks":
			if s.Secret != "" {
				if err := relay.ValidateSecret(s.Secret); err != nil {
					bad(p+".secret", "%s", relay.ErrorMessage(err))
				}
			}
			if s.TimestampTolerance <= 0 {
				bad(p+".timestamp_tolerance", "must be positive")
			}
		case "hmac-sha256":
			if s.Header == "" {
				bad(p+".header", "required for scheme hmac-sha256")
			}
			if s.Encoding != "hex" && s.Encoding != "base64" {
				bad(p+".encoding", "must be hex or base64")
			}
		case "":
			bad(p+".scheme", "required: standard-webhooks or hmac-sha256")
		default:
			bad(p+".scheme", "must be standard-webhooks or hmac-sha256")
		}
	}

	d := c.Delivery
	if t := time.Duration(d.Timeout); t < minTimeout || t > maxTimeout {
		bad("delivery.timeout", "must be between %s and %s", minTimeout, maxTimeout)
	}
	if len(d.RetrySchedule) == 0 {
		bad("delivery.retry_schedule", "must list at least one wait (e.g. [0s, 5s, 5m])")
	}
	for i, w := range d.RetrySchedule {
		if w < 0 || time.Duration(w) > maxRetryWait {
			bad(fmt.Sprintf("delivery.retry_schedule[%d]", i), "must be between 0s and %s", maxRetryWait)
		}
	}
	if d.Jitter < 0 || d.Jitter > 1 {
		bad("delivery.jitter", "must be between 0 and 1")
	}
	if d.MaxConcurrency < 1 || d.MaxConcurrency > maxConcurrency {
		bad("delivery.max_concurrency", "must be between 1 and %d", maxConcurrency)
	}
	if d.Lease <= d.Timeout {
		bad("delivery.lease", "must be longer than delivery.timeout (%s)", d.Timeout)
	}
	if time.Duration(d.PollInterval) < minPollInterval {
		bad("delivery.poll_interval", "must be at least %s", minPollInterval)
	}
	b := c.Backfill
	if b.DepthDays < 1 || b.DepthDays > 365 {
		bad("backfill.depth_days", "must be between 1 and 365")
	}
	if b.MaxUndelivered < 1 {
		bad("backfill.max_undelivered", "must be at least 1")
	}
	if b.Concurrency < 1 || b.Concurrency > 32 {
		bad("backfill.concurrency", "must be between 1 and 32")
	}
	if b.MaxAttempts < 1 || b.MaxAttempts > 25 {
		bad("backfill.max_attempts", "must be between 1 and 25")
	}
	if err := relay.ValidateRotationOverlap(time.Duration(d.RotationOverlap)); err != nil {
		bad("delivery.rotation_overlap", "must be between 0s and %s", relay.MaxRotationOverlap)
	}
	if time.Duration(c.Jobs.RescueAfter) < time.Second {
		bad("jobs.rescue_after", "must be at least 1s")
	}
	if c.Jobs.Workers < 1 || c.Jobs.Workers > 100 {
		bad("jobs.workers", "must be between 1 and 100")
	}

	names := map[string]int{}
	for i := range c.Dests {
		p := fmt.Sprintf("destinations[%d]", i)
		dst := c.destination(i)
		if cd := c.Dests[i]; cd.Secret != "" && len(cd.Secrets) > 0 {
			bad(p+".secrets", "set either secret or secrets, not both")
		} else if len(cd.Secrets) > 2 {
			bad(p+".secrets", "at most two: [new, old]")
		} else if dst.PreviousSecret != "" {
			if err := relay.ValidateSecret(dst.PreviousSecret); err != nil {
				bad(p+".secrets[1]", "%s", relay.ErrorMessage(err))
			}
		}
		if err := dst.Validate(); err != nil {
			// relay's messages start with the field: "url: must be …".
			errs = append(errs, fmt.Errorf("config: %s.%s", p, relay.ErrorMessage(err)))
			continue
		}
		if j, dup := names[dst.Name]; dup {
			bad(p+".name", "%q is already the name of destinations[%d]", dst.Name, j)
		}
		names[dst.Name] = i
		if time.Duration(dst.Timeout) >= time.Duration(d.Lease) {
			bad(p+".timeout", "must be shorter than delivery.lease (%s)", d.Lease)
		}
	}

	return errors.Join(errs...)
}

// validateProviders checks the providers' connect settings, reporting
// through bad as Validate does.
func (c *Config) validateProviders(bad func(path, format string, args ...any)) {
	p := c.Providers
	for _, u := range []struct{ key, url string }{
		{"github.api_url", p.GitHub.APIURL}, {"github.web_url", p.GitHub.WebURL},
		{"linear.api_url", p.Linear.APIURL}, {"linear.web_url", p.Linear.WebURL},
		{"sentry.api_url", p.Sentry.APIURL}, {"sentry.web_url", p.Sentry.WebURL},
		{"vercel.api_url", p.Vercel.APIURL}, {"vercel.web_url", p.Vercel.WebURL},
	} {
		if !absoluteHTTP(u.url) {
			bad("providers."+u.key, "must be an absolute http:// or https:// URL")
		}
	}

	// An OAuth client is an id and a secret: one without the other is a
	// mistake. (Sentry's and Vercel's client_secret alone is fine: it also
	// verifies their webhooks.)
	pair := func(name, id, secret string, secretAlone bool) {
		if id != "" && secret == "" {
			bad("providers."+name+".client_secret", "required with client_id")
		}
		if secret != "" && id == "" && !secretAlone {
			bad("providers."+name+".client_id", "required with client_secret")
		}
	}
	pair("github", p.GitHub.ClientID, p.GitHub.ClientSecret, false)
	pair("linear", p.Linear.ClientID, p.Linear.ClientSecret, false)
	pair("sentry", p.Sentry.ClientID, p.Sentry.ClientSecret, true)
	pair("vercel", p.Vercel.ClientID, p.Vercel.ClientSecret, true)
	if p.Sentry.ClientID != "" && p.Sentry.Slug == "" {
		bad("providers.sentry.slug", "required for the Sentry connect flow (with client_id): the integration's slug")
	}
	if p.Vercel.ClientID != "" && p.Vercel.Slug == "" {
		bad("providers.vercel.slug", "required for the Vercel connect flow (with client_id): the integration's slug")
	}

	if l := p.Linear; (l.ClientID != "" || l.ClientSecret != "") && l.WebhookSecret == "" {
		// Webhooks registered for a workspace are created with this secret;
		// without it Linear would pick one Relay never learns.
		bad("providers.linear.webhook_secret", "required with the Linear connect flow (client_id/client_secret)")
	}

	g := p.GitHub
	if g.AppID == "" && g.AppSlug == "" && g.PrivateKey == "" && g.PrivateKeyFile == "" && g.ClientID == "" && g.ClientSecret == "" {
		return // webhooks only
	}
	if g.ClientID == "" && g.ClientSecret == "" && !g.AllowUnverifiedInstallations {
		// One of the two alone is reported by pair above. The client
		// exchanges the installing user's code, without which a spoofed
		// installation_id cannot be told from a real one.
		for _, key := range []string{"client_id", "client_secret"} {
			bad("providers.github."+key, "required for the GitHub App connect flow: the App's OAuth client verifies "+
				"that the installing user can access the installation (or set allow_unverified_installations, which is unsafe)")
		}
	}
	if g.AppID == "" {
		bad("providers.github.app_id", "required for the GitHub App connect flow")
	}
	if g.AppSlug == "" {
		bad("providers.github.app_slug", "required for the GitHub App connect flow")
	}
	switch {
	case g.PrivateKey != "" && g.PrivateKeyFile != "":
		bad("providers.github.private_key", "set private_key or private_key_file, not both")
	case g.PrivateKey == "" && g.PrivateKeyFile == "":
		bad("providers.github.private_key", "required for the GitHub App connect flow (or private_key_file)")
	default:
		if _, err := g.RSAKey(); err != nil {
			key := "providers.github.private_key"
			if g.PrivateKeyFile != "" {
				key += "_file"
			}
			bad(key, "%s", err)
		}
	}
}

// checkPublicURL returns what is wrong with public_url, "" when nothing is.
// Relay appends its own paths (/oauth/…, /webhooks/…) to it, so it must
// be a scheme and a host only; a trailing slash is tolerated (BaseURL
// drops it).
func checkPublicURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || !absoluteHTTP(s):
		return "must be an absolute http:// or https:// URL, e.g. https://relay.example.com"
	case u.User != nil:
		return "must not contain a user name or password"
	case u.Path != "" && u.Path != "/":
		return fmt.Sprintf("must be a scheme and host only, without a path (%q): Relay adds its own paths to it", u.Path)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "must be a scheme and host only, without a query or fragment"
	}
	return ""
}

// checkOrigin returns what is wrong with an allowed return origin, "" when
// nothing is: like public_url, a scheme and a host (and port) only.
func checkOrigin(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || !absoluteHTTP(s):
		return "must be an http:// or https:// origin, e.g. https://app.example.com"
	case u.User != nil:
		return "must not contain a user name or password"
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "must be an origin: a scheme, a host and an optional port, without a path, query or fragment"
	}
	return ""
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// validateResolvers checks the resolver chains: known providers and types,
// each step's settings, and the provider credentials a step needs.
func (c *Config) validateResolvers(bad func(path, format string, args ...any)) {
	if c.Resolve.SweepInterval < Duration(time.Second) {
		bad("resolve.sweep_interval", "must be at least 1s")
	}
	if c.Providers.Bridge.TimestampTolerance <= 0 {
		bad("providers.bridge.timestamp_tolerance", "must be positive")
	}
	if c.Providers.Persona.TimestampTolerance <= 0 {
		bad("providers.persona.timestamp_tolerance", "must be positive")
	}
	for i, r := range c.Resolve.Resolvers {
		p := fmt.Sprintf("resolve.resolvers[%d]", i)
		known := slices.Contains(BuiltinProviders, r.Provider)
		for _, s := range c.Sources {
			known = known || s.Name == r.Provider
		}
		if !known {
			bad(p+".provider", "must be a provider or a configured source, not %q", r.Provider)
		}
		switch r.Type {
		case "bridge_customer":
			if c.Providers.Bridge.APIKey == "" {
				bad(p+".type", "bridge_customer needs providers.bridge.api_key")
			}
		case "persona_accounts_by_email":
			if c.Providers.Persona.APIKey == "" {
				bad(p+".type", "persona_accounts_by_email needs providers.persona.api_key")
			}
		case "payload":
			if r.Path == "" {
				bad(p+".path", "required for type payload")
			}
			if r.As == "" {
				bad(p+".as", "required for type payload: org_id or an attribute name")
			}
		case "http":
			if u, err := url.Parse(r.LookupURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(p+".lookup_url", "must be an http(s) URL")
			}
			if err := relay.ValidateSecret(r.Secret); err != nil {
				bad(p+".secret", "%s", relay.ErrorMessage(err))
			}
		default:
			bad(p+".type", "must be one of %s", strings.Join(ResolverTypes, ", "))
		}
	}
}
