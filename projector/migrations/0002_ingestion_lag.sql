-- The ingestion lag of the raw log, counted per second and per hour of receipt, so that the reporting-health panels
-- need not read `events` (sorted by id, so read whole, with FINAL) for it: at national scale that took seconds.
-- Materialized views fill both tables from every insert into `events`. Counting is exact because the store writes
-- each event into `events` once (it skips the ids already there, and repeats within a batch), and `projector
-- rebuild` drops these tables and views with the others; the views read events.projected_at as its DEFAULT fills it.
-- The per-second table gives the edges of a time range and intervals that are not whole hours; the hourly one the
-- whole hours in between. The views count what is inserted from now on: on a database that already holds events,
-- `projector rebuild` counts those (no backfill here: an INSERT … SELECT is neither safe to run twice nor known to
-- the cluster form of the migrations).
CREATE TABLE IF NOT EXISTS ingestion_lag (
    received_at DateTime('Asia/Ho_Chi_Minh'),
    lag         Int64, -- seconds from JetStream storing the event to its row in `events`
    events      UInt64
) ENGINE = SummingMergeTree(events)
PARTITION BY toYYYYMM(received_at)
ORDER BY (received_at, lag);

CREATE TABLE IF NOT EXISTS ingestion_lag_hourly (
    hour   DateTime('Asia/Ho_Chi_Minh'), -- the start of the hour of receipt (Vietnam's hours are UTC's)
    lag    Int64,
    events UInt64
) ENGINE = SummingMergeTree(events)
ORDER BY (hour, lag);

CREATE MATERIALIZED VIEW IF NOT EXISTS ingestion_lag_feed TO ingestion_lag AS
SELECT received_at, toInt64(projected_at) - toInt64(received_at) AS lag, count() AS events
FROM events
GROUP BY received_at, lag;

CREATE MATERIALIZED VIEW IF NOT EXISTS ingestion_lag_hourly_feed TO ingestion_lag_hourly AS
SELECT toStartOfHour(received_at) AS hour, toInt64(projected_at) - toInt64(received_at) AS lag, count() AS events
FROM events
GROUP BY hour, lag;
