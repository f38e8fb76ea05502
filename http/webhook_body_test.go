package http

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/relayhq/relay"
)

// A request that declares a large Content-Length but sends a few bytes
// must not make readBody allocate what was declared: idle sockets declaring
// 10 MiB each would otherwise hold the heap hostage. The bytes allocated
// during the read are counted with runtime.MemStats.
func TestReadBodyGrowsWithTheBytes(t *testing.T) {
	const declared = 32 << 20
	body := []byte(`{"small":true}`)
	r := httptest.NewRequest(http.MethodPost, "/webhooks/x", bytes.NewReader(body))
	r.ContentLength = declared
	w := httptest.NewRecorder()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := readBody(w, r, 64<<20)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("reading %d bytes allocated %d bytes", len(body), n)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("body %q", got)
	}
}

// The limit still holds whatever Content-Length says: declared over it, or
// undeclared (chunked) and sent over it, the answer is ETOOLARGE.
func TestReadBodyLimit(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 2048)
	for name, declared := range map[string]int64{"declared": int64(len(big)), "chunked": -1} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/x", bytes.NewReader(big))
			r.ContentLength = declared
			_, err := readBody(httptest.NewRecorder(), r, 1024)
			if code := relay.ErrorCode(err); code != relay.ETOOLARGE {
				t.Fatalf("code %q (%v)", code, err)
			}
		})
	}
}
