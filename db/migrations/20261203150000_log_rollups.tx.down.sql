DROP TABLE IF EXISTS log_rollups;
