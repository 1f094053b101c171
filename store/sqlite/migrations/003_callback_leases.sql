-- A claim's lease is kept apart from the retry schedule, so that leases left
-- by a process that died can be released without losing backoff times.
ALTER TABLE callbacks ADD COLUMN leased_until INTEGER NOT NULL DEFAULT 0;
