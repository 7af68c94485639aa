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

// ForgetFolds drops every fold, as a restarted projector starts: the next batch of each unit reads its changes.
func (s *Store) ForgetFolds() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.folds)
}

// FoldCounts says how many times a unit's batch was added to its fold, and how many times a unit was folded from
// its stored changes.
func (s *Store) FoldCounts() (extended, reloaded int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.extended, s.reloaded
}
