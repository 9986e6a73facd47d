-- An action log id names one log of its workspace (seed 004: "the primary key of the
-- action log"; its detail route takes the id alone). action_logs is partitioned by
-- created_at, so no unique index on (workspace_id, id) can exist there; this table is
-- that key. Ingest adds every stored id in the batch's transaction and refuses a
-- record whose id is already stored with another created_at (the same id and time is
-- a retry, skipped as a duplicate). Rows are never deleted: like the server's id
-- counter, an id once used is never used for another log.
CREATE TABLE action_log_ids (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           bigint NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
--bun:split
-- Ids stored twice before this migration stay as they are (the list shows both rows).
INSERT INTO action_log_ids (workspace_id, id)
SELECT DISTINCT l.workspace_id, l.id FROM action_logs l JOIN workspaces w ON w.id = l.workspace_id;
