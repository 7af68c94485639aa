-- The verdict on each signed event's signature, recorded when the projector first verified it: the stream sequence,
-- a digest of what was verified (natsauth.Digest: subject, submitter, payload, signer key and signature) and who
-- signed it. A replay or a rebuild relies on the verdict for the same message instead of verifying it again (an
-- ed25519 verification costs about 60 µs), so that a key retired since, after a rotation, still vouches for what it
-- signed while valid. A message whose digest differs (altered, or another stream's at the same sequence) is verified
-- as if new (keyed by both: a stream recreated may hold another message at a sequence). `projector rebuild` keeps
-- this table (migrations.Kept).
CREATE TABLE IF NOT EXISTS signature_verdicts (
    stream_seq   UInt64,
    digest       String,
    submitted_by String,
    verified_at  DateTime('Asia/Ho_Chi_Minh')
) ENGINE = ReplacingMergeTree
ORDER BY (stream_seq, digest);
