package event

import (
	"github.com/google/uuid"
)

// idSpace is the UUIDv5 namespace of egovtrack's event ids. Changing it changes every id: never do.
var idSpace = uuid.MustParse("8f0c7a52-9a3e-4c1e-9d0b-5b8e3f1f6a21")

// deriveID names a fact by its content: the same type, subject and data always give the same UUID.
func deriveID(t Type, subject string, data []byte) string {
	b := make([]byte, 0, len(t)+len(subject)+len(data)+2)
	b = append(b, t...)
	b = append(b, 0)
	b = append(b, subject...)
	b = append(b, 0)
	b = append(b, data...)
	return uuid.NewSHA1(idSpace, b).String()
}
