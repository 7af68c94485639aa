package store

import "context"

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
