package relay

import (
	"net/url"
	"path"
	"strings"
	"time"
)

// Destination is an endpoint of the team's app that receives events.
type Destination struct {
	ID             string   `json:"id"`   // "dst_…"
	Name           string   `json:"name"` // unique
	URL            string   `json:"url"`
	Secret         string   `json:"secret,omitempty"`      // whsec_…; only shown on create
	Providers      []string `json:"providers,omitempty"`   // empty = all
	EventTypes     []string `json:"event_types,omitempty"` // globs; empty = all
	OrgID          string   `json:"org_id,omitempty"`      // empty = all orgs
	MaxConcurrency int      `json:"max_concurrency"`       // in-flight requests at once
	Timeout        Duration `json:"timeout"`               // per request
	// Ordering is none (default) or the key whose deliveries are sent one
	// at a time in arrival order: resource, account, connection, or a
	// JSON path into the payload ("$.issue.id"). See OrderKey.
	Ordering string `json:"ordering"`
	// OnDead says what an ordered key does when its head delivery ends
	// dead: skip (default) moves on, block waits for a successful replay.
	OnDead         string `json:"on_dead"`
	Disabled       bool   `json:"disabled"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	// PausedUntil is set while the destination keeps failing: until then no
	// replica sends to it (its deliveries wait without using retries).
	PausedUntil time.Time `json:"paused_until,omitzero"`
	// PreviousSecret is the secret the last rotation replaced (never shown):
	// until PreviousSecretUntil every delivery is signed with it too, so a
	// consumer still verifying with it keeps accepting deliveries.
	PreviousSecret      string    `json:"-"`
	PreviousSecretUntil time.Time `json:"previous_secret_until,omitzero"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

// Destination defaults.
const (
	DefaultMaxConcurrency = 32
	DefaultTimeout        = 15 * time.Second
)

// Validate checks the destination and fills defaults. It returns an *Error
// with code EINVALID naming the bad field.
func (d *Destination) Validate() error {
	if d.Name == "" {
		return Errorf(EINVALID, "name: required")
	}
	if len(d.Name) > 100 || strings.ContainsAny(d.Name, " /\t\n") {
		return Errorf(EINVALID, "name: at most 100 characters, no spaces or slashes")
	}
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Errorf(EINVALID, "url: must be an absolute http:// or https:// URL")
	}
	if err := ValidateSecret(d.Secret); err != nil {
		return Errorf(EINVALID, "secret: %s", ErrorMessage(err))
	}
	for _, g := range d.EventTypes {
		if _, err := path.Match(g, ""); err != nil {
			return Errorf(EINVALID, "event_types: bad glob %q", g)
		}
	}
	if d.MaxConcurrency == 0 {
		d.MaxConcurrency = DefaultMaxConcurrency
	} else if d.MaxConcurrency < 1 || d.MaxConcurrency > 1000 {
		return Errorf(EINVALID, "max_concurrency: must be 1..1000")
	}
	if d.Timeout == 0 {
		d.Timeout = Duration(DefaultTimeout)
	} else if t := time.Duration(d.Timeout); t < 100*time.Millisecond || t > 5*time.Minute {
		return Errorf(EINVALID, "timeout: must be between 100ms and 5m")
	}
	return d.validateOrdering()
}

// Matches reports whether an event of this provider, type and org goes to d.
// A disabled destination still matches (its deliveries wait until it is
// enabled again).
func (d *Destination) Matches(provider, eventType, orgID string) bool {
	if d.OrgID != "" && d.OrgID != orgID {
		return false
	}
	if len(d.Providers) > 0 && !contains(d.Providers, provider) {
		return false
	}
	if len(d.EventTypes) == 0 {
		return true
	}
	for _, g := range d.EventTypes {
		if MatchGlob(g, eventType) {
			return true
		}
	}
	return false
}

// MatchGlob reports whether name matches the shell glob pattern ("*" matches
// any run of characters, dots included: "issues.*", "*.created", "*").
func MatchGlob(pattern, name string) bool {
	if pattern == "*" || pattern == name {
		return true
	}
	// path.Match's "*" stops at "/", which event types never contain.
	ok, _ := path.Match(pattern, name)
	return ok
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
