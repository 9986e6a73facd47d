DROP TABLE IF EXISTS api_reference_logs, action_logs, integration_logs, api_request_logs, app_logs;
--bun:split
DROP SEQUENCE IF EXISTS action_logs_id_seq;
--bun:split
DROP TABLE IF EXISTS team_accounts, api_references, api_clients, api_collections, integration_jobs, integrations, api_tokens, workspaces;
