-- Heap bytes per row by column order, on the rows ingest.sh staged (stage_app, stage_action):
-- as seeded (batch_id NULL), with a batch_id per 5,000 rows as the ingest sets it, and with
-- the fixed-width columns moved before the text ones; app rows also with a trace and span id.
-- Usage: psql -d loggraph_storage_x -f bench/storage/heap.sql
\set ON_ERROR_STOP 1
DROP TABLE IF EXISTS h_app_seed, h_app_cur, h_app_re, h_app_cur_tr, h_app_re_tr, h_act_seed, h_act_cur, h_act_re;
CREATE TABLE h_app_seed AS SELECT workspace_id, id, "timestamp", level, service, message, details, batch_id, trace_id, span_id FROM stage_app ORDER BY rn;
CREATE TABLE h_app_cur AS SELECT workspace_id, id, "timestamp", level, service, message, details,
  (hashtextextended((rn/5000)::text, 0) & 9223372036854775807) AS batch_id, trace_id, span_id FROM stage_app ORDER BY rn;
CREATE TABLE h_app_re AS SELECT workspace_id, id, "timestamp", (hashtextextended((rn/5000)::text, 0) & 9223372036854775807) AS batch_id,
  span_id, trace_id, level, service, message, details FROM stage_app ORDER BY rn;
CREATE TABLE h_app_cur_tr AS SELECT workspace_id, id, "timestamp", level, service, message, details,
  (hashtextextended((rn/5000)::text, 0) & 9223372036854775807) AS batch_id, md5(id::text)::uuid AS trace_id, rn AS span_id FROM stage_app ORDER BY rn;
CREATE TABLE h_app_re_tr AS SELECT workspace_id, id, "timestamp", (hashtextextended((rn/5000)::text, 0) & 9223372036854775807) AS batch_id,
  rn AS span_id, md5(id::text)::uuid AS trace_id, level, service, message, details FROM stage_app ORDER BY rn;
CREATE TABLE h_act_seed AS SELECT workspace_id, id, created_at, level, logger_name, message, app_name, trace, severity, batch_id FROM stage_action ORDER BY rn;
CREATE TABLE h_act_cur AS SELECT workspace_id, id, created_at, level, logger_name, message, app_name, trace, severity,
  (hashtextextended((rn/5000)::text, 0) & 9223372036854775807) AS batch_id FROM stage_action ORDER BY rn;
CREATE TABLE h_act_re AS SELECT workspace_id, id, created_at, (hashtextextended((rn/5000)::text, 0) & 9223372036854775807) AS batch_id,
  level, severity, logger_name, message, app_name, trace FROM stage_action ORDER BY rn;
VACUUM h_app_seed, h_app_cur, h_app_re, h_app_cur_tr, h_app_re_tr, h_act_seed, h_act_cur, h_act_re;
SELECT c.relname, round(pg_table_size(c.oid)::numeric / c.reltuples::numeric, 1) AS b_per_row,
  round(pg_relation_size(c.oid)::numeric / c.reltuples::numeric, 1) AS main_fork
FROM pg_class c WHERE relname LIKE 'h\_a%' ORDER BY 1;
