-- Exact totals without counting millions of rows (the REST shims' envelopes carry
-- totals). Each committed ingest batch inserts its counts per UTC day and per
-- dimension a filter may use; rows are only ever inserted, so concurrent batches never
-- wait on each other's row locks. A total is the sum over the window's whole days
-- plus a count of the rows of its partial first and last days. Integration counts
-- are per integration, not per job: jobs are many and small (a rollup per job would
-- be nearly as big as the table), and a job's few rows are counted through its index.
CREATE TABLE log_counts (
    workspace_id     uuid NOT NULL,
    kind             text NOT NULL,
    day              date NOT NULL,
    level            smallint, -- app: level (1..5); action: Python level
    service          text,     -- app
    integration_id   uuid,     -- integration
    api_reference_id text,     -- api_reference
    n                bigint NOT NULL
);
--bun:split
CREATE INDEX log_counts_day_idx ON log_counts (workspace_id, kind, day);
--bun:split
-- Backfill what is already stored.
INSERT INTO log_counts (workspace_id, kind, day, level, service, n)
SELECT workspace_id, 'APP', ("timestamp" AT TIME ZONE 'UTC')::date, level, service, count(*)
FROM app_logs GROUP BY 1, 3, 4, 5;
--bun:split
INSERT INTO log_counts (workspace_id, kind, day, n)
SELECT workspace_id, 'API_REQUEST', (received_at AT TIME ZONE 'UTC')::date, count(*)
FROM api_request_logs GROUP BY 1, 3;
--bun:split
INSERT INTO log_counts (workspace_id, kind, day, integration_id, n)
SELECT workspace_id, 'INTEGRATION', (created_at AT TIME ZONE 'UTC')::date, integration_id, count(*)
FROM integration_logs GROUP BY 1, 3, 4;
--bun:split
INSERT INTO log_counts (workspace_id, kind, day, level, n)
SELECT workspace_id, 'ACTION', (created_at AT TIME ZONE 'UTC')::date, level, count(*)
FROM action_logs GROUP BY 1, 3, 4;
--bun:split
INSERT INTO log_counts (workspace_id, kind, day, api_reference_id, n)
SELECT workspace_id, 'API_REFERENCE', (modified_at AT TIME ZONE 'UTC')::date, api_reference_id, count(*)
FROM api_reference_logs GROUP BY 1, 3, 4;
