package relay

import _ "embed"

// OpenAPI is Relay's HTTP API described as an OpenAPI 3.1 document (the
// repository's openapi.yaml), served at GET /api/v1/openapi.yaml. Tests hold
// it to the routes the server registers and to the answers it gives.
//
//go:embed openapi.yaml
var OpenAPI []byte
