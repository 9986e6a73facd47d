-- loggraph schema, version 1.
-- Every key and index leads with workspace_id, so that no query crosses workspaces and
-- the tables can later be distributed by it. Log tables are range-partitioned by their
-- time column (daily); the server creates the partitions (db/partitions.go).

CREATE EXTENSION IF NOT EXISTS pg_trgm;
--bun:split
-- btree_gin lets the trigram indexes lead with workspace_id.
CREATE EXTENSION IF NOT EXISTS btree_gin;
--bun:split

CREATE TABLE workspaces (
    id         uuid PRIMARY KEY,
    slug       text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
--bun:split
CREATE UNIQUE INDEX workspaces_slug_key ON workspaces (slug);
--bun:split

-- Tokens are looked up by (workspace_id, token_hash): the token text carries its
-- workspace id, so even this lookup never crosses workspaces.
CREATE TABLE api_tokens (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('read', 'ingest', 'admin')),
    token_hash   bytea NOT NULL,
    token_hint   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (workspace_id, id)
);
--bun:split
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (workspace_id, token_hash);
--bun:split

CREATE TABLE integrations (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           uuid NOT NULL,
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id)
);
--bun:split
CREATE TABLE integration_jobs (
    workspace_id   uuid NOT NULL,
    id             uuid NOT NULL,
    integration_id uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, integration_id) REFERENCES integrations (workspace_id, id) ON DELETE CASCADE
);
--bun:split
CREATE INDEX integration_jobs_integration_idx ON integration_jobs (workspace_id, integration_id, created_at DESC, id DESC);
--bun:split
CREATE TABLE api_collections (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    name         text NOT NULL,
    type         text NOT NULL CHECK (type IN ('recipe', 'proxy')),
    PRIMARY KEY (workspace_id, id)
);
--bun:split
CREATE UNIQUE INDEX api_collections_name_key ON api_collections (workspace_id, name);
--bun:split
CREATE TABLE api_clients (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    name         text NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
--bun:split
CREATE UNIQUE INDEX api_clients_name_key ON api_clients (workspace_id, name);
--bun:split
CREATE TABLE api_references (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           text NOT NULL,
    name         text,
    PRIMARY KEY (workspace_id, id)
);
--bun:split
CREATE TABLE team_accounts (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           text NOT NULL,
    name         text NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
--bun:split

-- Log tables. They carry no foreign keys: the entities a batch refers to are upserted
-- in the batch's own transaction, and per-row FK triggers would halve COPY throughput.
-- The unique list index (workspace_id, time DESC, id DESC) serves newest-first keyset
-- paging and makes a retried record (same id, same time) a detectable duplicate.
-- severity is the common Log severity, stored so that filters and the cross-kind
-- union need no per-kind CASE.

CREATE TABLE app_logs (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL,
    "timestamp"  timestamptz NOT NULL,
    level        smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
    service      text NOT NULL,
    message      text NOT NULL,
    details      jsonb
) PARTITION BY RANGE ("timestamp");
--bun:split
CREATE UNIQUE INDEX app_logs_list_idx ON app_logs (workspace_id, "timestamp" DESC, id DESC);
--bun:split
CREATE INDEX app_logs_id_idx ON app_logs (workspace_id, id);
--bun:split
CREATE INDEX app_logs_message_trgm_idx ON app_logs USING gin (workspace_id, message gin_trgm_ops);
--bun:split

CREATE TABLE api_request_logs (
    workspace_id   uuid NOT NULL,
    id             uuid NOT NULL,
    received_at    timestamptz NOT NULL,
    code           smallint NOT NULL CHECK (code BETWEEN 100 AND 599),
    gateway_code   integer CHECK (gateway_code >= 0),
    status_details text,
    ip             inet NOT NULL,
    timing_ms      integer NOT NULL CHECK (timing_ms >= 0),
    delay_ms       integer NOT NULL CHECK (delay_ms >= 0),
    collection_id  bigint NOT NULL,
    client_id      bigint,
    endpoint       text NOT NULL,
    job_url        text,
    severity       smallint NOT NULL GENERATED ALWAYS AS (
        CASE WHEN code >= 500 THEN 4 WHEN code >= 400 THEN 3 ELSE 2 END) STORED
) PARTITION BY RANGE (received_at);
--bun:split
CREATE UNIQUE INDEX api_request_logs_list_idx ON api_request_logs (workspace_id, received_at DESC, id DESC);
--bun:split
CREATE INDEX api_request_logs_id_idx ON api_request_logs (workspace_id, id);
--bun:split

CREATE TABLE integration_logs (
    workspace_id   uuid NOT NULL,
    id             uuid NOT NULL,
    created_at     timestamptz NOT NULL,
    integration_id uuid NOT NULL,
    job_id         uuid,
    succeeded      boolean NOT NULL,
    attempt        integer NOT NULL CHECK (attempt >= 1),
    body           text,
    status_code    smallint NOT NULL CHECK (status_code BETWEEN 0 AND 599),
    error_detail   text,
    severity       smallint NOT NULL GENERATED ALWAYS AS (CASE WHEN succeeded THEN 2 ELSE 4 END) STORED
) PARTITION BY RANGE (created_at);
--bun:split
CREATE UNIQUE INDEX integration_logs_list_idx ON integration_logs (workspace_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX integration_logs_id_idx ON integration_logs (workspace_id, id);
--bun:split

-- Action log ids are integers (seed 004) from one sequence; client-sent ids are kept
-- and the sequence is moved past them.
CREATE SEQUENCE action_logs_id_seq AS bigint;
--bun:split
CREATE TABLE action_logs (
    workspace_id uuid NOT NULL,
    id           bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    level        smallint NOT NULL CHECK (level BETWEEN 0 AND 50),
    logger_name  text NOT NULL,
    message      text NOT NULL,
    app_name     text NOT NULL,
    trace        text,
    severity     smallint NOT NULL GENERATED ALWAYS AS (
        CASE WHEN level < 20 THEN 1 WHEN level < 30 THEN 2 WHEN level < 40 THEN 3 WHEN level < 50 THEN 4 ELSE 5 END) STORED
) PARTITION BY RANGE (created_at);
--bun:split
CREATE UNIQUE INDEX action_logs_list_idx ON action_logs (workspace_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX action_logs_id_idx ON action_logs (workspace_id, id);
--bun:split
CREATE INDEX action_logs_message_trgm_idx ON action_logs USING gin (workspace_id, message gin_trgm_ops);
--bun:split

CREATE TABLE api_reference_logs (
    workspace_id     uuid NOT NULL,
    id               text NOT NULL,
    modified_at      timestamptz NOT NULL,
    api_reference_id text NOT NULL,
    user_id          text NOT NULL,
    title            text NOT NULL,
    error_count      integer NOT NULL CHECK (error_count >= 0),
    alerts_count     integer NOT NULL CHECK (alerts_count >= 0),
    errors           jsonb NOT NULL DEFAULT '[]',
    alerts           jsonb NOT NULL DEFAULT '[]',
    severity         smallint NOT NULL GENERATED ALWAYS AS (
        CASE WHEN error_count > 0 THEN 4 WHEN alerts_count > 0 THEN 3 ELSE 2 END) STORED
) PARTITION BY RANGE (modified_at);
--bun:split
CREATE UNIQUE INDEX api_reference_logs_list_idx ON api_reference_logs (workspace_id, modified_at DESC, id DESC);
--bun:split
CREATE INDEX api_reference_logs_id_idx ON api_reference_logs (workspace_id, id);
