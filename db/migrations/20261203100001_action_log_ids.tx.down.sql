DROP TABLE IF EXISTS action_log_ids;
