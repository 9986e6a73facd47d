DROP INDEX IF EXISTS integration_logs_no_job_idx;
