-- Ingest's rollup rows packed per batch (issue 13: a 12-hour backfill batch of 5,000
-- API requests wrote about 2,440 request_rollups and 4,400 log_pattern_rollups rows,
-- as many index entries and, for request_rollups, a foreign-key check each: half of
-- the batch's time). A batch now writes one row per request_rollups grouping and one
-- log_pattern_rollups row per kind, holding its rows as parallel arrays (the slots
-- first_slot to last_slot). Readers unnest them beside the tables' own rows
-- (db.requestPendingFrom, db.patternRollupFrom); the compactions (CompactRequestRollups,
-- CompactCounts) move them into the tables' compacted rows, merged with the batches
-- before them; retention and deletions unpack those overlapping the slots they
-- recompute in the same statement. No foreign key: the batch's log_counts row already
-- fails a batch whose workspace is gone, and deleting a workspace deletes these. The
-- arrays (hundreds of kB for a backfill batch) are compressed with lz4: pglz took
-- 13 ms of a 20 ms insert of a 4,400-row pattern batch, lz4 5 ms.
CREATE TABLE request_rollup_batches (
    workspace_id  uuid          NOT NULL,
    grouping      smallint      NOT NULL, -- as request_rollups.grouping
    slot          timestamptz   NOT NULL, -- the first slot of the rows
    last_slot     timestamptz   NOT NULL,
    slots         timestamptz[] COMPRESSION lz4 NOT NULL,
    collection_id bigint[] COMPRESSION lz4 NOT NULL,
    client_id     bigint[] COMPRESSION lz4 NOT NULL,
    endpoint      text[] COMPRESSION lz4 NOT NULL,
    code          smallint[] COMPRESSION lz4 NOT NULL,
    gateway_code  integer[] COMPRESSION lz4 NOT NULL,
    n             bigint[] COMPRESSION lz4 NOT NULL,
    errors        bigint[] COMPRESSION lz4 NOT NULL,
    timing_sum    bigint[] COMPRESSION lz4 NOT NULL,
    timing_max    integer[] COMPRESSION lz4 NOT NULL,
    delay_sum     bigint[] COMPRESSION lz4 NOT NULL,
    timing_b      text[] COMPRESSION lz4 NOT NULL, -- each row's histogram as an array literal ({3,17})
    timing_n      text[] COMPRESSION lz4 NOT NULL,
    delay_b       text[] COMPRESSION lz4 NOT NULL,
    delay_n       text[] COMPRESSION lz4 NOT NULL
);
--bun:split
CREATE INDEX request_rollup_batches_idx ON request_rollup_batches (workspace_id, grouping, slot);
--bun:split
CREATE TABLE log_pattern_rollup_batches (
    workspace_id uuid          NOT NULL,
    kind         text          NOT NULL,
    slot         timestamptz   NOT NULL, -- the first slot of the rows
    last_slot    timestamptz   NOT NULL,
    slots        timestamptz[] COMPRESSION lz4 NOT NULL,
    severity     smallint[] COMPRESSION lz4 NOT NULL,
    source       text[] COMPRESSION lz4 NOT NULL,
    pattern      text[] COMPRESSION lz4 NOT NULL,
    n            bigint[] COMPRESSION lz4 NOT NULL,
    first_seen   timestamptz[] COMPRESSION lz4 NOT NULL,
    last_seen    timestamptz[] COMPRESSION lz4 NOT NULL,
    sample       text[] COMPRESSION lz4 NOT NULL
);
--bun:split
CREATE INDEX log_pattern_rollup_batches_idx ON log_pattern_rollup_batches (workspace_id, kind, slot);
