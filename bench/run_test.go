package bench

import (
	"strings"
	"testing"
)

func TestReplicasOnPostgresShareEncryptionKeys(t *testing.T) {
	// Replicas on one PostgreSQL database read each other's destination
	// secrets, so they must start with the same vault key: a second
	// replica with a key file of its own refuses to start.
	env := clusterEnv(Options{DatabaseURL: "postgres://db/test"}, "http://127.0.0.1:1/events")
	var keys string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "RELAY_ENCRYPTION_KEYS="); ok {
			keys = v
		}
	}
	if len(keys) != 64 {
		t.Fatalf("RELAY_ENCRYPTION_KEYS = %q, want one 64-hex-digit key", keys)
	}
}
