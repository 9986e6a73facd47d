-- List indexes per parent, for the lists filtered by one parent: an integration's or a
-- job's deliveries (REST 001, GraphQL integration.logs / integrationJob.logs), an API
-- reference's imports (REST 000, apiReference.logs), a collection's or a client's
-- requests (apiCollection.requestLogs, apiClient.requestLogs). Without them a parent
-- with few rows in a busy workspace scans the workspace's list index: EXPLAIN ANALYZE
-- of one job's logs among 150,000 deliveries read ~100,000 rows in 38 ms.
CREATE INDEX integration_logs_integration_idx ON integration_logs (workspace_id, integration_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX integration_logs_job_idx ON integration_logs (workspace_id, job_id, created_at DESC, id DESC);
--bun:split
CREATE INDEX api_reference_logs_reference_idx ON api_reference_logs (workspace_id, api_reference_id, modified_at DESC, id DESC);
--bun:split
CREATE INDEX api_request_logs_collection_idx ON api_request_logs (workspace_id, collection_id, received_at DESC, id DESC);
--bun:split
CREATE INDEX api_request_logs_client_idx ON api_request_logs (workspace_id, client_id, received_at DESC, id DESC);
