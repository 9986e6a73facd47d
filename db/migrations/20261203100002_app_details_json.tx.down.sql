ALTER TABLE app_logs ALTER COLUMN details TYPE jsonb USING details::jsonb;
