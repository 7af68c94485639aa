package store

import (
	"context"
	"errors"
)

// WriteAllButEvents does what Write does up to the raw log, as a projector that dies before its last insert.
func (s *Store) WriteAllButEvents(ctx context.Context, recs []Record) error {
	fresh, err := s.unwritten(ctx, recs)
	if err != nil {
		return err
	}
	if err := s.insertDerived(ctx, fresh); err != nil {
		return err
	}
	return s.refresh(ctx, fresh)
}

// FailAfterCarry makes the next Write fail right after it carried untouched units forward, as a projector killed
// there; it returns a func that removes the failure.
func FailAfterCarry() (restore func()) {
	testHookAfterCarry = func() error { return errCrash }
	return func() { testHookAfterCarry = nil }
}

var errCrash = errors.New("killed after carrying coverage forward")
