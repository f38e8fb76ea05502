package relay

import (
	"bytes"
	"context"
)

// The associated data of each kind of sealed value names its owner, with a
// prefix for the kind: a ciphertext copied to another row — another
// connection's, or another kind of secret of the same connection — does not
// open (Sealer). Stores pass the same to SecretStore.ResealAll's fn.

// TokenAD is the associated data a connection's token is sealed with.
func TokenAD(connectionID string) []byte { return []byte("token:" + connectionID) }

// DestinationSecretAD is the associated data a destination's signing secret
// is sealed with.
func DestinationSecretAD(destinationID string) []byte {
	return []byte("destination-secret:" + destinationID)
}

// WebhookSecretAD is the associated data a connection's webhook signing
// secret (the one Relay registered at the provider) is sealed with.
func WebhookSecretAD(connectionID string) []byte {
	return []byte("webhook-secret:" + connectionID)
}

// SecretStore is the part of a store that holds sealed secrets (connection
// tokens, destination signing secrets): what start-up checks and key
// rotation need. Implemented by sqlite and postgres; storetest checks both.
type SecretStore interface {
	// SealedKeyIDs returns the distinct key ids (Sealed.KeyID) of every
	// stored sealed value, deleted rows' included, sorted: start-up refuses
	// to run when one is not among the configured keys.
	SealedKeyIDs(ctx context.Context) ([]string, error)
	// SealPlaintextSecrets seals, with the store's sealer, the destination
	// secrets an earlier version stored in clear, and returns how many. It
	// is idempotent; without a sealer it is an error.
	SealPlaintextSecrets(ctx context.Context) (int, error)
	// ResealAll passes every stored sealed value, with the associated data
	// of its owner (TokenAD, WebhookSecretAD, DestinationSecretAD), to fn (key rotation), and
	// stores what fn returns, each row in its own short transaction. A value
	// fn returns unchanged is not written. It returns how many it rewrote;
	// an error of fn stops it.
	ResealAll(ctx context.Context, fn func(s Sealed, associatedData []byte) (Sealed, error)) (int, error)
}

// StoredSecret is a destination's signing secret as a store keeps it:
// sealed (Sealed.KeyID set, Clear ""), or in Clear when it was stored by a
// version that did not seal it or by a store given no Sealer.
type StoredSecret struct {
	Clear  string
	Sealed Sealed
}

// StoreSecret returns how to store a destination's signing secret: sealed
// by s, bound to the destination id; in clear when s is nil or secret is
// "". Errors are s.Seal's.
func StoreSecret(s Sealer, destinationID, secret string) (StoredSecret, error) {
	if s == nil || secret == "" {
		return StoredSecret{Clear: secret}, nil
	}
	v, err := s.Seal([]byte(secret), DestinationSecretAD(destinationID))
	if err != nil {
		return StoredSecret{}, err
	}
	return StoredSecret{Sealed: v}, nil
}

// Open returns the secret in clear. A sealed one needs s: without it the
// error is an *Error EINTERNAL; otherwise errors are s.Open's.
func (v StoredSecret) Open(s Sealer, destinationID string) (string, error) {
	if v.Sealed.KeyID == "" {
		return v.Clear, nil
	}
	if s == nil {
		return "", Errorf(EINTERNAL, "destination %s: its secret is sealed under key %s and the store has no sealer", destinationID, v.Sealed.KeyID)
	}
	p, err := s.Open(v.Sealed, DestinationSecretAD(destinationID))
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// Equal reports whether s and o are the same sealed bytes under the same
// key: a reseal that returns its input changed nothing and need not be
// written.
func (s Sealed) Equal(o Sealed) bool {
	return s.KeyID == o.KeyID && bytes.Equal(s.Ciphertext, o.Ciphertext)
}
