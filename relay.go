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
	"sync"
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
// first, so ids sort by creation time; 80 random bits follow. Within one
// process, ids made in the same millisecond are monotonic (the random part
// of the last one plus one, as monotonic ULIDs do): arrival order, which
// releasing held events and ordered delivery rely on, is id order even
// for events a few microseconds apart.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16)
	idState.Lock()
	if ms == idState.ms && increment(&idState.last) {
		copy(b[6:], idState.last[:])
	} else {
		_, _ = rand.Read(b[6:])
		// Leave room to count up within the millisecond.
		b[6] &= 0x7f
		copy(idState.last[:], b[6:])
		idState.ms = ms
	}
	idState.Unlock()
	var sb strings.Builder
	sb.Grow(len(prefix) + 1 + 26)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	sb.WriteString(idEncoding.EncodeToString(b[:]))
	return sb.String()
}

// idState is the last id's millisecond and random part (NewID).
var idState struct {
	sync.Mutex
	ms   uint64
	last [10]byte
}

// increment adds one to the big-endian number in b; false on overflow.
func increment(b *[10]byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return true
		}
	}
	return false
}
