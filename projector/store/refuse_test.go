package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/egovtrack/egovtrack/internal/event"
	"github.com/egovtrack/egovtrack/projector/store"
)

// One event the store can never write does not stop projection: the store finds it among its batch, quarantines it
// with the reason, and writes every other event. Here two: a report whose collector the reports table does not take
// (the column narrowed to an enum under the store, as a poison row), and a level change dated 1900 that a publisher
// skipping validation sent. Before, every write of the batch failed, and was retried, for good.
func TestARefusedEventIsQuarantinedAndTheRestWritten(t *testing.T) {
	ctx := context.Background()
	s, conn := openStore(t)
	if err := conn.Exec(ctx, "ALTER TABLE reports MODIFY COLUMN collector Enum8('simulate' = 1, 'sheet' = 2)"); err != nil {
		t.Fatal(err)
	}
	recs := records(t, 2)
	poison := -1
	for i, r := range recs {
		if d, ok := r.Data.(*event.ReportSubmittedData); ok && poison < 0 {
			d.Collector = "poll" // refused by the enum
			poison = i
		}
	}
	old := -1
	for i, r := range recs {
		if d, ok := r.Data.(*event.LevelChangedData); ok && i > poison {
			d.EffectiveAt = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
			recs[i].Env.Time = d.EffectiveAt
			old = i
			break
		}
	}
	w, err := s.WriteBatch(ctx, recs, nil)
	if err != nil {
		t.Fatalf("the batch was not written: %v", err)
	}
	if len(w.Refused) != 2 {
		t.Fatalf("refused %d events, want the 2 poisoned: %+v", len(w.Refused), w.Refused)
	}
	for _, r := range w.Refused {
		if r.Seq != recs[poison].Seq && r.Seq != recs[old].Seq || !strings.HasPrefix(r.Reason, "refused by the store: ") {
			t.Errorf("refused seq %d (%s), want seq %d or %d", r.Seq, r.Reason, recs[poison].Seq, recs[old].Seq)
		}
	}
	if n := count(t, conn, "SELECT count() FROM events FINAL"); n != uint64(len(recs)-2) {
		t.Errorf("events holds %d, want every event but the 2: %d", n, len(recs)-2)
	}
	if n := count(t, conn, "SELECT count() FROM quarantine FINAL WHERE reason LIKE 'refused by the store: %'"); n != 2 {
		t.Errorf("quarantine holds %d refused events, want 2", n)
	}
	t.Logf("refused: %s | %s", w.Refused[0].Reason, w.Refused[1].Reason)
}

// A fault of the whole batch, not of an event (a table dropped under the store), is not quarantined: every event of
// the batch would be. The write fails, to be retried, and nothing is quarantined.
func TestAFaultOfTheWholeBatchQuarantinesNothing(t *testing.T) {
	ctx := context.Background()
	s, conn := openStore(t)
	if err := conn.Exec(ctx, "DROP TABLE procedure_changes"); err != nil {
		t.Fatal(err)
	}
	w, err := s.WriteBatch(ctx, records(t, 1), nil)
	if err == nil || len(w.Refused) != 0 {
		t.Fatalf("WriteBatch = %+v, %v: want an error and nothing refused", w, err)
	}
	if store.Refusing(err) {
		t.Errorf("a missing table is taken for a refused value: %v", err)
	}
	if n := count(t, conn, "SELECT count() FROM quarantine"); n != 0 {
		t.Errorf("quarantine holds %d", n)
	}
}
