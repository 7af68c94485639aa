-- Dossier events (Decision 766's scorecard; gov.egov.dossier.*.v1), one row per fact: the scorecard's counts are
-- built from these. A dossier is the SHA-256 of its source number. Keyed by the fact itself (dossier, unit, what,
-- when), so that a fact written again (a batch redelivered after a crash between these rows and the raw log) is one
-- row after FINAL. The dossier leads the key, and the granules are small, because the projector reads every batch's
-- dossiers back by it: a few hundred rows a dossier whatever the table holds (by unit and month instead, each batch
-- read every month's rows of its units, a cost that grew with history). dossier_months finds a unit's month.
CREATE TABLE IF NOT EXISTS dossier_facts (
    unit_kind  String,
    unit_code  String,
    dossier    String,
    fact       Enum8('received' = 1, 'paid' = 2, 'settled' = 3, 'result_issued' = 4, 'digitised' = 5, 'withdrawn' = 6, 'feedback_given' = 7),
    at         DateTime('Asia/Ho_Chi_Minh'),
    procedure  String,   -- received only
    channel    String,   -- received only: online, in_person, post
    fee        UInt8,    -- received only
    due_at     DateTime('Asia/Ho_Chi_Minh'), -- received: when due; other facts: their own time (no 1970 sentinel: Vietnam's
                                               -- zone was not UTC+7 then, and the engines disagree on it)
    flag       UInt8,    -- paid: online; result_issued: electronic; feedback_given: satisfied
    on_time    UInt8,    -- feedback_given: handled on time
    event_id   UUID,
    stream_seq UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (dossier, unit_kind, unit_code, fact, at)
SETTINGS index_granularity = 256;
