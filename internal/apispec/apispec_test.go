package apispec_test

import (
	"testing"

	"github.com/relayhq/relay/internal/apispec"
)

// The document is valid OpenAPI 3.1: structure, references, schemas and
// examples. (.ci/run runs this as its OpenAPI lint.)
func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, err := apispec.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(apispec.Operations(doc)) == 0 {
		t.Fatal("the document describes no operation")
	}
	if doc.Webhooks == nil || doc.Webhooks["event"] == nil {
		t.Fatal("the document does not describe the outbound event webhook")
	}
}
