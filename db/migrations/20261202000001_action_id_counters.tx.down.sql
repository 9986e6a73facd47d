CREATE SEQUENCE action_logs_id_seq AS bigint;
--bun:split
SELECT setval('action_logs_id_seq', greatest((SELECT max(id) FROM action_logs), (SELECT max(next_id) - 1 FROM action_id_counters), 1));
--bun:split
DROP TABLE action_id_counters;
