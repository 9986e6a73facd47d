-- The 15-minute rows (compacted and pending) are the table's old form.
DELETE FROM request_rollups WHERE width IN (60, 1440);
--bun:split
DROP INDEX request_rollups_pending_idx;
--bun:split
DROP INDEX request_rollups_idx;
--bun:split
ALTER TABLE request_rollups DROP COLUMN width;
--bun:split
CREATE INDEX request_rollups_idx ON request_rollups (workspace_id, grouping, slot);
