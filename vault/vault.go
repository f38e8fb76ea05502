// Package vault encrypts secrets at rest (connection tokens) with
// AES-256-GCM under a ring of keys: the first key encrypts, every key
// decrypts, so keys rotate by putting a new one first, re-sealing what is
// stored (relay keys rotate), then dropping the old one.
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

// KeyID names a key without revealing it: the first 8 hex characters of a
// SHA-256 of the key, stored with every sealed value.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("relay-key-id:"), key...))
	return hex.EncodeToString(sum[:4])
}

// New returns a keyring over keys (each KeySize bytes); keys[0] seals.
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

// ParseKeys decodes hex keys (64 hex characters each). Errors name the
// entry, never its value.
func ParseKeys(hexKeys []string) ([][]byte, error) {
	if len(hexKeys) == 0 {
		return nil, errors.New("no key given")
	}
	seen := map[string]int{}
	out := make([][]byte, len(hexKeys))
	for i, h := range hexKeys {
		h = strings.TrimSpace(h)
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != KeySize {
			return nil, fmt.Errorf("[%d]: must be %d hex characters (%d bytes)", i, 2*KeySize, KeySize)
		}
		if j, dup := seen[strings.ToLower(h)]; dup {
			return nil, fmt.Errorf("[%d]: the same key as [%d]", i, j)
		}
		seen[strings.ToLower(h)] = i
		out[i] = b
	}
	return out, nil
}

// PrimaryID is the id of the key that seals.
func (k *Keyring) PrimaryID() string { return k.ids[0] }

// Seal encrypts plaintext under the first key with a fresh random nonce;
// the ciphertext is nonce || sealed box.
func (k *Keyring) Seal(plaintext []byte) (relay.Sealed, error) {
	id := k.ids[0]
	aead := k.aeads[id]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return relay.Sealed{}, fmt.Errorf("vault: nonce: %w", err)
	}
	// The key id is authenticated too, so a value cannot be relabelled.
	return relay.Sealed{KeyID: id, Ciphertext: aead.Seal(nonce, nonce, plaintext, []byte(id))}, nil
}

// Open decrypts a sealed value with the key its KeyID names. It returns an
// *Error EINTERNAL naming the key id when no key of the ring has it, or
// when the value does not authenticate.
func (k *Keyring) Open(s relay.Sealed) ([]byte, error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, relay.Errorf(relay.EINTERNAL, "vault: no configured key has id %s (was it removed from encryption.keys?)", s.KeyID)
	}
	n := aead.NonceSize()
	if len(s.Ciphertext) < n+aead.Overhead() {
		return nil, relay.Errorf(relay.EINTERNAL, "vault: value sealed under key %s is truncated", s.KeyID)
	}
	p, err := aead.Open(nil, s.Ciphertext[:n], s.Ciphertext[n:], []byte(s.KeyID))
	if err != nil {
		return nil, relay.Errorf(relay.EINTERNAL, "vault: value sealed under key %s does not authenticate", s.KeyID)
	}
	return p, nil
}

// Reseal opens s and seals it again under the first key. A value already
// under the first key is returned unchanged.
func (k *Keyring) Reseal(s relay.Sealed) (relay.Sealed, error) {
	if s.KeyID == k.ids[0] {
		return s, nil
	}
	p, err := k.Open(s)
	if err != nil {
		return relay.Sealed{}, err
	}
	return k.Seal(p)
}

// LoadOrCreateKeyFile returns the key in the file at path, creating the file
// with a new random key (mode 0600) when it does not exist. Two processes
// starting together get the same key: creation is exclusive, and the loser
// reads the winner's file. A file readable by others is refused.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		key = make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("vault: new key: %w", err)
		}
		if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("vault: write key file: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("vault: write key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, false, fmt.Errorf("vault: write key file: %w", err)
		}
		return key, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, fmt.Errorf("vault: create key file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("vault: key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("vault: key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	// A concurrent creator may not have written it yet.
	for range 50 {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, false, fmt.Errorf("vault: read key file: %w", err)
		}
		if s := strings.TrimSpace(string(b)); s != "" {
			keys, err := ParseKeys([]string{s})
			if err != nil {
				return nil, false, fmt.Errorf("vault: key file %s: must hold %d hex characters", path, 2*KeySize)
			}
			return keys[0], false, nil
		}
		sleep()
	}
	return nil, false, fmt.Errorf("vault: key file %s is empty", path)
}

func sleep() { time.Sleep(10 * time.Millisecond) }
