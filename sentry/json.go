package sentry

import "github.com/relayhq/relay/internal/jsonfield"

// Lenient payload field types (see package jsonfield).
type (
	id  = jsonfield.ID
	str = jsonfield.String
)
