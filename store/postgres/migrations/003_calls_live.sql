-- The calls in progress: what /metrics counts at every scrape (CountLive).
-- Ended calls, the many, are not in it.
CREATE INDEX calls_live ON calls (status) WHERE status = 'in-progress';
