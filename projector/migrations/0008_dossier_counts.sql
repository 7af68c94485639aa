-- The dossier counts Decision 766's scorecard is computed from, per unit: per day and channel of receipt (procedure
-- ''), per month and procedure (channel '': received_online says how many came online), and per month (grain 'unit',
-- procedure and channel '': the month rows summed, with the sets of procedures the scorecard counts, so that a year's
-- ranking reads 12 rows a unit, not 12 times its procedures). Each fact counts on its
-- own day, with the procedure and channel of the dossier's receipt; of each kind, a dossier's earliest fact (by its
-- time, then stream order) counts, the others do not.
--
-- A row holds the counts through stream sequence through_seq, the version: the projector adds a batch to the stored
-- row when everything it adds comes after that sequence, and otherwise counts the unit's month again from
-- dossier_facts (a batch redelivered after a crash between these rows and the raw log, a stream out of order, a fact
-- dated earlier than the one counted).
-- So a fact written twice is counted once, which a materialized view summing dossier_facts could not do.
CREATE TABLE IF NOT EXISTS dossier_counts (
    grain              Enum8('day' = 1, 'month' = 2, 'unit' = 3),
    unit_kind          String,
    unit_code          String,
    period             Date,   -- the day, or the first day of the month
    procedure          String, -- '' in day rows
    channel            String, -- day rows: of the dossier's receipt (online, in_person, post); month rows: ''
    received           UInt32,
    received_online    UInt32, -- received, online
    received_fee       UInt32, -- received, of a procedure that charges a fee
    paid               UInt32,
    paid_online        UInt32,
    settled            UInt32,
    settled_on_time    UInt32, -- settled at or before the receipt's due time
    settle_seconds     UInt64, -- from receipt to settlement, summed over settled
    results            UInt32,
    results_electronic UInt32,
    digitised          UInt32,
    withdrawn          UInt32,
    feedback           UInt32,
    satisfied          UInt32,
    feedback_on_time   UInt32, -- the citizen says the dossier was handled on time
    -- unit rows: the procedures with a dossier received online, received for a fee, paid online in the month (sorted)
    procedures_online      Array(String),
    procedures_fee         Array(String),
    procedures_paid_online Array(String),
    through_seq        UInt64
) ENGINE = ReplacingMergeTree(through_seq)
PARTITION BY toYear(period)
-- Grain first: the ranking reads every unit's unit rows (85 a month), which are then a few granules of their own
-- rather than one granule in each unit's run of day and month rows; the projector reads a batch's rows by grain,
-- unit and period, the unit panels one unit's rows of a grain. Granules of 1,024 rows: a unit's months are a few
-- hundred rows.
ORDER BY (grain, unit_kind, unit_code, period, procedure, channel)
SETTINGS index_granularity = 1024;

-- The dossiers with a fact in each unit's month: what the projector reads to count a unit's month again.
CREATE TABLE IF NOT EXISTS dossier_months (
    unit_kind String,
    unit_code String,
    month     Date,
    dossier   String
) ENGINE = ReplacingMergeTree
PARTITION BY toYear(month)
ORDER BY (unit_kind, unit_code, month, dossier);
