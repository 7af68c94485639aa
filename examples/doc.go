// Package examples holds egovtrack's publishers in other languages (node/, a JavaScript publisher written from
// internal/event's documents and conformance vectors alone) and the tests that run them, and the recipe for the nats
// command, against a real NATS server with egovtrack's permissions and the real projector.
package examples
