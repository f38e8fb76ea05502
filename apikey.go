package relay

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// APIKey is a bearer key for /api/v1. Only its SHA-256 hash is stored; the
// key itself is shown once, when created. An admin key (OrgID "") sees every
// org; an org-scoped key sees only its org's data.
type APIKey struct {
	ID    string `json:"id"` // "key_…"
	OrgID string `json:"org_id,omitempty"`
	Name  string `json:"name"`
	// Prefix is the start of the key (APIKeyPrefix), kept so that people can
	// tell their keys apart; keys made before it was kept have none.
	Prefix    string    `json:"prefix,omitempty"`
	Hash      string    `json:"-"` // hex SHA-256 of the key
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when the key last authenticated a request, to within
	// APIKeyUsageResolution; zero when never.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// IsAdmin reports whether the key sees every org.
func (k *APIKey) IsAdmin() bool { return k.OrgID == "" }

// APIKeyUsageResolution is how stale an APIKey's LastUsedAt may be: it is
// written at most this often per key, so that authenticating a request
// does not cost a database write.
const APIKeyUsageResolution = time.Minute

// Names of the admin keys Relay makes itself at start. Keys created
// through the API may not take them, since start-up replaces or removes
// the keys of these names.
const (
	GeneratedAdminKeyName  = "admin"          // made at first start, printed once
	ConfiguredAdminKeyName = "admin (config)" // the key of admin_api_key
)

// NewAPIKeySecret returns a new random API key ("rk_" + 64 hex characters).
func NewAPIKeySecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "rk_" + hex.EncodeToString(b)
}

// HashAPIKey returns the hex SHA-256 of key, the form keys are stored and
// looked up in. Keys are 256-bit random values, so a fast hash is enough.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// APIKeyPrefix returns the part of key that may be shown to tell keys
// apart: its first 11 characters ("rk_" and 8 hex digits of a generated
// key) but never more than a sixth of it, so that the prefix of a short
// configured key gives little of it away.
func APIKeyPrefix(key string) string {
	return key[:min(11, len(key)/6)]
}

// ValidateAPIKeyName checks the name of a key created through the API:
// 1-200 characters, and not one of the names Relay gives its own admin
// keys (GeneratedAdminKeyName, ConfiguredAdminKeyName), which start-up
// replaces. It returns EINVALID.
func ValidateAPIKeyName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return Errorf(EINVALID, "API key name required")
	case utf8.RuneCountInString(name) > 200:
		return Errorf(EINVALID, "API key name must be at most 200 characters")
	case name == GeneratedAdminKeyName || name == ConfiguredAdminKeyName:
		return Errorf(EINVALID, "API key name %q is kept for the admin key Relay makes at start; choose another", name)
	}
	return nil
}

// CanRevoke returns nil when k may be revoked while admins admin keys exist
// (k among them when it is one): the last admin key is ECONFLICT, since
// without one no new org key could be made.
func (k *APIKey) CanRevoke(admins int) error {
	if k.IsAdmin() && admins <= 1 {
		return Errorf(ECONFLICT, "API key %s is the last admin key; create another admin key first", k.ID)
	}
	return nil
}
