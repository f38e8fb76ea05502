package postgres_test

import (
	"testing"

	"github.com/relayhq/relay/storetest"
)

// BenchmarkInsertEvents: one op is a batch of 100 events with one delivery each.
func BenchmarkInsertEvents(b *testing.B) { storetest.BenchInsertEvents(b, open(b)) }

// BenchmarkClaimRecord: one op claims 100 deliveries and records 100 outcomes.
func BenchmarkClaimRecord(b *testing.B) { storetest.BenchClaimRecord(b, open(b)) }
