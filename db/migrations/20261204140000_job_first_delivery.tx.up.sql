-- A job's created_at is its earliest delivery's: ingest now lowers it when an older
-- delivery of the job arrives (it kept the first batch's before), so that a job's
-- logs never precede it and its nested pages prune the partitions before it. Jobs
-- stored before whose deliveries arrived out of order are corrected here.
UPDATE integration_jobs AS j SET created_at = m.first
FROM (SELECT workspace_id, job_id, min(created_at) AS first
      FROM integration_logs WHERE job_id IS NOT NULL GROUP BY workspace_id, job_id) AS m
WHERE j.workspace_id = m.workspace_id AND j.id = m.job_id AND m.first < j.created_at;
