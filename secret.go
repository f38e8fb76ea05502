package relay

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
)

// SecretPrefix starts every Standard Webhooks signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a new Standard Webhooks secret: "whsec_" + base64 of 32
// random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ValidateSecret checks that s is "whsec_" + base64 of 24 to 64 bytes, as the
// Standard Webhooks spec requires. It returns an *Error with code EINVALID.
func ValidateSecret(s string) error {
	if !strings.HasPrefix(s, SecretPrefix) {
		return Errorf(EINVALID, "must start with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	if err != nil {
		return Errorf(EINVALID, "must be %q followed by standard base64", SecretPrefix)
	}
	if len(key) < 24 || len(key) > 64 {
		return Errorf(EINVALID, "must encode 24 to 64 bytes, not %d", len(key))
	}
	return nil
}
