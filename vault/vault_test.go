package vault_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/vault"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, vault.KeySize) }

func TestSealOpen(t *testing.T) {
	k, err := vault.New([][]byte{key(1)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := k.Seal([]byte("gho_secret"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.Seal([]byte("gho_secret"))
	if bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Fatal("same ciphertext twice: nonce reused")
	}
	if bytes.Contains(a.Ciphertext, []byte("gho_secret")) {
		t.Fatal("plaintext visible in the ciphertext")
	}
	p, err := k.Open(a)
	if err != nil || string(p) != "gho_secret" {
		t.Fatalf("open: %q %v", p, err)
	}
	tampered := relay.Sealed{KeyID: a.KeyID, Ciphertext: bytes.Clone(a.Ciphertext)}
	tampered.Ciphertext[len(tampered.Ciphertext)-1] ^= 1
	if _, err := k.Open(tampered); relay.ErrorCode(err) != relay.EINTERNAL {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := k.Open(relay.Sealed{KeyID: "00000000", Ciphertext: a.Ciphertext}); err == nil || !strings.Contains(err.Error(), "00000000") {
		t.Fatalf("unknown key id: %v", err)
	}
	if _, err := k.Open(relay.Sealed{KeyID: a.KeyID, Ciphertext: a.Ciphertext[:5]}); err == nil {
		t.Fatal("truncated value opened")
	}
}

func TestRotation(t *testing.T) {
	oldRing, _ := vault.New([][]byte{key(1)})
	s, _ := oldRing.Seal([]byte("refresh-token"))
	both, err := vault.New([][]byte{key(2), key(1)})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := both.Open(s); err != nil || string(p) != "refresh-token" {
		t.Fatalf("old value under the new ring: %v", err)
	}
	moved, err := both.Reseal(s)
	if err != nil || moved.KeyID != vault.KeyID(key(2)) || moved.KeyID == s.KeyID {
		t.Fatalf("reseal: %+v %v", moved, err)
	}
	if again, _ := both.Reseal(moved); !bytes.Equal(again.Ciphertext, moved.Ciphertext) {
		t.Fatal("resealing a value already under the first key changed it")
	}
	newRing, _ := vault.New([][]byte{key(2)})
	if p, err := newRing.Open(moved); err != nil || string(p) != "refresh-token" {
		t.Fatalf("after dropping the old key: %v", err)
	}
	if _, err := newRing.Open(s); err == nil {
		t.Fatal("a value under a dropped key opened")
	}
}

func TestParseKeys(t *testing.T) {
	good := hex.EncodeToString(key(7))
	if ks, err := vault.ParseKeys([]string{good, hex.EncodeToString(key(8))}); err != nil || len(ks) != 2 {
		t.Fatalf("good keys: %v", err)
	}
	for name, in := range map[string][]string{
		"none":      nil,
		"short":     {good[:63]},
		"not hex":   {strings.Repeat("zz", 32)},
		"duplicate": {good, strings.ToUpper(good)},
		"too long":  {good + "00"},
	} {
		_, err := vault.ParseKeys(in)
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), good[:16]) {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
	if _, err := vault.New([][]byte{key(1), key(1)}); err == nil {
		t.Fatal("duplicate key accepted")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.key")
	k1, created, err := vault.LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k1) != vault.KeySize {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	k2, created, err := vault.LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("reuse: %v %v", created, err)
	}
	_ = os.Chmod(path, 0o644)
	if _, _, err := vault.LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("wide permissions: %v", err)
	}
}

func TestKeyFileConcurrentStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.key")
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := vault.LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for i := range keys {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("process %d got another key", i)
		}
	}
}
