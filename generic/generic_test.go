package generic_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relayhq/relay"
	"github.com/relayhq/relay/generic"
	"github.com/relayhq/relay/simulator"
)

const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = "1614265330"
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var vectorTime = time.Unix(1614265330, 0)

func vectorHeader(sig string) http.Header {
	return http.Header{"Webhook-Id": {vectorID}, "Webhook-Timestamp": {vectorTS}, "Webhook-Signature": {sig}}
}

func TestStandardWebhooksVerify(t *testing.T) {
	s, err := generic.NewStandardWebhooks("billing", vectorSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	other := relay.NewSecret()
	body := []byte(vectorBody)
	without := func(h http.Header, key string) http.Header { h.Del(key); return h }
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		at     time.Time
		code   string
	}{
		{"published vector", vectorHeader(vectorSig), body, vectorTime, ""},
		{"vector within tolerance", vectorHeader(vectorSig), body, vectorTime.Add(4 * time.Minute), ""},
		{"vector an hour later", vectorHeader(vectorSig), body, vectorTime.Add(time.Hour), relay.EUNAUTHORIZED},
		{"vector an hour early", vectorHeader(vectorSig), body, vectorTime.Add(-time.Hour), relay.EUNAUTHORIZED},
		{"rotation list, second right", vectorHeader("v1,Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE= " + vectorSig), body, vectorTime, ""},
		{"rotation list, none right", vectorHeader("v1,Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE= v2,abc"), body, vectorTime, relay.EUNAUTHORIZED},
		{"simulator", simulator.StandardWebhook(vectorSecret, "msg_1", vectorTime, body), body, vectorTime, ""},
		{"tampered body", vectorHeader(vectorSig), []byte(`{"test": 2432232315}`), vectorTime, relay.EUNAUTHORIZED},
		{"tampered id", func() http.Header { h := vectorHeader(vectorSig); h.Set("Webhook-Id", "msg_other"); return h }(), body, vectorTime, relay.EUNAUTHORIZED},
		{"wrong secret", simulator.StandardWebhook(other, vectorID, vectorTime, body), body, vectorTime, relay.EUNAUTHORIZED},
		{"missing signature", without(vectorHeader(vectorSig), "Webhook-Signature"), body, vectorTime, relay.EUNAUTHORIZED},
		{"missing id", without(vectorHeader(vectorSig), "Webhook-Id"), body, vectorTime, relay.EUNAUTHORIZED},
		{"missing timestamp", without(vectorHeader(vectorSig), "Webhook-Timestamp"), body, vectorTime, relay.EUNAUTHORIZED},
		{"malformed timestamp", func() http.Header { h := vectorHeader(vectorSig); h.Set("Webhook-Timestamp", "yesterday"); return h }(), body, vectorTime, relay.EUNAUTHORIZED},
		{"malformed signature", vectorHeader("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), body, vectorTime, relay.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Verify(&relay.WebhookRequest{Header: tt.header, Body: tt.body, ReceivedAt: tt.at})
			if got := relay.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (%v)", got, tt.code, err)
			}
			if err != nil && strings.Contains(relay.ErrorMessage(err), "MfKQ9r8G") {
				t.Fatalf("message leaks the secret: %q", relay.ErrorMessage(err))
			}
		})
	}
}

func TestStandardWebhooksToleranceAndParse(t *testing.T) {
	s, err := generic.NewStandardWebhooks("billing", vectorSecret, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req := &relay.WebhookRequest{Header: vectorHeader(vectorSig), Body: []byte(vectorBody), ReceivedAt: vectorTime.Add(time.Hour)}
	if err := s.Verify(req); err != nil {
		t.Fatalf("Verify with 2h tolerance: %v", err)
	}
	tests := []struct {
		name string
		body string
		want relay.Inbound
		code string
	}{
		{"vector (no type)", vectorBody, relay.Inbound{DeliveryID: vectorID, EventType: "webhook"}, ""},
		{"typed", `{"type":"invoice.paid","data":{"id":"in_1"}}`, relay.Inbound{DeliveryID: vectorID, EventType: "invoice.paid"}, ""},
		{"non-string type", `{"type":{"name":"x"}}`, relay.Inbound{DeliveryID: vectorID, EventType: "webhook"}, ""},
		{"not JSON", `{"type":"x"`, relay.Inbound{}, relay.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Parse(&relay.WebhookRequest{Header: vectorHeader(vectorSig), Body: []byte(tt.body), ReceivedAt: vectorTime})
			if code := relay.ErrorCode(err); code != tt.code {
				t.Fatalf("code %q, want %q (%v)", code, tt.code, err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewStandardWebhooksValidates(t *testing.T) {
	for _, secret := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_c2hvcnQ="} {
		_, err := generic.NewStandardWebhooks("billing", secret, 0)
		if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), "secret") {
			t.Errorf("secret %q: got %v, want EINVALID naming the secret", secret, err)
		}
	}
	if _, err := generic.NewStandardWebhooks("", vectorSecret, 0); relay.ErrorCode(err) != relay.EINVALID {
		t.Errorf("empty name: got %v", err)
	}
}

func TestNewHMACValidates(t *testing.T) {
	tests := []struct {
		name, source string
		cfg          generic.HMACConfig
		field        string // in the message; "" = valid
	}{
		{"valid", "acme", generic.HMACConfig{Header: "X-Sig", Secret: "s"}, ""},
		{"no name", "", generic.HMACConfig{Header: "X-Sig", Secret: "s"}, "name"},
		{"no header", "acme", generic.HMACConfig{Secret: "s"}, "header"},
		{"no secret", "acme", generic.HMACConfig{Header: "X-Sig"}, "secret"},
		{"bad encoding", "acme", generic.HMACConfig{Header: "X-Sig", Secret: "s", Encoding: "base32"}, "encoding"},
		{"bad id field", "acme", generic.HMACConfig{Header: "X-Sig", Secret: "s", IDField: `a"b`}, "id_field"},
		{"bad type field", "acme", generic.HMACConfig{Header: "X-Sig", Secret: "s", TypeField: "a,b"}, "type_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := generic.NewHMAC(tt.source, tt.cfg)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if relay.ErrorCode(err) != relay.EINVALID || !strings.Contains(relay.ErrorMessage(err), tt.field) {
				t.Fatalf("got %v, want EINVALID naming %q", err, tt.field)
			}
		})
	}
}

func TestHMACVerify(t *testing.T) {
	const secret = "acme-secret"
	body := []byte(`{"id":"acme-1","type":"order.created"}`)
	hexSrc, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Acme-Signature", Secret: secret})
	preSrc, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Acme-Signature", Secret: secret, Prefix: "sha256="})
	b64Src, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Acme-Signature", Secret: secret, Encoding: "base64"})
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	b64 := http.Header{"X-Acme-Signature": {base64.StdEncoding.EncodeToString(m.Sum(nil))}}
	tests := []struct {
		name   string
		src    *generic.HMAC
		header http.Header
		body   []byte
		code   string
	}{
		{"hex", hexSrc, simulator.HMACWebhook("X-Acme-Signature", "", secret, body), body, ""},
		{"prefix", preSrc, simulator.HMACWebhook("X-Acme-Signature", "sha256=", secret, body), body, ""},
		{"base64", b64Src, b64, body, ""},
		{"tampered body", hexSrc, simulator.HMACWebhook("X-Acme-Signature", "", secret, body), []byte(`{"id":"acme-2"}`), relay.EUNAUTHORIZED},
		{"wrong secret", hexSrc, simulator.HMACWebhook("X-Acme-Signature", "", "other", body), body, relay.EUNAUTHORIZED},
		{"missing header", hexSrc, http.Header{}, body, relay.EUNAUTHORIZED},
		{"other header", hexSrc, simulator.HMACWebhook("X-Other-Signature", "", secret, body), body, relay.EUNAUTHORIZED},
		{"missing prefix", preSrc, simulator.HMACWebhook("X-Acme-Signature", "", secret, body), body, relay.EUNAUTHORIZED},
		{"hex sent to base64 source", b64Src, simulator.HMACWebhook("X-Acme-Signature", "", secret, body), body, relay.EUNAUTHORIZED},
		{"not hex", hexSrc, http.Header{"X-Acme-Signature": {strings.Repeat("q", 64)}}, body, relay.EUNAUTHORIZED},
		{"not base64", b64Src, http.Header{"X-Acme-Signature": {strings.Repeat("*", 44)}}, body, relay.EUNAUTHORIZED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.src.Verify(&relay.WebhookRequest{Header: tt.header, Body: tt.body, ReceivedAt: time.Now()})
			if got := relay.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q, want %q (%v)", got, tt.code, err)
			}
			if err != nil && strings.Contains(relay.ErrorMessage(err), secret) {
				t.Fatalf("message leaks the secret: %q", relay.ErrorMessage(err))
			}
		})
	}
}

func TestHMACParse(t *testing.T) {
	const secret = "acme-secret"
	def, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Acme-Signature", Secret: secret})
	custom, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Acme-Signature", Secret: secret,
		IDHeader: "x-acme-delivery", IDField: "event_id", TypeField: "event"})
	tests := []struct {
		name   string
		src    *generic.HMAC
		header http.Header
		body   string
		want   relay.Inbound
		code   string
	}{
		{"defaults", def, nil, `{"id":"acme-1","type":"order.created"}`, relay.Inbound{DeliveryID: "acme-1", EventType: "order.created"}, ""},
		{"numeric id, no type", def, nil, `{"id":12345}`, relay.Inbound{DeliveryID: "12345", EventType: "webhook"}, ""},
		{"id header wins", custom, http.Header{"X-Acme-Delivery": {"hdr-1"}}, `{"event_id":"e-1","event":"a.b"}`, relay.Inbound{DeliveryID: "hdr-1", EventType: "a.b"}, ""},
		{"id field when header absent", custom, nil, `{"event_id":"e-1","event":"a.b","id":"ignored","type":"ignored"}`, relay.Inbound{DeliveryID: "e-1", EventType: "a.b"}, ""},
		{"not JSON", def, nil, `id=1&type=x`, relay.Inbound{}, relay.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := simulator.HMACWebhook("X-Acme-Signature", "", secret, []byte(tt.body))
			for k, v := range tt.header {
				h[k] = v
			}
			req := &relay.WebhookRequest{Header: h, Body: []byte(tt.body), ReceivedAt: time.Now()}
			if err := tt.src.Verify(req); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := tt.src.Parse(req)
			if code := relay.ErrorCode(err); code != tt.code {
				t.Fatalf("code %q, want %q (%v)", code, tt.code, err)
			}
			got.BodyKey = "" // checked by TestHMACBodyKey
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHMACBodyHashID(t *testing.T) {
	src, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Sig", Secret: "s"})
	id := func(body string) string {
		t.Helper()
		in, err := src.Parse(&relay.WebhookRequest{Header: http.Header{}, Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		if len(in.DeliveryID) != 64 {
			t.Fatalf("id %q is not a hex SHA-256", in.DeliveryID)
		}
		return in.DeliveryID
	}
	a := id(`{"data":{"id":1}}`)
	if b := id(`{"data":{"id":1}}`); a != b {
		t.Fatalf("equal bodies gave %q and %q", a, b)
	}
	if b := id(`{"data":{"id":2}}`); a == b {
		t.Fatal("different bodies gave the same id")
	}
}

func TestNamesAndHeaders(t *testing.T) {
	s, _ := generic.NewStandardWebhooks("billing", vectorSecret, 0)
	h, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Sig", Secret: "s", IDHeader: "x-acme-delivery"})
	for _, p := range []relay.Provider{s, h} {
		for _, hd := range p.Headers() {
			if hd != http.CanonicalHeaderKey(hd) {
				t.Errorf("%s: header %q is not canonical", p.Name(), hd)
			}
		}
	}
	if s.Name() != "billing" || h.Name() != "acme" {
		t.Fatalf("names %q, %q", s.Name(), h.Name())
	}
}

func BenchmarkVerifyParse(b *testing.B) {
	body := simulator.GitHubIssuesPayload(4242, 1296269, "opened")
	b.Run("standard-webhooks", func(b *testing.B) {
		s, _ := generic.NewStandardWebhooks("billing", vectorSecret, 0)
		now := time.Now()
		req := &relay.WebhookRequest{Header: simulator.StandardWebhook(vectorSecret, "msg_1", now, body), Body: body, ReceivedAt: now}
		bench(b, s, req)
	})
	b.Run("hmac", func(b *testing.B) {
		h, _ := generic.NewHMAC("acme", generic.HMACConfig{Header: "X-Sig", Secret: "s", TypeField: "action"})
		req := &relay.WebhookRequest{Header: simulator.HMACWebhook("X-Sig", "", "s", body), Body: body, ReceivedAt: time.Now()}
		bench(b, h, req)
	})
}

func bench(b *testing.B, p relay.Provider, req *relay.WebhookRequest) {
	b.SetBytes(int64(len(req.Body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := p.Verify(req); err != nil {
				b.Fatal(err)
			}
			if _, err := p.Parse(req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
