-- Lags of an hour or more are counted in whole hours, rounded up: events projected long after JetStream stored them
-- (a `projector rebuild`, a projector down for days) each had a lag of their own to the second, so the counts of
-- 0002 held a row per event and the lag panels read the whole history's events again. Rounded up, such lags give at
-- most two rows an hour of receipt; lags under an hour, what the pipeline shows on a normal day, stay exact; and
-- "lag over T" stays exact for every T under an hour or of whole hours (the alert rule's threshold), as
-- ceil(lag / 1 h) × 1 h > T exactly when lag > T there.
-- The new feeds are created before the old ones are dropped, as a view's query cannot be changed in place on every
-- engine: an insert that runs in between is counted twice in these tables (never in a figure; counts only).
CREATE MATERIALIZED VIEW IF NOT EXISTS ingestion_lag_feed_hours TO ingestion_lag AS
SELECT
    received_at,
    if(toInt64(projected_at) - toInt64(received_at) < 3600,
       toInt64(projected_at) - toInt64(received_at),
       intDiv(toInt64(projected_at) - toInt64(received_at) + 3599, 3600) * 3600) AS lag,
    count() AS events
FROM events
GROUP BY received_at, lag;

CREATE MATERIALIZED VIEW IF NOT EXISTS ingestion_lag_hourly_feed_hours TO ingestion_lag_hourly AS
SELECT
    toStartOfHour(received_at) AS hour,
    if(toInt64(projected_at) - toInt64(received_at) < 3600,
       toInt64(projected_at) - toInt64(received_at),
       intDiv(toInt64(projected_at) - toInt64(received_at) + 3599, 3600) * 3600) AS lag,
    count() AS events
FROM events
GROUP BY hour, lag;

DROP TABLE IF EXISTS ingestion_lag_feed;

DROP TABLE IF EXISTS ingestion_lag_hourly_feed;
