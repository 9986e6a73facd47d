DROP TABLE IF EXISTS workspace_limits;
