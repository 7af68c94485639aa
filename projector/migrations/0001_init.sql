-- egovtrack's projections. Runs on ClickHouse 18.16 and 24.x+: no LowCardinality, DateTime64, window functions.
-- Every table is keyed so that writing the same event twice leaves one row after FINAL: the projector may be
-- redelivered a batch, and rebuilding from the stream writes everything again.

-- The raw log: every valid event as it was published, once. The projector writes a batch's events last, after
-- everything derived from them, and skips the ids already here: this table is its checkpoint.
CREATE TABLE IF NOT EXISTS events (
    id           UUID,
    type         String,
    source       String,
    submitted_by String, -- the credential or collector that submitted it
    subject      String,
    unit_kind    String,
    unit_code    String,
    time         DateTime('Asia/Ho_Chi_Minh'),
    data         String,
    stream_seq   UInt64,
    received_at  DateTime('Asia/Ho_Chi_Minh'), -- when JetStream stored it
    projected_at DateTime('Asia/Ho_Chi_Minh') DEFAULT now() -- when it reached this table: ingestion lag
) ENGINE = ReplacingMergeTree(stream_seq)
PARTITION BY toYYYYMM(time)
ORDER BY id;

-- Every registration, level change and retirement of a procedure, one row per event.
CREATE TABLE IF NOT EXISTS procedure_changes (
    unit_kind      String,
    unit_code      String,
    procedure_code String,
    event_id       UUID,
    stream_seq     UInt64,
    change         Enum8('registered' = 1, 'level_changed' = 2, 'retired' = 3),
    effective_at   DateTime('Asia/Ho_Chi_Minh'),
    day            Date, -- the Vietnamese day of effective_at
    name           String, -- registered only
    sector         String, -- registered only
    eligible       UInt8,  -- registered only: can be offered at level 4
    level          UInt8   -- registered and level_changed: the level from then on
) ENGINE = ReplacingMergeTree
ORDER BY (unit_kind, unit_code, procedure_code, event_id);

-- The current state of every procedure: the latest of its changes by effective time, stream sequence breaking ties.
CREATE TABLE IF NOT EXISTS procedures (
    unit_kind      String,
    unit_code      String,
    procedure_code String,
    name           String,
    sector         String,
    eligible       UInt8,
    level          UInt8,
    active         UInt8, -- 0 once retired
    effective_at   DateTime('Asia/Ho_Chi_Minh'), -- of the latest change
    version        UInt64 -- how many changes were folded in: a later fold has more
) ENGINE = ReplacingMergeTree(version)
ORDER BY (unit_kind, unit_code, procedure_code);

-- Coverage per unit at the end of every Vietnamese day, from the unit's first event to the last day any unit
-- reported: eligible = active procedures that can be offered at level 4, level4 = those of them at level 4.
CREATE TABLE IF NOT EXISTS coverage_daily (
    unit_kind  String,
    unit_code  String,
    day        Date,
    procedures UInt32,
    eligible   UInt32,
    level4     UInt32,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (unit_kind, unit_code, day);

-- Every stage change of a unit's virtual assistant.
CREATE TABLE IF NOT EXISTS assistant_changes (
    unit_kind    String,
    unit_code    String,
    event_id     UUID,
    stream_seq   UInt64,
    effective_at DateTime('Asia/Ho_Chi_Minh'),
    day          Date,
    stage        Enum8('not_started' = 0, 'planned' = 1, 'pilot' = 2, 'live' = 3),
    users        Nullable(UInt32)
) ENGINE = ReplacingMergeTree
ORDER BY (unit_kind, unit_code, event_id);

-- Every report a collector submitted for a unit.
CREATE TABLE IF NOT EXISTS reports (
    unit_kind   String,
    unit_code   String,
    event_id    UUID,
    stream_seq  UInt64,
    collector   String,
    reported_at DateTime('Asia/Ho_Chi_Minh'),
    registered  UInt32,
    changed     UInt32,
    retired     UInt32,
    unchanged   UInt32
) ENGINE = ReplacingMergeTree
ORDER BY (unit_kind, unit_code, event_id);

-- Every target set; the one in force for a metric and scope is the latest by set_at.
CREATE TABLE IF NOT EXISTS targets (
    metric        String,
    scope         String, -- 'national' or kind/code
    event_id      UUID,
    stream_seq    UInt64,
    set_at        DateTime('Asia/Ho_Chi_Minh'),
    baseline      Float64,
    baseline_date Date,
    target        Float64,
    deadline      Date
) ENGINE = ReplacingMergeTree
ORDER BY (metric, scope, event_id);

-- Reference data of the reporting units, written from internal/units at start: names for labels, the provinces'
-- places on the map, and how often each unit is expected to report.
CREATE TABLE IF NOT EXISTS units (
    kind         String,
    code         String,
    name         String,
    lat          Nullable(Float64),
    lon          Nullable(Float64),
    cadence_days UInt16
) ENGINE = ReplacingMergeTree
ORDER BY (kind, code);

-- Messages the projector could not accept, with why: nothing is dropped silently, and a bad message never stops
-- the projector.
CREATE TABLE IF NOT EXISTS quarantine (
    stream_seq  UInt64,
    subject     String,
    payload     String,
    reason      String,
    received_at DateTime('Asia/Ho_Chi_Minh')
) ENGINE = ReplacingMergeTree
ORDER BY stream_seq;
