package delivery

import (
	"time"
	"unicode/utf8"

	"github.com/relayhq/relay"
)

// Envelope returns the JSON body sent to destinations:
//
//	{"id", "type", "provider", "delivery_id", "event_type", "source", "org_id",
//	 "connection_id", "resource_id", "received_at", "payload"}
//
// type is "<provider>.<event_type>"; org_id, connection_id and resource_id
// are null when unknown; payload is the provider's JSON byte for byte. It is
// written by hand because it runs once per attempt on the hot path and the
// payload must not be re-encoded.
func Envelope(e *relay.Event, source string) []byte {
	b := make([]byte, 0, len(e.Payload)+320)
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Provider+"."+e.EventType)
	b = append(b, `,"provider":`...)
	b = appendString(b, e.Provider)
	b = append(b, `,"delivery_id":`...)
	b = appendString(b, e.DeliveryID)
	b = append(b, `,"event_type":`...)
	b = appendString(b, e.EventType)
	b = append(b, `,"source":`...)
	b = appendString(b, source)
	b = append(b, `,"org_id":`...)
	b = appendNullable(b, e.OrgID)
	b = append(b, `,"connection_id":`...)
	b = appendNullable(b, e.ConnectionID)
	b = append(b, `,"resource_id":`...)
	b = appendNullable(b, e.ResourceID)
	b = append(b, `,"received_at":"`...)
	// Events are created at millisecond precision; truncating here too
	// keeps every attempt's bytes equal should one not be.
	b = relay.EventTime(e.ReceivedAt).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","payload":`...)
	if len(e.Payload) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Payload...)
	}
	return append(b, '}')
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping what JSON requires (and
// <, >, & as encoding/json does, so envelopes are safe to embed in HTML).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
