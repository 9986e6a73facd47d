-- Smaller log indexes, measured with `loggraph bench storage` (BENCHMARKS.md, Storage).
--
-- The list indexes ascending. Logs arrive roughly in time order; in an index on
-- (time DESC) each new row goes to the leftmost leaf, which splits 50/50, so the list
-- indexes stayed half full: 105 bytes per row, against 60 ascending, where new rows go
-- to the rightmost leaf (split 90/10). A B-tree reads backwards as fast as forwards:
-- newest-first pages (ORDER BY time DESC, id DESC) and oldest-first ones (last/before)
-- use them as before (the plan tests check it). The per-parent indexes stay as they
-- are: their new rows land inside the index, where the direction changes nothing.
--
-- The trigram indexes with a 1 MB pending list (default 4 MB): merging a large
-- pending list into the GIN leaves it a third larger. Inserting 62,494 app messages in
-- 5,000-row batches: 4 MB 207 B/row and 6.4 s, 1 MB 156 B/row and 4.4 s, no pending
-- list (fastupdate off) 142 B/row and 20.9 s. New partitions inherit the setting.
--
-- Rebuilding rewrites these indexes and locks the log tables while it runs: on a
-- large database, migrate in a quiet hour.
DROP INDEX app_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX app_logs_list_idx ON app_logs (workspace_id, "timestamp", id);
--bun:split
DROP INDEX api_request_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX api_request_logs_list_idx ON api_request_logs (workspace_id, received_at, id);
--bun:split
DROP INDEX integration_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX integration_logs_list_idx ON integration_logs (workspace_id, created_at, id);
--bun:split
DROP INDEX action_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX action_logs_list_idx ON action_logs (workspace_id, created_at, id);
--bun:split
DROP INDEX api_reference_logs_list_idx;
--bun:split
CREATE UNIQUE INDEX api_reference_logs_list_idx ON api_reference_logs (workspace_id, modified_at, id);
--bun:split
DROP INDEX app_logs_message_trgm_idx;
--bun:split
CREATE INDEX app_logs_message_trgm_idx ON app_logs USING gin (workspace_id, message gin_trgm_ops) WITH (gin_pending_list_limit = 1024);
--bun:split
DROP INDEX action_logs_message_trgm_idx;
--bun:split
CREATE INDEX action_logs_message_trgm_idx ON action_logs USING gin (workspace_id, message gin_trgm_ops) WITH (gin_pending_list_limit = 1024);
