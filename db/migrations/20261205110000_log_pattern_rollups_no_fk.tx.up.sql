-- Ingest inserts about one log_pattern_rollups row per slot, severity, source and
-- template of each batch (1,440 for a 5,000-line batch over 12 hours): the foreign
-- key's check per row took 20-30 % of that INSERT (EXPLAIN ANALYZE, issue 13). The
-- batch's log_counts rows keep their key, which already fails a batch whose workspace
-- is gone (and share-locks the workspace row meanwhile), so this one checks nothing
-- more; deleting a workspace deletes its pattern rollups explicitly (as its logs).
ALTER TABLE log_pattern_rollups DROP CONSTRAINT log_pattern_rollups_workspace_fk;
