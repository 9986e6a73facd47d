-- Counts and rollups belong to a workspace. The key also fences a workspace
-- deletion against an ingest in flight: each batch inserts its counts in its own
-- transaction, so the key check share-locks the workspace row until the batch
-- commits; the deletion's final DELETE of that row waits for it (and then sweeps the
-- rows it stored), and a batch arriving after it fails the key and stores nothing.
ALTER TABLE log_counts ADD CONSTRAINT log_counts_workspace_fk
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
--bun:split
ALTER TABLE log_rollups ADD CONSTRAINT log_rollups_workspace_fk
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
