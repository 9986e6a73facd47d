DROP INDEX IF EXISTS app_logs_trace_idx;
DROP INDEX IF EXISTS api_request_logs_trace_idx;
ALTER TABLE app_logs DROP COLUMN IF EXISTS trace_id, DROP COLUMN IF EXISTS span_id;
ALTER TABLE api_request_logs DROP COLUMN IF EXISTS trace_id, DROP COLUMN IF EXISTS span_id;
