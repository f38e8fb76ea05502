// Package vault encrypts secrets at rest (connection tokens, destination
// signing secrets) with AES-256-GCM under a ring of keys: the first key
// encrypts, every key decrypts, so keys rotate by putting a new one first,
// re-sealing what is stored (relay keys rotate), then dropping the old one.
// Each value is bound to its owner (the row it belongs to) through the
// AEAD's associated data, so a ciphertext copied to another row does not
// open.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/relayhq/relay"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// Keyring seals with its first key and opens with any of its keys. It
// implements relay.Sealer and is safe for concurrent use.
type Keyring struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

var _ relay.Sealer = (*Keyring)(nil)

// KeyID names a key without revealing it: the first 8 hex characters of
// SHA-256("relay-key-id:" || key). It is stored with every sealed value
// (relay.Sealed.KeyID), so configuration is just the list of keys.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("relay-key-id:"), key...))
	return hex.EncodeToString(sum[:4])
}

// New returns a keyring over keys (each KeySize bytes, as ParseKeys or
// LoadOrCreateKeyFile return them); keys[0] seals. It returns an error when
// keys is empty, a key has the wrong size, or a key is listed twice.
func New(keys [][]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: no key")
	}
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("vault: key %d: must be %d bytes", i, KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("vault: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: key %d: %w", i, err)
		}
		id := KeyID(key)
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("vault: key %d: listed twice", i)
		}
		k.ids = append(k.ids, id)
		k.aeads[id] = aead
	}
	return k, nil
}

// KeyError is a key of a list given to ParseKeys that cannot be used. Its
// text, "[1]: must be 64 hex characters (32 bytes)", is meant to follow the
// list's name (e.g. "encryption.keys"); it never contains the key.
type KeyError struct {
	Index  int    // position in the list
	Reason string // why it was refused
}

func (e *KeyError) Error() string { return fmt.Sprintf("[%d]: %s", e.Index, e.Reason) }

// ParseKeys decodes hex keys, 64 hex characters (KeySize bytes) each,
// surrounding spaces ignored. A bad or repeated entry is a *KeyError naming
// its index and what is wrong; an empty list is an error too (deciding what
// "no key configured" means is the caller's business).
func ParseKeys(hexKeys []string) ([][]byte, error) {
	if len(hexKeys) == 0 {
		return nil, errors.New("vault: no key given")
	}
	seen := map[string]int{}
	out := make([][]byte, len(hexKeys))
	for i, h := range hexKeys {
		h = strings.TrimSpace(h)
		b, err := hex.DecodeString(h)
		switch {
		case len(h) != 2*KeySize:
			return nil, &KeyError{i, fmt.Sprintf("must be %d hex characters (%d bytes), not %d characters", 2*KeySize, KeySize, len(h))}
		case err != nil:
			return nil, &KeyError{i, fmt.Sprintf("must be %d hex characters (%d bytes); it has a character that is not 0-9 or a-f", 2*KeySize, KeySize)}
		}
		id := string(b)
		if j, dup := seen[id]; dup {
			return nil, &KeyError{i, fmt.Sprintf("the same key as [%d]", j)}
		}
		seen[id] = i
		out[i] = b
	}
	return out, nil
}

// PrimaryID is the id of the key that seals (see KeyID).
func (k *Keyring) PrimaryID() string { return k.ids[0] }

// Seal encrypts plaintext under the first key with a fresh random 12-byte
// nonce; the ciphertext is nonce || sealed box. The key id and
// associatedData (the owner the value belongs to, e.g. relay.TokenAD) are
// authenticated with it, so the value opens only under the same key id and
// for the same owner. It fails only when the system's random source does.
func (k *Keyring) Seal(plaintext, associatedData []byte) (relay.Sealed, error) {
	id := k.ids[0]
	aead := k.aeads[id]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return relay.Sealed{}, fmt.Errorf("vault: nonce: %w", err)
	}
	return relay.Sealed{KeyID: id, Ciphertext: aead.Seal(nonce, nonce, plaintext, boundAD(id, associatedData))}, nil
}

// boundAD is the AEAD's associated data of a value bound to its owner. The
// NUL after the key id sets it apart from legacyAD whatever the owner is,
// so a bound value never opens as a legacy one.
func boundAD(keyID string, owner []byte) []byte {
	ad := make([]byte, 0, len(keyID)+1+len(owner))
	ad = append(append(ad, keyID...), 0)
	return append(ad, owner...)
}

// legacyAD is the associated data of values sealed before they were bound
// to an owner: the key id alone.
func legacyAD(keyID string) []byte { return []byte(keyID) }

// Open decrypts a sealed value with the key its KeyID names, for the owner
// associatedData names. A value sealed before values were bound to their
// owner (under the key id alone) still opens, for any owner, until relay keys
// rotate re-seals it bound (Reseal). It returns an *Error EINTERNAL naming
// the key id when no key of the ring has it, or when the value does not
// authenticate (tampered, or copied from another owner's row).
func (k *Keyring) Open(s relay.Sealed, associatedData []byte) ([]byte, error) {
	p, _, err := k.open(s, associatedData)
	return p, err
}

// open is Open that also reports whether the value was a legacy one.
func (k *Keyring) open(s relay.Sealed, associatedData []byte) (p []byte, legacy bool, err error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, false, relay.Errorf(relay.EINTERNAL, "vault: no configured key has id %s (was it removed from encryption.keys?)", s.KeyID)
	}
	n := aead.NonceSize()
	if len(s.Ciphertext) < n+aead.Overhead() {
		return nil, false, relay.Errorf(relay.EINTERNAL, "vault: value sealed under key %s is truncated", s.KeyID)
	}
	nonce, box := s.Ciphertext[:n], s.Ciphertext[n:]
	if p, err := aead.Open(nil, nonce, box, boundAD(s.KeyID, associatedData)); err == nil {
		return p, false, nil
	}
	// GCM authenticates the associated data, so this succeeds only for a
	// value that was sealed unbound, never for one bound to another owner.
	if p, err := aead.Open(nil, nonce, box, legacyAD(s.KeyID)); err == nil {
		return p, true, nil
	}
	return nil, false, relay.Errorf(relay.EINTERNAL, "vault: value sealed under key %s does not authenticate (altered, or not this owner's)", s.KeyID)
}

// Reseal opens s and seals it again under the first key, bound to
// associatedData, for key rotation (relay keys rotate passes it to
// SecretStore.ResealAll). A value already bound and under the first key is
// returned as it is, not re-encrypted: callers tell the no-op by the
// returned value being s. Errors are Open's.
func (k *Keyring) Reseal(s relay.Sealed, associatedData []byte) (relay.Sealed, error) {
	p, legacy, err := k.open(s, associatedData)
	if err != nil {
		return relay.Sealed{}, err
	}
	if s.KeyID == k.ids[0] && !legacy {
		return s, nil
	}
	return k.Seal(p, associatedData)
}

// Missing returns the ids among keyIDs that no key of the ring has, in the
// order given: values sealed under them cannot be opened.
func (k *Keyring) Missing(keyIDs []string) []string {
	var out []string
	for _, id := range keyIDs {
		if _, ok := k.aeads[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// NewKey returns a new random key of KeySize bytes. It fails only when the
// system's random source does.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("vault: new key: %w", err)
	}
	return key, nil
}

// LoadKeyFile returns the key (KeySize bytes) held in hex in the file at
// path. It returns an error wrapping fs.ErrNotExist when there is no such
// file, and an error when the file grants more than 0600 (it must not be
// readable by others) or does not hold a key. A file being written by
// CreateKeyFile in another process is waited for briefly rather than taken
// for a bad one. Errors never contain the key.
func LoadKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vault: key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&^0o600 != 0 {
		return nil, fmt.Errorf("vault: key file %s has mode %v, broader than 0600; chmod 600 it", path, perm)
	}
	// A process that won the creation race may still be writing the file:
	// wait for a whole key rather than mistake a partial one for a bad file.
	const attempts, wait = 50, 10 * time.Millisecond
	var s string
	for range attempts {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("vault: read key file: %w", err)
		}
		if s = strings.TrimSpace(string(b)); len(s) >= 2*KeySize {
			break
		}
		time.Sleep(wait)
	}
	if s == "" {
		return nil, fmt.Errorf("vault: key file %s is empty (a start interrupted while creating it?); remove it to generate a new key", path)
	}
	keys, err := ParseKeys([]string{s})
	if err != nil {
		return nil, fmt.Errorf("vault: key file %s: must hold %d hex characters (%d bytes)", path, 2*KeySize, KeySize)
	}
	return keys[0], nil
}

// CreateKeyFile writes key in hex to a new file at path, mode 0600, and
// returns it with created true. Two processes creating it together end up
// with one key: the file is created exclusively (O_EXCL), written and
// synced, and when it exists already the key it holds is returned instead
// (created false; LoadKeyFile's errors). Errors never contain the key.
func CreateKeyFile(path string, key []byte) (stored []byte, created bool, err error) {
	if len(key) != KeySize {
		return nil, false, fmt.Errorf("vault: key must be %d bytes", KeySize)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		stored, err := LoadKeyFile(path)
		return stored, false, err
	case err != nil:
		return nil, false, fmt.Errorf("vault: create key file: %w", err)
	}
	if err := writeKey(f, key); err != nil {
		os.Remove(path) // so that the next start tries again
		return nil, false, fmt.Errorf("vault: key file %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return key, true, nil
}

// writeKey writes key in hex to f, syncs and closes it.
func writeKey(f *os.File, key []byte) error {
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// syncDir makes a new directory entry durable. It is best effort: the key
// is already synced, and some systems cannot sync a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
