-- Per-workspace overrides of the server's rate limits and quotas, set with
-- `loggraph workspace limits SLUG`. NULL: the server's default; 0: no limit; a
-- positive value replaces the default. Servers reread the table periodically, so it
-- holds only the workspaces with an override (a row with every column NULL is deleted).
CREATE TABLE workspace_limits (
    workspace_id            uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    requests_per_second     bigint CHECK (requests_per_second >= 0),
    ingest_rows_per_second  bigint CHECK (ingest_rows_per_second >= 0),
    ingest_bytes_per_second bigint CHECK (ingest_bytes_per_second >= 0),
    ingest_concurrent_bytes bigint CHECK (ingest_concurrent_bytes >= 0),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
