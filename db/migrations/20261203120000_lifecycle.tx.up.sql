-- Data lifecycle: retention per log kind and the deletion of workspaces.
--
-- retention_defaults holds the server-wide retention of a kind, in days; a kind
-- without a row is kept forever. The table starts empty: upgrading deletes nothing
-- until an operator sets a retention (`loggraph retention set`).
CREATE TABLE retention_defaults (
    kind       text PRIMARY KEY CHECK (kind IN ('APP', 'API_REQUEST', 'INTEGRATION', 'ACTION', 'API_REFERENCE')),
    days       integer NOT NULL CHECK (days BETWEEN 1 AND 36500),
    updated_at timestamptz NOT NULL DEFAULT now()
);
--bun:split
-- A workspace's override of a kind's default, shorter or longer; days NULL keeps the
-- workspace's logs of that kind forever whatever the default.
CREATE TABLE workspace_retention (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('APP', 'API_REQUEST', 'INTEGRATION', 'ACTION', 'API_REFERENCE')),
    days         integer CHECK (days BETWEEN 1 AND 36500),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, kind)
);
--bun:split
-- Every retention run (by a server's job or `loggraph retention apply`), for the
-- metrics and `loggraph retention show`: the last run of any server.
CREATE TABLE retention_runs (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at         timestamptz NOT NULL,
    finished_at        timestamptz NOT NULL,
    ok                 boolean NOT NULL,
    error              text,
    rows_deleted       bigint NOT NULL,
    partitions_dropped integer NOT NULL,
    bytes_freed        bigint NOT NULL
);
--bun:split
-- A workspace being deleted (`loggraph workspace delete`): its tokens are revoked
-- and its rows go in batches; a rerun continues from here.
ALTER TABLE workspaces ADD COLUMN deleting_since timestamptz;
