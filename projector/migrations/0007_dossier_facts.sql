-- Dossier events (Decision 766's scorecard; gov.egov.dossier.*.v1), one row per fact: the scorecard's aggregates are
-- built from these. A dossier is the SHA-256 of its source number. Keyed by the fact itself (unit, dossier, what,
-- when), so that a fact written again (a batch redelivered after a crash between these rows and the raw log) is one
-- row after FINAL; partitioned by the month of the fact, where the same fact always lands.
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
PARTITION BY toYYYYMM(at)
ORDER BY (unit_kind, unit_code, dossier, fact, at);
