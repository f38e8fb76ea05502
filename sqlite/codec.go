package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/klauspost/compress/s2"
)

// An event's payload is most of its row. A ~2 KB webhook left as received
// fills a 4 KB page on its own (the next row does not fit beside it);
// compressed it takes about half that, and two or three events share a
// page: fewer pages to write to the WAL, to checkpoint and to keep on disk.
//
// The codec is S2 (Snappy's successor, from klauspost/compress), not zstd:
// on a 2.1 KB GitHub webhook zstd's fastest level stores 944 bytes in
// 14 µs, S2 1,194 bytes in 2.3 µs. Compression runs once per event on the
// ingest commit path, where zstd cost 8 % of an event's CPU at 2,000/s;
// S2's extra 250 bytes leave an event at about 2.4 KB on disk against 4.6
// uncompressed.
//
// Headers stay JSON text: a provider's few headers are 150-300 bytes that
// do not compress enough to pay for it.
//
// Each row records how its payload is stored (events.payload_codec), so
// rows written before compression, or by a later version with another
// codec, are read by what they say, never by guessing from the bytes.
const (
	codecRaw = 0 // as received
	codecS2  = 1 // an S2 block, then the CRC-32C of the payload (4 bytes, little-endian)
)

// maxDecoded bounds what one stored payload may decode to: the largest
// webhook body Relay accepts (ingest.max_body_bytes at most 1 GiB). A
// corrupt block claiming more fails instead of allocating it.
const maxDecoded = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SQLite does not checksum its pages and an S2 block has no checksum of its
// own, so each stored value carries the CRC-32C of the payload: a damaged
// value is an error rather than different bytes.

// pack compresses a payload, to be stored with codecS2.
func pack(payload []byte) []byte {
	out := s2.Encode(make([]byte, s2.MaxEncodedLen(len(payload))+4), payload)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(payload, castagnoli))
}

// errCorrupt says a stored value does not decode to what was stored.
var errCorrupt = errors.New("stored value is corrupt")

// unpack returns a stored payload as it was received. A value that does
// not decode (a damaged row) and an unknown codec are errors.
func unpack(codec int64, stored []byte) ([]byte, error) {
	switch codec {
	case codecRaw:
		return stored, nil
	case codecS2:
		if len(stored) < 4 {
			return nil, fmt.Errorf("%w: %d bytes", errCorrupt, len(stored))
		}
		block, sum := stored[:len(stored)-4], binary.LittleEndian.Uint32(stored[len(stored)-4:])
		n, err := s2.DecodedLen(block)
		if err != nil {
			return nil, fmt.Errorf("%w: s2: %w", errCorrupt, err)
		}
		if n > maxDecoded {
			return nil, fmt.Errorf("%w: claims %d bytes", errCorrupt, n)
		}
		out, err := s2.Decode(make([]byte, n), block)
		if err != nil {
			return nil, fmt.Errorf("%w: s2: %w", errCorrupt, err)
		}
		if crc32.Checksum(out, castagnoli) != sum {
			return nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("stored value has unknown codec %d", codec)
	}
}
