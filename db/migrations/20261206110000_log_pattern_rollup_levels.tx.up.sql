-- log_pattern_rollups at two compacted levels (issue 13: the 24 h logPatterns read
-- 40,400 slot rows at 10M rows, 54-88 ms p95 against a 50 ms target): width is the
-- minutes a row covers: 0 for the pending 15-minute slot rows that deletions,
-- retention and rebuilds write; 15 (the slot) and 60 (its UTC hour) for compacted
-- rows, one per key. The compaction (db.compactPatterns: serve every 5 minutes for
-- closed slots, CompactCounts, after deletions) moves pending rows and the batches'
-- packed rows, in one statement, into both levels, merged with the compacted rows of
-- the slots and hours they touch. A query reads the hour rows of its whole hours, the
-- slot rows of its other whole slots, and every pending row and packed batch row of
-- its whole slots. The rows stored so far are compacted here.
ALTER TABLE log_pattern_rollups ADD COLUMN width smallint NOT NULL DEFAULT 0 CHECK (width IN (0, 15, 60));
--bun:split
DROP INDEX log_pattern_rollups_slot_idx;
--bun:split
INSERT INTO log_pattern_rollups (workspace_id, kind, width, slot, severity, source, pattern, n, first_seen, last_seen, sample)
SELECT p.workspace_id, p.kind, l.w, date_bin(make_interval(mins => l.w), p.slot, 'epoch'), p.severity, p.source, p.pattern,
    sum(p.n), min(p.first_seen), max(p.last_seen), min(p.sample COLLATE "C")
FROM log_pattern_rollups AS p CROSS JOIN (VALUES (15::int2), (60::int2)) AS l(w)
GROUP BY 1, 2, 3, 4, 5, 6, 7;
--bun:split
DELETE FROM log_pattern_rollups WHERE width = 0;
--bun:split
CREATE INDEX log_pattern_rollups_idx ON log_pattern_rollups (workspace_id, kind, width, slot);
