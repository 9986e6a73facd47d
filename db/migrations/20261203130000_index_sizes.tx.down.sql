-- Back to the indexes of 20261123000001: descending list indexes, trigram indexes
-- with the default pending list.
DROP INDEX app_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX app_logs_list_idx ON app_logs (workspace_id, "timestamp" DESC, id DESC);
--bun:split
DROP INDEX api_request_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX api_request_logs_list_idx ON api_request_logs (workspace_id, received_at DESC, id DESC);
--bun:split
DROP INDEX integration_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX integration_logs_list_idx ON integration_logs (workspace_id, created_at DESC, id DESC);
--bun:split
DROP INDEX action_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX action_logs_list_idx ON action_logs (workspace_id, created_at DESC, id DESC);
--bun:split
DROP INDEX api_reference_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX api_reference_logs_list_idx ON api_reference_logs (workspace_id, modified_at DESC, id DESC);
--bun:split
DROP INDEX app_logs_message_trgm_idx;
--bun:split
CREATE INDEX app_logs_message_trgm_idx ON app_logs USING gin (workspace_id, message gin_trgm_ops);
--bun:split
DROP INDEX action_logs_message_trgm_idx;
--bun:split
CREATE INDEX action_logs_message_trgm_idx ON action_logs USING gin (workspace_id, message gin_trgm_ops);
