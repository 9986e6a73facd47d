-- Trace correlation: the W3C/OpenTelemetry trace and span ids of application logs and
-- API gateway request logs. A trace id is 16 bytes and is kept in a uuid column (same
-- size, fixed width, indexable); a span id is 8 bytes, kept in a bigint. Adding
-- nullable columns without a default rewrites no row.
ALTER TABLE app_logs ADD COLUMN trace_id uuid, ADD COLUMN span_id bigint;
ALTER TABLE api_request_logs ADD COLUMN trace_id uuid, ADD COLUMN span_id bigint;

-- Filtering by trace (traceIds) reads only the logs that carry one.
CREATE INDEX app_logs_trace_idx ON app_logs (workspace_id, trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX api_request_logs_trace_idx ON api_request_logs (workspace_id, trace_id) WHERE trace_id IS NOT NULL;
