DROP TABLE IF EXISTS analytics_changes_pruned;
--bun:split
DROP TABLE IF EXISTS analytics_changes;
