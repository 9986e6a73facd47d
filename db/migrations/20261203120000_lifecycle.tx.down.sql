ALTER TABLE workspaces DROP COLUMN deleting_since;
--bun:split
DROP TABLE retention_runs;
--bun:split
DROP TABLE workspace_retention;
--bun:split
DROP TABLE retention_defaults;
