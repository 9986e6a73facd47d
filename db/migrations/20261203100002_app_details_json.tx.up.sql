-- App log details are kept as the client sent them (json, not jsonb): jsonb sorts an
-- object's keys (by length, then bytes) and drops repeated keys, so seed 002's
-- {"user_id":12345,"ip_address":"192.168.1.100"} came back with ip_address first.
-- The ingest validation already refuses what jsonb cannot hold (\u0000, numbers out of
-- numeric's range), so every stored value still casts to jsonb: the details filter
-- compares details::jsonb (there is no index on details, before or after). The rows
-- stored before this migration keep jsonb's order: their original text is gone.
ALTER TABLE app_logs ALTER COLUMN details TYPE json USING details::json;
