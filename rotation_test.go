package relay

import (
	"testing"
	"time"
)

// A secret in the config file applies at start only when it is one Relay
// does not know: a config that still names the secret a rotation replaced
// (or the new one) keeps what the rotation stored.
func TestApplyConfigSecrets(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	a, b, c := NewSecret(), NewSecret(), NewSecret()
	rotated := &Destination{Secret: b, PreviousSecret: a, PreviousSecretUntil: now.Add(time.Hour)}
	tests := []struct {
		name           string
		stored         *Destination
		secret, prev   string
		wantSecret     string
		wantPrev       string
		wantUntil      time.Time
		wantKeptStored bool
	}{
		{"new destination", nil, a, "", a, "", time.Time{}, false},
		{"new destination with two secrets", nil, b, a, b, a, now.Add(DefaultRotationOverlap), false},
		{"unchanged", &Destination{Secret: a}, a, "", a, "", time.Time{}, true},
		{"config names the secret a rotation replaced", rotated, a, "", b, a, now.Add(time.Hour), true},
		{"config names the rotated secret", rotated, b, "", b, a, now.Add(time.Hour), true},
		{"config names [new, old] of the rotation", rotated, b, a, b, a, now.Add(time.Hour), true},
		{"config changed to an unknown secret", rotated, c, "", c, "", time.Time{}, false},
		{"config changed to [unknown, current]", rotated, c, b, c, b, now.Add(DefaultRotationOverlap), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &Destination{Secret: tc.secret, PreviousSecret: tc.prev}
			kept := d.ApplyConfigSecrets(tc.stored, now, DefaultRotationOverlap)
			if kept != tc.wantKeptStored || d.Secret != tc.wantSecret || d.PreviousSecret != tc.wantPrev || !d.PreviousSecretUntil.Equal(tc.wantUntil) {
				t.Errorf("got kept=%v secret %q previous %q until %v; want %v %q %q %v", kept, d.Secret, d.PreviousSecret,
					d.PreviousSecretUntil, tc.wantKeptStored, tc.wantSecret, tc.wantPrev, tc.wantUntil)
			}
		})
	}
}
