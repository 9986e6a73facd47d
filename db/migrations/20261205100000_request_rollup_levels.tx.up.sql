-- request_rollups at three compacted levels besides the rows ingest writes
-- (db/request_rollups.go): width is the minutes a row covers: 0 for the 15-minute
-- slot rows each batch (and each deletion, negative) inserts, pending until the
-- compaction (CompactRequestRollups, run by serve every few minutes and after
-- deletions) moves them, in one statement, into the rows of their key at width 15
-- (the same slot), 60 (its UTC hour) and 1440 (its UTC day), deleting them. A query
-- sums the day rows of its whole UTC days, the hour rows of its other whole hours,
-- the 15-minute rows of its other whole slots, and every pending row of its whole
-- slots: a pending row is counted at one level only, a compacted one at one level of
-- each query. The rows stored so far stay pending until the first compaction.
ALTER TABLE request_rollups ADD COLUMN width smallint NOT NULL DEFAULT 0
    CHECK (width IN (0, 15, 60, 1440));
--bun:split
DROP INDEX request_rollups_idx;
--bun:split
CREATE INDEX request_rollups_idx ON request_rollups (workspace_id, grouping, width, slot);
--bun:split
CREATE INDEX request_rollups_pending_idx ON request_rollups (slot) WHERE width = 0;
