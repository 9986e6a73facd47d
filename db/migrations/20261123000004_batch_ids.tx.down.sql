ALTER TABLE app_logs DROP COLUMN IF EXISTS batch_id;
--bun:split
ALTER TABLE api_request_logs DROP COLUMN IF EXISTS batch_id;
--bun:split
ALTER TABLE integration_logs DROP COLUMN IF EXISTS batch_id;
--bun:split
ALTER TABLE action_logs DROP COLUMN IF EXISTS batch_id;
--bun:split
ALTER TABLE api_reference_logs DROP COLUMN IF EXISTS batch_id;
