package generic_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/generic"
)

// With id_header configured the delivery id may come from a header the
// signature does not cover, so Parse also gives the hex SHA-256 of the signed
// body as BodyKey (header present or not). Without it every id is taken from
// the signed body already, and there is no second key.
func TestHMACBodyKey(t *testing.T) {
	body := []byte(`{"type":"order.created"}`)
	sum := sha256.Sum256(body)
	want := hex.EncodeToString(sum[:])
	withHeader, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Sig", Secret: "s", IDHeader: "X-Acme-Delivery"})
	without, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Sig", Secret: "s"})
	tests := []struct {
		name   string
		src    *generic.HMAC
		header http.Header
		want   string
	}{
		{"id header present", withHeader, http.Header{"X-Acme-Delivery": {"d-1"}}, want},
		{"id header configured, absent", withHeader, http.Header{}, want},
		{"no id header configured", without, http.Header{"X-Acme-Delivery": {"d-1"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := tt.src.Parse(&relay.WebhookRequest{Header: tt.header, Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if in.BodyKey != tt.want {
				t.Fatalf("body key %q, want %q", in.BodyKey, tt.want)
			}
		})
	}
}
