-- The analytics cache's change log (db/analytics_cache.go). Every statement that
-- changes which logs a window holds (an ingest batch, a batch of a deletion or of
-- retention, a dropped partition, a rebuild of the counts) inserts, in its own
-- transaction, the span of log times it touched and its transaction id. A server's
-- cache keeps, beside each closed bucket it holds, the snapshot the bucket was read
-- in; the next read lists, in the same statement as the open buckets, the changes
-- that snapshot did not see (pg_visible_in_snapshot), so a bucket touched by a
-- committed change is recomputed whichever server made it. Rows are only inserted,
-- so concurrent batches never wait on each other; PruneAnalyticsChanges deletes old
-- ones and raises pruned_below, below which a cached snapshot can no longer be checked.
CREATE TABLE analytics_changes (
    workspace_id uuid        NOT NULL, -- the nil uuid: every workspace (a dropped partition)
    xid          bigint      NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    first_at     timestamptz NOT NULL, -- the earliest log time touched
    last_at      timestamptz NOT NULL, -- the latest log time touched (inclusive)
    at           timestamptz NOT NULL DEFAULT now()
);
--bun:split
CREATE INDEX analytics_changes_xid_idx ON analytics_changes (workspace_id, xid) INCLUDE (first_at, last_at);
--bun:split
CREATE INDEX analytics_changes_at_idx ON analytics_changes (at);
--bun:split
-- At most one row, written by the first prune that deletes something (none: nothing pruned yet).
CREATE TABLE analytics_changes_pruned (
    one          boolean PRIMARY KEY DEFAULT true CHECK (one),
    pruned_below bigint  NOT NULL -- every change row with a lower xid may be gone
);
