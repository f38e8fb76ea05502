package sqlite

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// An event's payload is most of its row. A ~2 KB webhook left as received
// fills a 4 KB page on its own (the next row does not fit beside it);
// compressed with zstd at its fastest level it takes under half that, and
// three events share a page: fewer pages to write to the WAL, to checkpoint
// and to keep on disk.
//
// Headers stay JSON text. A provider's few headers are 150-300 bytes that
// zstd, without a dictionary, shrinks by 30 % at best and at worst grows by
// its frame overhead, for a third more compression CPU per event on the
// ingest commit path.
//
// Each row records how its payload is stored (events.payload_codec), so
// rows written before compression, or by a later version with another
// codec, are read by what they say, never by guessing from the bytes.
const (
	codecRaw  = 0 // as received
	codecZstd = 1 // one zstd frame, with its content checksum
)

// maxDecoded bounds what one stored payload may decode to: the largest
// webhook body Relay accepts (ingest.max_body_bytes at most 1 GiB). A
// corrupt frame header claiming more fails instead of allocating it.
const maxDecoded = 1 << 30

// compressor packs and unpacks stored payloads. One Encoder and one Decoder
// serve the whole store: EncodeAll and DecodeAll are safe for concurrent
// use and keep their own small pools of per-call state, so no call
// allocates an encoder.
type compressor struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func newCompressor() (*compressor, error) {
	// Lower encoder memory: payloads are a few KB, and the default buffers
	// are sized for streams of megabytes. The frame's checksum (on by
	// default) stays: SQLite does not checksum its pages, and it is what
	// makes a damaged value an error rather than different bytes.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxDecoded))
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("sqlite: zstd decoder: %w", err)
	}
	return &compressor{enc: enc, dec: dec}, nil
}

// pack compresses a payload, to be stored with codecZstd.
func (c *compressor) pack(payload []byte) []byte {
	return c.enc.EncodeAll(payload, make([]byte, 0, len(payload)/2+64))
}

// unpack returns a stored payload as it was received. A value that does
// not decode (a damaged row) and an unknown codec are errors.
func (c *compressor) unpack(codec int64, stored []byte) ([]byte, error) {
	switch codec {
	case codecRaw:
		return stored, nil
	case codecZstd:
		out, err := c.dec.DecodeAll(stored, nil)
		if err != nil {
			return nil, fmt.Errorf("stored value is corrupt: zstd: %w", err)
		}
		if out == nil {
			out = []byte{} // an empty payload stays empty, not absent
		}
		return out, nil
	default:
		return nil, fmt.Errorf("stored value has unknown codec %d", codec)
	}
}

func (c *compressor) close() {
	c.enc.Close()
	c.dec.Close()
}
