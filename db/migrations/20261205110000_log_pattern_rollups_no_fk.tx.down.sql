DELETE FROM log_pattern_rollups p WHERE NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.id = p.workspace_id);
--bun:split
ALTER TABLE log_pattern_rollups ADD CONSTRAINT log_pattern_rollups_workspace_fk
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
