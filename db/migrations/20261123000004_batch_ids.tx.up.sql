-- The live tail fetches exactly the rows of each committed batch: every ingest batch
-- gets a random id, stored on its rows and sent in its NOTIFY. Lookups bound by the
-- batch's time range (in the notice) use the list index, so batch_id needs no index
-- of its own. Nullable and without a default: adding it rewrites nothing.
ALTER TABLE app_logs ADD COLUMN batch_id bigint;
--bun:split
ALTER TABLE api_request_logs ADD COLUMN batch_id bigint;
--bun:split
ALTER TABLE integration_logs ADD COLUMN batch_id bigint;
--bun:split
ALTER TABLE action_logs ADD COLUMN batch_id bigint;
--bun:split
ALTER TABLE api_reference_logs ADD COLUMN batch_id bigint;
