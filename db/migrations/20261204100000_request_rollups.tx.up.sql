-- apiRequestStats over long windows without reading every row: each committed ingest
-- batch inserts, in its transaction (the same statement as log_counts and
-- log_rollups), its API requests' summaries per 15-minute UTC slot in total
-- (grouping 31) and per one dimension: collection (15), client (23), endpoint (27),
-- code (29), gateway code (30) -- grouping is PostgreSQL's GROUPING() of
-- (collection_id, client_id, endpoint, code, gateway_code), the columns not grouped
-- being NULL. A client or gateway code that is absent is -1 (as apiRequestStats
-- keys them). Timing and delay are kept as sparse log-scale histograms: parallel
-- arrays of bucket numbers (RequestBucket in db/request_rollups.go: exact below 256
-- ms, then 128 buckets per power of two, each under 1/128 of its lower bound wide)
-- and their counts, so percentiles over any window merge the buckets. Deletions
-- insert negative rows (timing_max NULL); CompactCounts merges them away.
CREATE TABLE request_rollups (
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    slot          timestamptz NOT NULL,
    grouping      smallint    NOT NULL,
    collection_id bigint,
    client_id     bigint,
    endpoint      text,
    code          smallint,
    gateway_code  integer,
    n             bigint      NOT NULL,
    errors        bigint      NOT NULL, -- code >= 400
    timing_sum    bigint      NOT NULL,
    timing_max    integer,              -- an upper bound once rows were deleted
    delay_sum     bigint      NOT NULL,
    timing_b      smallint[]  NOT NULL,
    timing_n      integer[]   NOT NULL,
    delay_b       smallint[]  NOT NULL,
    delay_n       integer[]   NOT NULL
);
--bun:split
CREATE INDEX request_rollups_idx ON request_rollups (workspace_id, grouping, slot);
--bun:split
-- Backfill what is already stored (the same statement as requestRollupsSQL).
INSERT INTO request_rollups (workspace_id, slot, grouping, collection_id, client_id, endpoint, code, gateway_code,
    n, errors, timing_sum, timing_max, delay_sum, timing_b, timing_n, delay_b, delay_n)
SELECT workspace_id, slot, g, collection_id, client_id, endpoint, code, gateway_code,
    sum(c) FILTER (WHERE m = 0), sum(e) FILTER (WHERE m = 0), sum(s) FILTER (WHERE m = 0), max(mx) FILTER (WHERE m = 0),
    sum(s) FILTER (WHERE m = 1),
    array_agg(b ORDER BY b) FILTER (WHERE m = 0), array_agg(c ORDER BY b) FILTER (WHERE m = 0),
    array_agg(b ORDER BY b) FILTER (WHERE m = 1), array_agg(c ORDER BY b) FILTER (WHERE m = 1)
FROM (
    SELECT workspace_id, slot, GROUPING(collection_id, client_id, endpoint, code, gateway_code) AS g,
        collection_id, client_id, endpoint, code, gateway_code, m, b,
        count(*) AS c, count(*) FILTER (WHERE code >= 400) AS e, sum(v) AS s, max(v) AS mx
    FROM (
        SELECT t.workspace_id, date_bin('15 minutes', t.received_at, 'epoch') AS slot, t.collection_id,
            coalesce(t.client_id, -1) AS client_id, t.endpoint, t.code, coalesce(t.gateway_code, -1) AS gateway_code,
            v.m, v.v, (width_bucket(v.v, ARRAY[256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144,
                524288, 1048576, 2097152, 4194304, 8388608, 16777216, 33554432, 67108864, 134217728, 268435456,
                536870912, 1073741824]) * 128 + (v.v >> width_bucket(v.v, ARRAY[256, 512, 1024, 2048, 4096, 8192,
                16384, 32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216, 33554432,
                67108864, 134217728, 268435456, 536870912, 1073741824])))::int2 AS b
        FROM api_request_logs AS t CROSS JOIN LATERAL (VALUES (0, t.timing_ms), (1, t.delay_ms)) AS v(m, v)
    ) AS x
    GROUP BY workspace_id, slot, m, b, GROUPING SETS ((), (collection_id), (client_id), (endpoint), (code), (gateway_code))
) AS y
GROUP BY workspace_id, slot, g, collection_id, client_id, endpoint, code, gateway_code;
