-- Analytics over long windows without reading every row: each committed ingest batch
-- inserts its counts per 15-minute UTC slot and common severity, in total (source
-- NULL) and per source, in the batch's transaction (as log_counts), so a histogram or
-- a facet of sources sums the window's whole slots and reads raw rows only for its
-- partial first and last slots. A histogram reads the totals: at most 5 severities
-- per kind and slot, however many logs and sources. 15 minutes because every time
-- zone offset in use is a multiple of it: a slot falls in one wall-clock bucket of
-- any zone. Rows are only ever inserted (and merged by CompactCounts), so concurrent
-- batches never wait on each other.
CREATE TABLE log_rollups (
    workspace_id uuid        NOT NULL,
    kind         text        NOT NULL,
    slot         timestamptz NOT NULL, -- start of the 15-minute UTC slot
    severity     smallint    NOT NULL, -- the common Log severity (1..5)
    source       text,                 -- the kind's source column, as text; NULL: every source
    n            bigint      NOT NULL
);
--bun:split
CREATE INDEX log_rollups_total_idx ON log_rollups (workspace_id, kind, slot) INCLUDE (severity, n) WHERE source IS NULL;
--bun:split
CREATE INDEX log_rollups_source_idx ON log_rollups (workspace_id, kind, slot) INCLUDE (severity, source, n) WHERE source IS NOT NULL;
--bun:split
-- Backfill what is already stored.
INSERT INTO log_rollups (workspace_id, kind, slot, severity, source, n)
SELECT workspace_id, 'APP', date_bin('15 minutes', "timestamp", 'epoch'), level, service, count(*)
FROM app_logs GROUP BY GROUPING SETS ((1, 3, 4, 5), (1, 3, 4));
--bun:split
INSERT INTO log_rollups (workspace_id, kind, slot, severity, source, n)
SELECT workspace_id, 'API_REQUEST', date_bin('15 minutes', received_at, 'epoch'), severity, collection_id::text, count(*)
FROM api_request_logs GROUP BY GROUPING SETS ((1, 3, 4, 5), (1, 3, 4));
--bun:split
INSERT INTO log_rollups (workspace_id, kind, slot, severity, source, n)
SELECT workspace_id, 'INTEGRATION', date_bin('15 minutes', created_at, 'epoch'), severity, integration_id::text, count(*)
FROM integration_logs GROUP BY GROUPING SETS ((1, 3, 4, 5), (1, 3, 4));
--bun:split
INSERT INTO log_rollups (workspace_id, kind, slot, severity, source, n)
SELECT workspace_id, 'ACTION', date_bin('15 minutes', created_at, 'epoch'), severity, logger_name, count(*)
FROM action_logs GROUP BY GROUPING SETS ((1, 3, 4, 5), (1, 3, 4));
--bun:split
INSERT INTO log_rollups (workspace_id, kind, slot, severity, source, n)
SELECT workspace_id, 'API_REFERENCE', date_bin('15 minutes', modified_at, 'epoch'), severity, api_reference_id, count(*)
FROM api_reference_logs GROUP BY GROUPING SETS ((1, 3, 4, 5), (1, 3, 4));
