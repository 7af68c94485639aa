package rebuild

import (
	"slices"
	"testing"
)

func TestTablesOfFollowsCreatesAndDrops(t *testing.T) {
	t.Parallel()
	got, err := tablesOf([]string{
		"CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = Log",
		"create table `b`\n(x UInt8) ENGINE = Log",
		"ALTER TABLE a ADD COLUMN y UInt8",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS c ENGINE = Log AS SELECT x FROM a",
		"DROP TABLE IF EXISTS b",
		"INSERT INTO a (x) VALUES (1)",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "c"}; !slices.Equal(got, want) {
		t.Errorf("tablesOf = %q, want %q", got, want)
	}
}

func TestTablesOfRefusesWhatItCannotFollow(t *testing.T) {
	t.Parallel()
	for _, stmt := range []string{
		"RENAME TABLE a TO b",
		"EXCHANGE TABLES a AND b",
		"CREATE TABLE IF NOT EXISTS other.a (x UInt8) ENGINE = Log",
	} {
		if _, err := tablesOf([]string{stmt}); err == nil {
			t.Errorf("tablesOf accepted %q", stmt)
		}
	}
}
