-- Reorganisations of the units (gov.egov.unit.merged.v1, gov.egov.unit.renamed.v1): a code names a unit for the days
-- it is valid, and the dashboards read these tables to show history as it was (the units of each day) or as it is
-- (today's units, their predecessors' figures rolled up before they existed). README.md, "Reorganisations".

-- Every predecessor of every merger, as the event says: main = 1 for the successor, which takes every procedure not
-- moved; main = 0 for a unit that takes only the listed procedures. A successor that keeps its code is also its own
-- predecessor (24 ← 24, 27), with main = 1.
CREATE TABLE IF NOT EXISTS unit_lineage (
    predecessor_kind String,
    predecessor_code String,
    successor_kind   String,
    successor_code   String,
    effective_on     Date,
    main             UInt8,
    procedures       Array(String), -- moved only
    event_id         UUID,
    stream_seq       UInt64
) ENGINE = ReplacingMergeTree(stream_seq)
ORDER BY (predecessor_kind, predecessor_code, successor_kind, successor_code, effective_on, main);

-- Every unit's names from a day on: the successor's of a merger, and renames. The units table keeps 2021's.
CREATE TABLE IF NOT EXISTS unit_names (
    kind         String,
    code         String,
    effective_on Date,
    name         String,
    event_id     UUID,
    stream_seq   UInt64
) ENGINE = ReplacingMergeTree(stream_seq)
ORDER BY (kind, code, effective_on);

-- Who holds a merged unit's procedures, when, computed by the projector (store.Holdings) from unit_lineage, the
-- holders' reports and the merged units' procedures, again whenever any of them changes: so that the dashboards read
-- one small flat table. Leg 0 is the unit's procedures not moved; leg i the i-th list moved elsewhere. A unit with no
-- row here was never merged away. until_day is the first day of the next holder (2101-01-01 for the last).
CREATE TABLE IF NOT EXISTS unit_holders (
    unit_kind        String,
    unit_code        String,
    leg              UInt16,
    from_day         Date,
    until_day        Date,
    holder_kind      String,
    holder_code      String,
    procedures       Array(String), -- legs above 0
    superseded_on    Date,   -- the first day a holder of the leg reported its catalogue while holding it (2101-01-01: never)
    end_kind         String, -- the leg's last holder: where its procedures are today
    end_code         String,
    moved_procedures UInt32, -- legs above 0: the listed procedures active, eligible, at level 4, as they stand
    moved_eligible   UInt32,
    moved_level4     UInt32,
    unit_moved_procedures UInt32, -- the unit's moved legs together, on every row of the unit
    unit_moved_eligible   UInt32,
    unit_moved_level4     UInt32,
    version          UInt64 -- when computed (Unix nanoseconds): the latest computation wins
) ENGINE = ReplacingMergeTree(version)
ORDER BY (unit_kind, unit_code, leg, from_day);
