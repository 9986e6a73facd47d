-- Deliveries stored without a job are answered by the Elastic Path shim (seed 001) as
-- one-delivery jobs, listed by GET /integrations/{id}/jobs next to the stored jobs.
-- This partial index keeps an integration's jobless deliveries one index range, so the
-- listing never scans the integration's other deliveries.
CREATE INDEX integration_logs_no_job_idx ON integration_logs (workspace_id, integration_id, created_at DESC, id DESC)
    WHERE job_id IS NULL;
