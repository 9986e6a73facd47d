-- Nothing to undo: the earliest delivery's time is a correct created_at for the code
-- before this migration too.
SELECT 1;
