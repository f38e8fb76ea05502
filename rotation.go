package relay

import (
	"crypto/subtle"
	"time"
)

// Rotation overlap bounds: how long, after a destination's secret is
// rotated, deliveries are signed with the previous secret too.
const (
	DefaultRotationOverlap = 24 * time.Hour
	MaxRotationOverlap     = 30 * 24 * time.Hour
)

// ValidateRotationOverlap returns an *Error EINVALID when overlap is
// negative or longer than MaxRotationOverlap.
func ValidateRotationOverlap(overlap time.Duration) error {
	if overlap < 0 || overlap > MaxRotationOverlap {
		return Errorf(EINVALID, "overlap: must be between 0s and %s", MaxRotationOverlap)
	}
	return nil
}

// ApplyConfigSecrets decides what a destination declared in the config file
// is signed with when Relay starts. d holds the configured secrets (Secret,
// and PreviousSecret when the file lists two); stored is the destination of
// the same name in the database, nil when there is none.
//
// The file must not undo a rotation made through the API: when the file's
// first secret is one the stored destination already knows (its current or
// its previous secret), the stored secrets are kept as they are and it
// returns true. Otherwise the file's secrets apply: the first signs, and a
// second one, when given, also signs until now+overlap — the same overlap
// a rotation gives, for a rotation done by editing the file.
func (d *Destination) ApplyConfigSecrets(stored *Destination, now time.Time, overlap time.Duration) (keptStored bool) {
	if stored != nil && (sameSecret(d.Secret, stored.Secret) || sameSecret(d.Secret, stored.PreviousSecret)) {
		d.Secret, d.PreviousSecret, d.PreviousSecretUntil = stored.Secret, stored.PreviousSecret, stored.PreviousSecretUntil
		return true
	}
	d.PreviousSecretUntil = time.Time{}
	if d.PreviousSecret != "" {
		d.PreviousSecretUntil = now.Add(overlap)
	}
	return false
}

// sameSecret compares two secrets in constant time; "" matches nothing.
func sameSecret(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
