ALTER TABLE log_rollups DROP CONSTRAINT IF EXISTS log_rollups_workspace_fk;
--bun:split
ALTER TABLE log_counts DROP CONSTRAINT IF EXISTS log_counts_workspace_fk;
