DROP TABLE log_pattern_rollups;
