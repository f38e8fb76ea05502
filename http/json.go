package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/relayhq/relay"
)

// codes maps each error code to its HTTP status: the one place that does.
var codes = map[string]int{
	relay.ECONFLICT:     http.StatusConflict,
	relay.EINVALID:      http.StatusBadRequest,
	relay.ENOTFOUND:     http.StatusNotFound,
	relay.EUNAUTHORIZED: http.StatusUnauthorized,
	relay.EFORBIDDEN:    http.StatusForbidden,
	relay.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	relay.EUNAVAILABLE:  http.StatusServiceUnavailable,
	relay.EINTERNAL:     http.StatusInternalServerError,
}

// ErrorStatus returns the HTTP status for an error code.
func ErrorStatus(code string) int {
	if s, ok := codes[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

var errNoRoute = relay.Errorf(relay.ENOTFOUND, "No such endpoint.")

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers {"error":{"code","message"}}; only internal errors are
// logged, with their detail, which the client never sees.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	code, msg := relay.ErrorCode(err), relay.ErrorMessage(err)
	if code == relay.EINTERNAL {
		logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var body errorBody
	body.Error.Code, body.Error.Message = code, msg
	writeJSON(w, ErrorStatus(code), body)
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// maxAPIBody bounds API request bodies (webhooks have their own limit).
const maxAPIBody = 1 << 20

// readJSON decodes the request body into v, rejecting unknown fields.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return relay.Errorf(relay.ETOOLARGE, "Request body over %d bytes.", maxAPIBody)
		}
		return relay.Errorf(relay.EINVALID, "Invalid JSON body: %v", err)
	}
	return nil
}

// readOptionalJSON is readJSON for requests whose every field has a
// default: an empty body leaves v as it is.
func readOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		return relay.Errorf(relay.ETOOLARGE, "Request body over %d bytes.", maxAPIBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return relay.Errorf(relay.EINVALID, "Invalid JSON body: %v", err)
	}
	return nil
}
