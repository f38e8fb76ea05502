// Package relay is the domain of the Relay integration gateway: the types that
// flow through it (events, deliveries, destinations, API keys), the interfaces
// its adapters implement (Store, Provider) and the one error type they return.
//
// It imports only the standard library. Adapters live in sub-packages named for
// what they wrap (sqlite, postgres, http, github, …); cmd/relay wires them.
package relay

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// Version is the build version, set with -ldflags "-X github.com/relayhq/relay.Version=…".
var Version = "dev"

// Event sources, carried in the outbound envelope's "source" field.
const (
	SourceLive     = "live"
	SourceBackfill = "backfill"
	SourceReplay   = "replay"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new random, time-ordered identifier with the given prefix,
// e.g. NewID("evt", now) = "evt_01jd…". The 48-bit millisecond timestamp comes
// first, so ids sort by creation time (to the millisecond); 80 random bits follow.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	var sb strings.Builder
	sb.Grow(len(prefix) + 1 + 26)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	sb.WriteString(idEncoding.EncodeToString(b[:]))
	return sb.String()
}
