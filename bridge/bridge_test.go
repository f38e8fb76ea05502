package bridge_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/bridge"
	"github.com/relayhq/relay/simulator"
)

// Bridge's published test data, from the "Test Data" section of "Webhook
// Event Signature Verification"
// (https://apidocs.bridge.xyz/v1/docs/webhook-event-signature-verification),
// which shows the public key with `\n` escapes as written here. The header
// and body were taken from copies of that section in public repositories
// (the stored copy of Bridge's page was cut off after the key); that they
// verify under Bridge's key, double-hashed and not single-hashed, is what
// vouches for them. The signature is from 2024-01-21, so the timestamp check
// must be off to verify it.
const (
	publishedKey    = `-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtqsEE4eI7EmzhcquGJXt\nLX9PMK0UH6Kl1WIR21sv8HtueG8BuvvpP3MiN7ltzmIhS8KaynCjN4l+620PnXeu\nxWG+CSnEdkinL9hCqbEid5vv9zl0j9LWiJx3FkKHqADU7cgm46aa8dKUdIQYF2X+\nO7WmyLkC4wUM/mWhBPMsIQBznashRMZxx7XJjsVp27ACUE4eNIjEXbVYN6U8jSbU\nhG++CfL8xXu+GHDqKmFE6Po6HnuURvLFVnCtE3mXXBcVFlPy+octfx8nOMLT3X8O\n9UehIigJ34o2yMm/Fq3HUJzg2BsiAiGgtr0vmeoV9Q7upSNj9TuOumAzZFi4pYA+\nqwIDAQAB\n-----END PUBLIC KEY-----`
	publishedHeader = "t=1705854411204,v0=jz/0dmHJ63FAzacGutrDTEoq+iSz/PHm/ugdooXDQu5NwuVIT2LmZGjsnCsBHgR9Py6OBP9zurzW4dHgygU4EDqmMPTUOvhvndYb4lWt+TY66LihaFI2whL6DAf/jb1QjYjNU0A6x9SLzC45dgE6X7zTDUM+2Z+scG/WEQf6SxQMt4E2sEipl5PqMK5lYUe3otdJV+X2c9D64bGwCEE7QSia+Vhozg8QNOQEk/rdz2IEONIg6oC43CeiN4E2kF9XLAGuy9uAHx9O9OJH5ZPLJZjyo4VcXYeWQgxaQ1gZ1Qu6hEEzgiPSff/1nou58dm4bIIazgCWli/mO0NyGcpfFw=="
	publishedBody   = `{"message":"Hello World!"}`
)

func TestPublishedVector(t *testing.T) {
	req := &relay.WebhookRequest{Header: http.Header{"X-Webhook-Signature": {publishedHeader}}, Body: []byte(publishedBody),
		ReceivedAt: time.Now()}
	p, err := bridge.New(bridge.Config{PublicKeys: []string{publishedKey}, SkipTimestamp: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(req); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// A negative tolerance disables the check too.
	neg, _ := bridge.New(bridge.Config{PublicKeys: []string{strings.ReplaceAll(publishedKey, `\n`, "\n")}, Tolerance: -1})
	if err := neg.Verify(req); err != nil {
		t.Fatalf("Verify with real line breaks and Tolerance -1: %v", err)
	}
	// With the default tolerance the 2024 signature is stale: 400, not 401.
	def, _ := bridge.New(bridge.Config{PublicKeys: []string{publishedKey}})
	if err := def.Verify(req); relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("stale published vector: code %q, want %q (%v)", relay.ErrorCode(err), relay.EINVALID, err)
	}
	// The vector is double-hashed: a single SHA-256 does not verify it.
	blk, _ := pem.Decode([]byte(strings.ReplaceAll(publishedKey, `\n`, "\n")))
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(strings.SplitN(publishedHeader, ",v0=", 2)[1])
	single := sha256.Sum256([]byte("1705854411204." + publishedBody))
	if rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, single[:], sig) == nil {
		t.Fatal("the published vector verifies single-hashed")
	}
	req.Body = []byte(`{"message":"Hello World?"}`)
	if err := p.Verify(req); relay.ErrorCode(err) != relay.EUNAUTHORIZED {
		t.Fatalf("tampered published vector: code %q", relay.ErrorCode(err))
	}
}

var (
	simsOnce   sync.Once
	sim, other *simulator.Bridge
)

// sims returns two Bridge simulators (each with its own key pair), made
// once: RSA key generation is slow.
func sims(t *testing.T) (*simulator.Bridge, *simulator.Bridge) {
	t.Helper()
	simsOnce.Do(func() {
		sim, other = simulator.NewBridge(nil), simulator.NewBridge(nil)
	})
	return sim, other
}

func TestVerify(t *testing.T) {
	a, b := sims(t)
	now := time.Date(2026, 3, 4, 15, 20, 9, 0, time.UTC)
	body := simulator.BridgeCustomerEvent("wh_1", "cust-1", "customer.updated")
	p, err := bridge.New(bridge.Config{PublicKeys: []string{a.PublicKeyPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		header func() http.Header
		body   []byte
		code   string
	}{
		{"valid", func() http.Header { return a.Webhook(body, now) }, body, ""},
		{"9 min old", func() http.Header { return a.Webhook(body, now.Add(-9*time.Minute)) }, body, ""},
		{"9 min ahead", func() http.Header { return a.Webhook(body, now.Add(9*time.Minute)) }, body, ""},
		{"tampered body", func() http.Header { return a.Webhook(body, now) }, append([]byte(" "), body...), relay.EUNAUTHORIZED},
		{"wrong key", func() http.Header { return b.Webhook(body, now) }, body, relay.EUNAUTHORIZED},
		{"stale", func() http.Header { return a.Webhook(body, now.Add(-11*time.Minute)) }, body, relay.EINVALID},
		{"future", func() http.Header { return a.Webhook(body, now.Add(11*time.Minute)) }, body, relay.EINVALID},
		{"missing header", func() http.Header { return http.Header{} }, body, relay.EUNAUTHORIZED},
		{"timestamp changed", func() http.Header {
			h := a.Webhook(body, now)
			ts := strings.TrimPrefix(strings.Split(h.Get(bridge.HeaderSignature), ",")[0], "t=")
			h.Set(bridge.HeaderSignature, strings.Replace(h.Get(bridge.HeaderSignature), ts, ts[:len(ts)-1]+"9", 1))
			return h
		}, body, relay.EUNAUTHORIZED},
		{"stale and wrong key", func() http.Header { return b.Webhook(body, now.Add(-time.Hour)) }, body, relay.EUNAUTHORIZED},
		{"no v0", func() http.Header {
			return http.Header{"X-Webhook-Signature": {strings.Split(a.Webhook(body, now).Get(bridge.HeaderSignature), ",")[0]}}
		}, body, relay.EUNAUTHORIZED},
		{"no t", func() http.Header {
			return http.Header{"X-Webhook-Signature": {strings.Split(a.Webhook(body, now).Get(bridge.HeaderSignature), ",")[1]}}
		}, body, relay.EUNAUTHORIZED},
		{"not base64", func() http.Header {
			return http.Header{"X-Webhook-Signature": {"t=" + ms(now) + ",v0=not*base64"}}
		}, body, relay.EUNAUTHORIZED},
		{"t not a number", func() http.Header {
			h := a.Webhook(body, now)
			h.Set(bridge.HeaderSignature, strings.Replace(h.Get(bridge.HeaderSignature), "t=", "t=x", 1))
			return h
		}, body, relay.EUNAUTHORIZED},
		{"two t", func() http.Header {
			h := a.Webhook(body, now)
			h.Set(bridge.HeaderSignature, "t="+ms(now)+","+h.Get(bridge.HeaderSignature))
			return h
		}, body, relay.EUNAUTHORIZED},
		{"garbage", func() http.Header { return http.Header{"X-Webhook-Signature": {"sha256=abc"}} }, body, relay.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Verify(&relay.WebhookRequest{Header: tt.header(), Body: tt.body, ReceivedAt: now})
			if got := relay.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (%v)", got, tt.code, err)
			}
		})
	}
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Each v0 costs an RSA verification per key before the request is
// authenticated, so a header may carry only a few: the valid signature is
// accepted among four others, and refused among five others or in a header
// padded past the length cap.
func TestVerifySignatureCap(t *testing.T) {
	a, b := sims(t)
	now := time.Date(2026, 3, 4, 15, 20, 9, 0, time.UTC)
	body := simulator.BridgeCustomerEvent("wh_cap", "cust-1", "customer.updated")
	p, err := bridge.New(bridge.Config{PublicKeys: []string{a.PublicKeyPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	valid := a.Webhook(body, now).Get(bridge.HeaderSignature)
	other := strings.Split(b.Webhook(body, now).Get(bridge.HeaderSignature), ",")[1] // "v0=…" by another key
	withOthers := func(n int) string { return valid + strings.Repeat(","+other, n) }
	tests := []struct {
		name   string
		header string
		code   string
	}{
		{"five v0", withOthers(4), ""},
		{"six v0", withOthers(5), relay.EUNAUTHORIZED},
		{"thousand v0", withOthers(1000), relay.EUNAUTHORIZED},
		{"long header", valid + ",pad=" + strings.Repeat("x", 8<<10), relay.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &relay.WebhookRequest{Header: http.Header{"X-Webhook-Signature": {tt.header}}, Body: body, ReceivedAt: now}
			if got := relay.ErrorCode(p.Verify(req)); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
		})
	}
}

func TestVerifyTwoKeys(t *testing.T) {
	a, b := sims(t)
	third := simulator.NewBridge(nil)
	defer third.Close()
	body := simulator.BridgeTransferEvent("wh_2", "tr-1", "cust-1", "transfer.created")
	// Both keys of a rotation, given as two strings and as one string with
	// two PEM blocks.
	for name, keys := range map[string][]string{
		"list":       {a.PublicKeyPEM(), b.PublicKeyPEM()},
		"one string": {a.PublicKeyPEM() + b.PublicKeyPEM()},
	} {
		p, err := bridge.New(bridge.Config{PublicKeys: keys})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, s := range []*simulator.Bridge{a, b} {
			if err := p.Verify(&relay.WebhookRequest{Header: s.Webhook(body, time.Time{}), Body: body, ReceivedAt: time.Now()}); err != nil {
				t.Fatalf("%s: key %d: %v", name, i+1, err)
			}
		}
		err = p.Verify(&relay.WebhookRequest{Header: third.Webhook(body, time.Time{}), Body: body, ReceivedAt: time.Now()})
		if relay.ErrorCode(err) != relay.EUNAUTHORIZED {
			t.Fatalf("%s: third key: code %q", name, relay.ErrorCode(err))
		}
	}
}

func TestVerifyClock(t *testing.T) {
	a, _ := sims(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body := simulator.BridgeCustomerEvent("wh_3", "cust-1", "customer.created")
	p, _ := bridge.New(bridge.Config{PublicKeys: []string{a.PublicKeyPEM()}, Tolerance: time.Minute,
		Now: func() time.Time { return at.Add(30 * time.Second) }})
	// No ReceivedAt: the Config's clock decides.
	if err := p.Verify(&relay.WebhookRequest{Header: a.Webhook(body, at), Body: body}); err != nil {
		t.Fatalf("within a 1 min tolerance: %v", err)
	}
	err := p.Verify(&relay.WebhookRequest{Header: a.Webhook(body, at), Body: body, ReceivedAt: at.Add(2 * time.Minute)})
	if relay.ErrorCode(err) != relay.EINVALID {
		t.Fatalf("outside a 1 min tolerance: code %q", relay.ErrorCode(err))
	}
}

func TestNew(t *testing.T) {
	for name, keys := range map[string][]string{
		"none":        nil,
		"empty":       {""},
		"not PEM":     {"hello"},
		"private key": {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		"bad DER":     {"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
	} {
		if _, err := bridge.New(bridge.Config{PublicKeys: keys}); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestParse(t *testing.T) {
	fixture, err := os.ReadFile("../testdata/bridge/virtual_account.activity.created.json")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := bridge.New(bridge.Config{PublicKeys: []string{publishedKey}})
	tests := []struct {
		name string
		body []byte
		want relay.Inbound
		code string
	}{
		{"customer", simulator.BridgeCustomerEvent("wh_c1", "cust-9", "customer.updated.status_transitioned"),
			relay.Inbound{DeliveryID: "wh_c1", EventType: "customer.updated.status_transitioned", AccountID: "cust-9", ResourceID: "cust-9"}, ""},
		{"transfer on behalf of", simulator.BridgeTransferEvent("wh_t1", "tr-7", "cust-9", "transfer.updated"),
			relay.Inbound{DeliveryID: "wh_t1", EventType: "transfer.updated", AccountID: "cust-9", ResourceID: "tr-7"}, ""},
		{"bare mutation", simulator.BridgeTransferEvent("wh_t2", "tr-7", "cust-9", "created"),
			relay.Inbound{DeliveryID: "wh_t2", EventType: "transfer.created", AccountID: "cust-9", ResourceID: "tr-7"}, ""},
		{"virtual account activity (customer_id)", fixture,
			relay.Inbound{DeliveryID: "wh_4Yq8nKc2VbT7rLm1sXp9dZa", EventType: "virtual_account.activity.created",
				AccountID: "3f9c2a7e-1b4d-4e6f-8a2c-5d7b9e1f3a40", ResourceID: "0b6a3d5e-2f41-4c8b-9e7a-5d1c3b2a4f60"}, ""},
		{"customer_id over on_behalf_of",
			[]byte(`{"event_id":"e","event_category":"kyc_link","event_type":"kyc_link.created","event_object":{"id":"k1","customer_id":"c1","on_behalf_of":"c2"}}`),
			relay.Inbound{DeliveryID: "e", EventType: "kyc_link.created", AccountID: "c1", ResourceID: "k1"}, ""},
		{"no customer", []byte(`{"event_id":"e","event_category":"static_memo.activity","event_type":"static_memo.activity.updated","event_object_id":"m1"}`),
			relay.Inbound{DeliveryID: "e", EventType: "static_memo.activity.updated", ResourceID: "m1"}, ""},
		{"no event_id", []byte(`{"event_category":"customer","event_type":"customer.created","event_object_id":"c"}`), relay.Inbound{}, relay.EINVALID},
		{"not JSON", []byte(publishedBody[:5]), relay.Inbound{}, relay.EINVALID},
		{"array", []byte(`[1]`), relay.Inbound{}, relay.EINVALID},
		{"odd types", []byte(`{"event_id":123,"event_category":7,"event_type":"customer.created","event_object_id":{"x":1}}`),
			relay.Inbound{DeliveryID: "123", EventType: "customer.created"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Parse(&relay.WebhookRequest{Body: tt.body})
			if code := relay.ErrorCode(err); code != tt.code {
				t.Fatalf("code %q, want %q (%v)", code, tt.code, err)
			}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSimulatedWebhookEndToEnd(t *testing.T) {
	a, _ := sims(t)
	p, _ := bridge.New(bridge.Config{PublicKeys: []string{a.PublicKeyPEM()}})
	body := simulator.BridgeCustomerEvent("wh_e2e", "cust-e2e", "customer.created")
	req := &relay.WebhookRequest{Header: a.Webhook(body, time.Time{}), Body: body, ReceivedAt: time.Now()}
	if err := p.Verify(req); err != nil {
		t.Fatal(err)
	}
	in, err := p.Parse(req)
	if err != nil || in.DeliveryID != "wh_e2e" || in.AccountID != "cust-e2e" || in.EventType != "customer.created" {
		t.Fatalf("Parse: %+v %v", in, err)
	}
	for _, h := range p.Headers() {
		if strings.EqualFold(h, bridge.HeaderSignature) {
			t.Fatal("Headers keeps the signature")
		}
	}
}
