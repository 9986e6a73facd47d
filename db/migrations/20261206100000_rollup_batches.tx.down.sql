-- Unpack what ingest packed into the tables' own rows (pending ones for request_rollups).
INSERT INTO request_rollups (workspace_id, slot, grouping, collection_id, client_id, endpoint, code, gateway_code,
    n, errors, timing_sum, timing_max, delay_sum, timing_b, timing_n, delay_b, delay_n, width)
SELECT b.workspace_id, u.slot, b.grouping, u.collection_id, u.client_id, u.endpoint, u.code, u.gateway_code,
    u.n, u.errors, u.timing_sum, u.timing_max, u.delay_sum, u.timing_b::int2[], u.timing_n::int4[], u.delay_b::int2[], u.delay_n::int4[], 0
FROM request_rollup_batches AS b CROSS JOIN LATERAL unnest(b.slots, b.collection_id, b.client_id, b.endpoint, b.code, b.gateway_code,
    b.n, b.errors, b.timing_sum, b.timing_max, b.delay_sum, b.timing_b, b.timing_n, b.delay_b, b.delay_n)
    AS u(slot, collection_id, client_id, endpoint, code, gateway_code, n, errors, timing_sum, timing_max, delay_sum, timing_b, timing_n, delay_b, delay_n);
--bun:split
INSERT INTO log_pattern_rollups (workspace_id, kind, slot, severity, source, pattern, n, first_seen, last_seen, sample)
SELECT b.workspace_id, b.kind, u.slot, u.severity, u.source, u.pattern, u.n, u.first_seen, u.last_seen, u.sample
FROM log_pattern_rollup_batches AS b CROSS JOIN LATERAL unnest(b.slots, b.severity, b.source, b.pattern, b.n, b.first_seen, b.last_seen, b.sample)
    AS u(slot, severity, source, pattern, n, first_seen, last_seen, sample);
--bun:split
DROP TABLE request_rollup_batches;
--bun:split
DROP TABLE log_pattern_rollup_batches;
