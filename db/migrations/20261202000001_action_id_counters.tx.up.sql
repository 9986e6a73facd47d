-- Server-made action log ids come from one counter per workspace instead of the
-- global action_logs_id_seq: a workspace's ids then never depend on another
-- workspace's data (one workspace sending id 2^53 pushed everybody's ids past what
-- JavaScript clients hold exactly, and the gaps revealed other workspaces' volume).
-- next_id is the smallest id not yet used: past every server-made id and every id the
-- workspace sent. Ids stay within 1..2^53-1, so next_id is at most 2^53.
CREATE TABLE action_id_counters (
    workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    next_id      bigint NOT NULL,
    CONSTRAINT action_id_counters_next_id_check CHECK (next_id BETWEEN 1 AND 9007199254740992)
);
--bun:split
INSERT INTO action_id_counters (workspace_id, next_id)
SELECT l.workspace_id, least(max(l.id) + 1, 9007199254740992)
FROM action_logs l JOIN workspaces w ON w.id = l.workspace_id
GROUP BY l.workspace_id;
--bun:split
DROP SEQUENCE action_logs_id_seq;
