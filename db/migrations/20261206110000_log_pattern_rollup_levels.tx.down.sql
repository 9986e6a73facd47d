DELETE FROM log_pattern_rollups WHERE width = 60;
--bun:split
DROP INDEX log_pattern_rollups_idx;
--bun:split
CREATE INDEX log_pattern_rollups_slot_idx ON log_pattern_rollups (workspace_id, kind, slot);
--bun:split
ALTER TABLE log_pattern_rollups DROP COLUMN width;
