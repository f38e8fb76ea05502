package relay

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// APIKey is a bearer key for /api/v1. Only its SHA-256 hash is stored; the
// key itself is shown once, when created. An admin key (OrgID "") sees every
// org; an org-scoped key sees only its org's data.
type APIKey struct {
	ID        string    `json:"id"` // "key_…"
	OrgID     string    `json:"org_id,omitempty"`
	Name      string    `json:"name"`
	Hash      string    `json:"-"` // hex SHA-256 of the key
	CreatedAt time.Time `json:"created_at"`
}

// IsAdmin reports whether the key sees every org.
func (k *APIKey) IsAdmin() bool { return k.OrgID == "" }

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
