package relay

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to one HTTP status in the http package's table.
const (
	ECONFLICT     = "conflict"     // 409: already exists / state conflict
	EINTERNAL     = "internal"     // 500: a bug or an infrastructure failure; logged
	EINVALID      = "invalid"      // 400: the input is malformed or fails validation
	ENOTFOUND     = "not_found"    // 404: no such thing (or not visible to the caller)
	EUNAUTHORIZED = "unauthorized" // 401: bad or missing credentials or signature
	EFORBIDDEN    = "forbidden"    // 403: authenticated but not allowed
	ETOOLARGE     = "too_large"    // 413: body over the configured limit
	EUNAVAILABLE  = "unavailable"  // 503: could not be durably stored / dependency down
)

// Error is Relay's one application error type. Message is safe to show to a
// client; anything else (the wrapped cause) is for logs only.
type Error struct {
	Code    string
	Message string
	// RetryAt, when set, is when the failed dependency said to try again
	// (a provider's Retry-After or rate-limit reset).
	RetryAt time.Time
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("relay error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of the first *Error in err's chain, or
// "Internal error." for any other non-nil error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// RetryAt returns the RetryAt of the first *Error in err's chain, or zero.
func RetryAt(err error) time.Time {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAt
	}
	return time.Time{}
}
