-- PruneCalls deletes an ended call's run and timeline and marks it pruned,
-- so that the next prune skips it: the index holds only the ended calls not
-- yet pruned (the retention window), not every call ever made.
ALTER TABLE calls ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX calls_prunable ON calls (end_time) WHERE end_time != 0 AND pruned = 0;
