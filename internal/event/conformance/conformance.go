// Package conformance holds egovtrack's conformance vectors (vectors.json): for each event type and for the inputs
// where implementations part ways, the data as a sender might write it, the canonical bytes its id is derived from,
// the id, and, for a key published for tests alone, the bytes signed and the signature. A publisher in any language
// checks itself against the file (examples/node does); the Go tests hold egovtrack's own code to it.
package conformance

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

//go:embed vectors.json
var vectors []byte

// File is vectors.json.
type File struct {
	About string `json:"about"`
	// IDNamespace is the UUIDv5 namespace of event ids.
	IDNamespace string  `json:"id_namespace"`
	Signing     Signing `json:"signing"`
	// Source is the source of every vector's event; it takes no part in the id.
	Source  string    `json:"source"`
	Vectors []Vector  `json:"vectors"`
	Refused []Refusal `json:"refused"`
}

// Signing is the scheme and the test-only key the vectors are signed with.
type Signing struct {
	// Label starts the bytes signed.
	Label string `json:"label"`
	// TestSeed is a user nkey seed published for these vectors alone: never a credential of a deployment.
	TestSeed string `json:"test_seed"`
	// TestPublicKey is TestSeed's public user nkey, the value of the Egov-Signer header.
	TestPublicKey string `json:"test_public_key"`
}

// Vector is one event: what a sender writes, and what every implementation must derive from it.
type Vector struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Input is the data as a sender might write it, before normalization.
	Input json.RawMessage `json:"input"`
	// SubmittedBy is the Egov-Submitted-By header: the credential the event is signed as.
	SubmittedBy string `json:"submitted_by"`

	// Subject is the event's subject, derived from the data.
	Subject string `json:"subject"`
	// Canonical is the normalized data in the JCS form: the bytes the id is derived from, as UTF-8 text.
	Canonical string `json:"canonical"`
	ID        string `json:"id"`
	// Payload is the event as published: the envelope, its data the input as written.
	Payload string `json:"payload"`
	// Signed is the bytes the signature covers: Label, subject, "\n", submitted by, "\n", payload.
	Signed string `json:"signed"`
	// Signature is the ed25519 signature of Signed with TestSeed, base64url without padding: the Egov-Signature
	// header.
	Signature string `json:"signature"`
}

// Refusal is an event every implementation must refuse, and the field to name.
type Refusal struct {
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Input   json.RawMessage `json:"input"`
	// Field is the field the refusal names.
	Field string `json:"field"`
	// Payload is the event as published, its data the input as written, its id of no rule.
	Payload string `json:"payload"`
}

// Load returns the vectors.
func Load() (File, error) {
	var f File
	if err := json.Unmarshal(vectors, &f); err != nil {
		return File{}, fmt.Errorf("conformance vectors: %w", err)
	}
	return f, nil
}
